# Kubernetes manifests (and rendered Helm charts): K8S001..K8S011.
# Input: one manifest document (conftest shape); K8S005 reads the change input (`charts`).
package main

import rego.v1

k8s_template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

k8s_long_running := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Pod"}

k8s_spec_path := ["spec"] if input.kind == "Pod"

k8s_spec_path := ["spec", "template", "spec"] if input.kind in k8s_template_kinds

k8s_spec_path := ["spec", "jobTemplate", "spec", "template", "spec"] if input.kind == "CronJob"

k8s_pod_spec := spec if {
	is_string(input.apiVersion)
	spec := object.get(input, k8s_spec_path, null)
	is_object(spec)
}

k8s_name := n if {
	is_string(input.metadata.name)
	n := sprintf("%s/%s", [input.kind, input.metadata.name])
} else := sprintf("%s/?", [input.kind])

k8s_containers contains [loc, c, field] if {
	some field in ["containers", "initContainers", "ephemeralContainers"]
	cs := object.get(k8s_pod_spec, field, [])
	is_array(cs) # `some i, c in X` is an error in regorus when X is not a collection
	some i, c in cs
	is_object(c)
	loc := array.concat(k8s_spec_path, [field, i])
}

k8s_result(id, sev, msg, recourse, loc) := {"id": id, "severity": sev, "msg": msg, "recourse": recourse, "path": loc}

# The line of a setting when it is written (with the wrong value), else the container's.
k8s_where(loc, c, keys) := array.concat(loc, keys) if {
	object.get(c, keys, null) != null
} else := loc

# Seccomp, capabilities and a read-only root are Linux settings: Windows pods cannot set them
# (Pod Security Standards exempt them too).
k8s_linux if not k8s_pod_spec.os.name == "windows"

# --- K8S001: privileged containers --------------------------------------------------------

deny contains r if {
	some [loc, c, _] in k8s_containers
	c.securityContext.privileged == true
	r := object.union(
		k8s_result(
			"K8S001", "hard",
			sprintf("container `%s` in %s is privileged: it has full access to the node", [c.name, k8s_name]),
			"Remove `securityContext.privileged: true` (or set it to false) and add only the capabilities the container needs under `securityContext.capabilities.add`.",
			array.concat(loc, ["securityContext", "privileged"]),
		),
		{"fix": "drop-privileged"},
	)
}

# --- K8S002: missing resource limits ------------------------------------------------------

warn contains r if {
	some [loc, c, "containers"] in k8s_containers
	some res in ["cpu", "memory"]
	not c.resources.limits[res]
	r := object.union(
		k8s_result(
			"K8S002", "soft",
			sprintf("container `%s` in %s has no %s limit", [c.name, k8s_name, res]),
			"Set `resources.requests` and `resources.limits` for cpu and memory.", loc,
		),
		{"fix": "add-resources"},
	)
}

# --- K8S003: host namespaces and hostPath volumes -----------------------------------------

deny contains r if {
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	k8s_pod_spec[field] == true
	r := k8s_result(
		"K8S003", "hard", sprintf("%s sets `%s: true`: the pod shares the node's namespace", [k8s_name, field]),
		sprintf("Remove `%s` from the pod spec.", [field]), array.concat(k8s_spec_path, [field]),
	)
}

deny contains r if {
	volumes := object.get(k8s_pod_spec, "volumes", [])
	is_array(volumes)
	some i, v in volumes
	v.hostPath
	r := k8s_result(
		"K8S003", "hard", sprintf("%s mounts the node path `%v` (hostPath volume)", [k8s_name, object.get(v.hostPath, "path", "?")]),
		"Use an emptyDir, a ConfigMap/Secret or a PersistentVolumeClaim instead of hostPath.",
		array.concat(k8s_spec_path, ["volumes", i, "hostPath"]),
	)
}

# --- K8S004: privilege escalation allowed, runAsNonRoot unset ------------------------------

deny contains r if {
	some [loc, c, _] in k8s_containers
	not c.securityContext.allowPrivilegeEscalation == false
	r := object.union(
		k8s_result(
			"K8S004", "hard",
			sprintf("container `%s` in %s allows privilege escalation", [c.name, k8s_name]),
			"Set `securityContext.allowPrivilegeEscalation: false` on the container.", loc,
		),
		{"fix": "add-security-context"},
	)
}

k8s_non_root(c) if c.securityContext.runAsNonRoot == true

k8s_non_root(c) if {
	k8s_pod_spec.securityContext.runAsNonRoot == true
	not c.securityContext.runAsNonRoot == false
}

deny contains r if {
	some [loc, c, _] in k8s_containers
	not k8s_non_root(c)
	r := object.union(
		k8s_result(
			"K8S004", "hard",
			sprintf("container `%s` in %s may run as root (`runAsNonRoot` is not set)", [c.name, k8s_name]),
			"Set `securityContext.runAsNonRoot: true` (pod or container) with a non-zero `runAsUser`.", loc,
		),
		{"fix": "add-security-context"},
	)
}

deny contains r if {
	some [loc, c, _] in k8s_containers
	c.securityContext.runAsUser == 0
	r := k8s_result(
		"K8S004", "hard", sprintf("container `%s` in %s runs as uid 0", [c.name, k8s_name]),
		"Use a non-zero `runAsUser` (e.g. 10001).", array.concat(loc, ["securityContext", "runAsUser"]),
	)
}

# --- K8S005: a chart that ships workloads but no NetworkPolicy ----------------------------

warn contains r if {
	input.shipcrew == "change"
	some chart in input.charts
	count(chart.workloads) > 0
	not "NetworkPolicy" in chart.kinds
	r := {
		"id": "K8S005", "severity": "soft",
		"msg": sprintf("chart `%s` ships workloads but no NetworkPolicy: every pod accepts traffic from anywhere", [chart.name]),
		"recourse": "Add a templates/networkpolicy.yaml that allows ingress only from the pods and ports that need it.",
		"path": chart.chart_file, "line": 1,
	}
}

# --- K8S006: image tag latest or none -----------------------------------------------------

k8s_floating(image) if {
	not contains(image, "@")
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	not contains(last, ":")
}

k8s_floating(image) if {
	not contains(image, "@")
	endswith(image, ":latest")
}

deny contains r if {
	some [loc, c, _] in k8s_containers
	k8s_floating(c.image)
	r := k8s_result(
		"K8S006", "hard",
		sprintf("container `%s` in %s uses image `%s` without a version tag (or `latest`)", [c.name, k8s_name, c.image]),
		"Pin the image to a version tag, ideally with its digest: `image: repo:1.2.3@sha256:<digest>`.",
		array.concat(loc, ["image"]),
	)
}

# --- K8S007: missing liveness/readiness probes --------------------------------------------

warn contains r if {
	input.kind in k8s_long_running
	some [loc, c, "containers"] in k8s_containers
	some probe in ["livenessProbe", "readinessProbe"]
	not c[probe]
	r := object.union(
		k8s_result(
			"K8S007", "soft", sprintf("container `%s` in %s has no %s", [c.name, k8s_name, probe]),
			sprintf("Add a `%s` (an httpGet on a health endpoint, or a tcpSocket on the serving port).", [probe]),
			loc,
		),
		{"fix": "add-probes"},
	)
}

# --- K8S008: writable root filesystem -----------------------------------------------------

warn contains r if {
	k8s_linux
	some [loc, c, _] in k8s_containers
	not c.securityContext.readOnlyRootFilesystem == true
	r := object.union(
		k8s_result(
			"K8S008", "soft",
			sprintf("container `%s` in %s has a writable root filesystem", [c.name, k8s_name]),
			"Set `securityContext.readOnlyRootFilesystem: true` and mount an emptyDir where the app writes (e.g. `/tmp`).",
			k8s_where(loc, c, ["securityContext", "readOnlyRootFilesystem"]),
		),
		{"fix": "read-only-root"},
	)
}

# --- K8S009: capabilities not dropped, or added beyond NET_BIND_SERVICE --------------------

k8s_drops_all(c) if {
	drop := c.securityContext.capabilities.drop
	is_array(drop)
	some cap in drop
	is_string(cap)
	upper(cap) == "ALL"
}

warn contains r if {
	k8s_linux
	some [loc, c, _] in k8s_containers
	not k8s_drops_all(c)
	r := object.union(
		k8s_result(
			"K8S009", "soft",
			sprintf("container `%s` in %s keeps the runtime's default capabilities (NET_RAW, CHOWN, SETUID, ...)", [c.name, k8s_name]),
			"Set `securityContext.capabilities.drop: [ALL]` and add back only what the container needs (e.g. `NET_BIND_SERVICE`).",
			loc,
		),
		{"fix": "drop-capabilities"},
	)
}

warn contains r if {
	k8s_linux
	some [loc, c, _] in k8s_containers
	add := c.securityContext.capabilities.add
	is_array(add)
	some i, cap in add
	is_string(cap)
	not upper(cap) in {"NET_BIND_SERVICE", "CAP_NET_BIND_SERVICE"}
	r := k8s_result(
		"K8S009", "soft",
		sprintf("container `%s` in %s adds the capability `%s`", [c.name, k8s_name, cap]),
		"Remove it from `securityContext.capabilities.add`: only `NET_BIND_SERVICE` is allowed by the restricted Pod Security Standard.",
		array.concat(loc, ["securityContext", "capabilities", "add", i]),
	)
}

# --- K8S010: no seccomp profile -----------------------------------------------------------

k8s_confined(profile) if profile.type in {"RuntimeDefault", "Localhost"}

# A container's own profile wins over the pod's.
k8s_seccomp(c) if k8s_confined(c.securityContext.seccompProfile)

k8s_seccomp(c) if {
	not c.securityContext.seccompProfile
	k8s_confined(k8s_pod_spec.securityContext.seccompProfile)
}

warn contains r if {
	k8s_linux
	some [loc, c, _] in k8s_containers
	not k8s_seccomp(c)
	r := object.union(
		k8s_result(
			"K8S010", "soft",
			sprintf("container `%s` in %s runs without a seccomp profile: every system call is allowed", [c.name, k8s_name]),
			"Set `securityContext.seccompProfile.type: RuntimeDefault` on the pod (or `Localhost` with a profile of your own).",
			k8s_where(loc, c, ["securityContext", "seccompProfile"]),
		),
		{"fix": "add-seccomp"},
	)
}

# --- K8S011: service account token mounted into a pod that does not use the API ------------

# A dedicated service account exists to call the API; the default one has no role of its own,
# so its token is only something to steal. An explicit `automountServiceAccountToken: true`
# is a decision someone made and is left alone.
k8s_named_service_account if {
	some field in ["serviceAccountName", "serviceAccount"]
	name := k8s_pod_spec[field]
	is_string(name)
	not name in {"", "default"}
}

warn contains r if {
	is_object(k8s_pod_spec)
	not k8s_named_service_account
	not "automountServiceAccountToken" in object.keys(k8s_pod_spec)
	r := object.union(
		k8s_result(
			"K8S011", "soft",
			sprintf("%s mounts the default service account's API token, which it does not use", [k8s_name]),
			"Set `automountServiceAccountToken: false` in the pod spec (use a dedicated service account if the pod calls the Kubernetes API).",
			k8s_spec_path,
		),
		{"fix": "no-token-automount"},
	)
}

package main

import rego.v1

k8s_ids(results) := {r.id | some r in results}

k8s_safe_container := {
	"name": "app", "image": "ghcr.io/acme/app:1.2.3",
	"securityContext": {
		"allowPrivilegeEscalation": false, "runAsNonRoot": true, "readOnlyRootFilesystem": true,
		"capabilities": {"drop": ["ALL"]},
	},
	"resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
	"livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
	"readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
}

k8s_deploy(container, pod_extra) := {
	"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
	"spec": {"template": {"spec": object.union(k8s_safe_pod(container), pod_extra)}},
}

k8s_safe_pod(container) := {
	"containers": [container], "automountServiceAccountToken": false,
	"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
}

# The safe container with `sc` merged into its securityContext.
k8s_with_sc(sc) := object.union(k8s_safe_container, {"securityContext": object.union(k8s_safe_container.securityContext, sc)})

test_k8s_safe_deployment_passes if {
	count(deny) == 0 with input as k8s_deploy(k8s_safe_container, {})
	count(warn) == 0 with input as k8s_deploy(k8s_safe_container, {})
}

test_k8s001_privileged if {
	c := object.union(k8s_safe_container, {"securityContext": {"privileged": true, "allowPrivilegeEscalation": false, "runAsNonRoot": true}})
	"K8S001" in k8s_ids(deny) with input as k8s_deploy(c, {})
}

test_k8s002_no_limits if {
	c := object.remove(k8s_safe_container, ["resources"])
	"K8S002" in k8s_ids(warn) with input as k8s_deploy(c, {})
}

test_k8s003_host_network if {
	"K8S003" in k8s_ids(deny) with input as k8s_deploy(k8s_safe_container, {"hostNetwork": true})
}

test_k8s003_host_path if {
	"K8S003" in k8s_ids(deny) with input as k8s_deploy(k8s_safe_container, {"volumes": [{"name": "d", "hostPath": {"path": "/var/run/docker.sock"}}]})
}

test_k8s004_escalation_unset if {
	c := json.remove(k8s_safe_container, ["securityContext/allowPrivilegeEscalation"])
	"K8S004" in k8s_ids(deny) with input as k8s_deploy(c, {})
}

k8s_no_container_non_root := json.remove(k8s_safe_container, ["securityContext/runAsNonRoot"])

test_k8s004_pod_level_non_root if {
	not "K8S004" in k8s_ids(deny) with input as k8s_deploy(k8s_no_container_non_root, {"securityContext": {"runAsNonRoot": true}})
}

test_k8s004_run_as_non_root_unset if {
	"K8S004" in k8s_ids(deny) with input as k8s_deploy(k8s_no_container_non_root, {})
}

test_k8s005_chart_without_network_policy if {
	change := {"shipcrew": "change", "charts": [{"name": "c", "chart_file": "c/Chart.yaml", "kinds": ["Deployment"], "workloads": ["Deployment"]}]}
	"K8S005" in k8s_ids(warn) with input as change
}

test_k8s005_chart_with_network_policy if {
	change := {"shipcrew": "change", "charts": [{"name": "c", "chart_file": "c/Chart.yaml", "kinds": ["Deployment", "NetworkPolicy"], "workloads": ["Deployment"]}]}
	not "K8S005" in k8s_ids(warn) with input as change
}

test_k8s006_untagged if {
	"K8S006" in k8s_ids(deny) with input as k8s_deploy(object.union(k8s_safe_container, {"image": "nginx"}), {})
}

test_k8s006_latest if {
	"K8S006" in k8s_ids(deny) with input as k8s_deploy(object.union(k8s_safe_container, {"image": "nginx:latest"}), {})
}

test_k8s006_digest_with_registry_port if {
	not "K8S006" in k8s_ids(deny) with input as k8s_deploy(object.union(k8s_safe_container, {"image": "localhost:5000/nginx@sha256:abc"}), {})
}

test_k8s007_no_probes if {
	c := object.remove(k8s_safe_container, ["livenessProbe"])
	"K8S007" in k8s_ids(warn) with input as k8s_deploy(c, {})
}

test_k8s007_jobs_need_no_probes if {
	job := {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [object.remove(k8s_safe_container, ["livenessProbe", "readinessProbe"])]}}}}
	not "K8S007" in k8s_ids(warn) with input as job
}

test_k8s_cronjob_containers_are_checked if {
	cron := {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [object.union(k8s_safe_container, {"image": "busybox"})]}}}}}}
	"K8S006" in k8s_ids(deny) with input as cron
}

test_k8s008_writable_root if {
	"K8S008" in k8s_ids(warn) with input as k8s_deploy(k8s_with_sc({"readOnlyRootFilesystem": false}), {})
}

test_k8s008_init_containers_too if {
	init := object.union(k8s_with_sc({"readOnlyRootFilesystem": false}), {"name": "init"})
	"K8S008" in k8s_ids(warn) with input as k8s_deploy(k8s_safe_container, {"initContainers": [init]})
}

test_k8s008_windows_pods_are_exempt if {
	c := k8s_with_sc({"readOnlyRootFilesystem": false, "capabilities": {"drop": []}})
	count(warn) == 0 with input as k8s_deploy(c, {"os": {"name": "windows"}, "securityContext": {"seccompProfile": null}})
}

test_k8s009_no_drop if {
	"K8S009" in k8s_ids(warn) with input as k8s_deploy(k8s_with_sc({"capabilities": {"drop": ["NET_RAW"]}}), {})
}

test_k8s009_drop_all_lowercase_with_net_bind_passes if {
	c := k8s_with_sc({"capabilities": {"drop": ["all"], "add": ["NET_BIND_SERVICE"]}})
	count(warn) == 0 with input as k8s_deploy(c, {})
}

test_k8s009_added_capability if {
	c := k8s_with_sc({"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}})
	"K8S009" in k8s_ids(warn) with input as k8s_deploy(c, {})
}

test_k8s009_privileged_still_reports_capabilities if {
	# Reported alongside K8S001 so that one round of fixes leaves nothing behind.
	c := k8s_with_sc({"privileged": true, "capabilities": null})
	"K8S009" in k8s_ids(warn) with input as k8s_deploy(c, {})
}

test_k8s009_odd_capabilities_do_not_break if {
	c := k8s_with_sc({"capabilities": {"drop": "ALL", "add": [7]}})
	k8s_ids(warn) == {"K8S009"} with input as k8s_deploy(c, {})
}

test_k8s010_no_profile if {
	"K8S010" in k8s_ids(warn) with input as k8s_deploy(k8s_safe_container, {"securityContext": {"seccompProfile": null}})
}

test_k8s010_container_unconfined_overrides_pod if {
	c := k8s_with_sc({"seccompProfile": {"type": "Unconfined"}})
	"K8S010" in k8s_ids(warn) with input as k8s_deploy(c, {})
}

test_k8s010_container_localhost_passes if {
	c := k8s_with_sc({"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}})
	count(warn) == 0 with input as k8s_deploy(c, {"securityContext": {"seccompProfile": null}})
}

test_k8s011_default_service_account_token if {
	d := k8s_deploy(k8s_safe_container, {"serviceAccountName": "default"})
	"K8S011" in k8s_ids(warn) with input as json.remove(d, ["spec/template/spec/automountServiceAccountToken"])
}

test_k8s011_dedicated_service_account_passes if {
	d := k8s_deploy(k8s_safe_container, {"serviceAccountName": "reader"})
	count(warn) == 0 with input as json.remove(d, ["spec/template/spec/automountServiceAccountToken"])
}

test_k8s011_explicit_automount_is_a_decision if {
	count(warn) == 0 with input as k8s_deploy(k8s_safe_container, {"automountServiceAccountToken": true})
}

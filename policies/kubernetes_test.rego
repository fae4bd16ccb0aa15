package main

import rego.v1

k8s_ids(results) := {r.id | some r in results}

k8s_safe_container := {
	"name": "app", "image": "ghcr.io/acme/app:1.2.3",
	"securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true},
	"resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
	"livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
	"readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
}

k8s_deploy(container, pod_extra) := {
	"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
	"spec": {"template": {"spec": object.union({"containers": [container]}, pod_extra)}},
}

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
	c := object.union(k8s_safe_container, {"securityContext": {"runAsNonRoot": true}})
	"K8S004" in k8s_ids(deny) with input as k8s_deploy(c, {})
}

k8s_no_container_non_root := object.union(k8s_safe_container, {"securityContext": {"allowPrivilegeEscalation": false}})

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

package main

import rego.v1

prov_ids(results) := {r.id | some r in results}

prov_wf(steps) := {"on": "push", "permissions": {}, "jobs": {"image": {"steps": steps}}}

prov_push := {"uses": "docker/build-push-action@v6", "with": {"push": true}}

test_prov001_push_without_attestations if {
	"PROV001" in prov_ids(warn) with input as prov_wf([prov_push])
}

test_prov001_push_with_sbom_and_provenance if {
	step := {"uses": "docker/build-push-action@v6", "with": {"push": true, "sbom": true, "provenance": "mode=max"}}
	not "PROV001" in prov_ids(warn) with input as prov_wf([step])
}

test_prov001_attest_action_and_sbom if {
	steps := [object.union(prov_push, {"with": {"push": true, "sbom": true}}), {"uses": "actions/attest-build-provenance@v2"}]
	not "PROV001" in prov_ids(warn) with input as prov_wf(steps)
}

test_prov001_build_only_is_fine if {
	not "PROV001" in prov_ids(warn) with input as prov_wf([{"uses": "docker/build-push-action@v6", "with": {"push": false}}])
}

test_prov001_docker_push_in_run if {
	"PROV001" in prov_ids(warn) with input as prov_wf([{"run": "docker build -t x . && docker push x"}])
}

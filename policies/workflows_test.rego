package main

import rego.v1

gha_ids(results) := {r.id | some r in results}

gha_wf(steps, extra) := object.union({"on": {"push": null}, "permissions": {"contents": "read"}, "jobs": {"build": {"runs-on": "ubuntu-latest", "steps": steps}}}, extra)

gha_sha := "3d3c42e5aac5ba805825da76410c181273ba90b1"

test_gha001_missing_permissions if {
	"GHA001" in gha_ids(deny) with input as {"on": "push", "jobs": {"b": {"steps": []}}}
}

test_gha001_job_permissions_suffice if {
	not "GHA001" in gha_ids(deny) with input as {"on": "push", "jobs": {"b": {"permissions": {}, "steps": []}}}
}

test_gha001_write_all if {
	"GHA001" in gha_ids(deny) with input as {"on": "push", "permissions": "write-all", "jobs": {"b": {"steps": []}}}
}

test_gha001_read_only_passes if {
	not "GHA001" in gha_ids(deny) with input as gha_wf([], {})
}

test_gha002_third_party_tag if {
	"GHA002" in gha_ids(deny) with input as gha_wf([{"uses": "some/action@v1"}], {})
}

test_gha002_third_party_sha_pinned if {
	not "GHA002" in gha_ids(deny) with input as gha_wf([{"uses": concat("@", ["some/action", gha_sha])}], {})
}

test_gha002_first_party_sha_pinned if {
	not "GHA002" in gha_ids(warn) with input as gha_wf([{"uses": concat("@", ["actions/checkout", gha_sha])}], {})
}

test_gha002_first_party_tag_is_soft if {
	"GHA002" in gha_ids(warn) with input as gha_wf([{"uses": "actions/checkout@v4"}], {})
	not "GHA002" in gha_ids(deny) with input as gha_wf([{"uses": "actions/checkout@v4"}], {})
}

test_gha002_local_action if {
	not "GHA002" in gha_ids(deny) with input as gha_wf([{"uses": "./.github/actions/x"}], {})
}

gha_head_checkout_step := {"uses": "actions/checkout@v4", "with": {"ref": "${{ github.event.pull_request.head.sha }}"}}

test_gha003_prt_head_checkout if {
	"GHA003" in gha_ids(deny) with input as gha_wf([gha_head_checkout_step], {"on": {"pull_request_target": null}})
}

test_gha003_pull_request_is_fine if {
	not "GHA003" in gha_ids(deny) with input as gha_wf([gha_head_checkout_step], {"on": {"pull_request": null}})
}

test_gha003_prt_base_checkout_is_fine if {
	not "GHA003" in gha_ids(deny) with input as gha_wf([{"uses": "actions/checkout@v4"}], {"on": ["pull_request_target"]})
}

test_gha004_title_in_run if {
	"GHA004" in gha_ids(deny) with input as gha_wf([{"run": "echo \"${{ github.event.pull_request.title }}\""}], {})
}

test_gha004_env_indirection_is_fine if {
	not "GHA004" in gha_ids(deny) with input as gha_wf([{"env": {"T": "${{ github.event.pull_request.title }}"}, "run": "echo \"$T\""}], {})
}

test_gha005_echo_secret if {
	"GHA005" in gha_ids(deny) with input as gha_wf([{"run": "echo ${{ secrets.TOKEN }}"}], {})
}

test_gha005_secret_in_env_is_fine if {
	not "GHA005" in gha_ids(deny) with input as gha_wf([{"env": {"T": "${{ secrets.TOKEN }}"}, "run": "deploy"}], {})
}

test_gha005_secrets_with_head_code if {
	steps := [gha_head_checkout_step, {"env": {"T": "${{ secrets.NPM }}"}, "run": "npm publish"}]
	"GHA005" in gha_ids(deny) with input as gha_wf(steps, {"on": {"pull_request_target": null}})
}

test_gha_not_a_workflow if {
	count(deny) == 0 with input as {"apiVersion": "v1", "kind": "ConfigMap"}
}

test_gha005_secret_echoed_in_bracket_form if {
	"GHA005" in gha_ids(deny) with input as gha_wf([{"run": "echo \"${{ secrets['TOKEN'] }}\""}], {})
}

test_gha005_bracket_secrets_with_head_code if {
	steps := [gha_head_checkout_step, {"env": {"T": "${{ secrets[\"NPM\"] }}"}, "run": "npm publish"}]
	"GHA005" in gha_ids(deny) with input as gha_wf(steps, {"on": {"pull_request_target": null}})
}

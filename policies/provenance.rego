# Supply chain: PROV001, a workflow that publishes an image without SBOM and provenance.
# Input: the workflow YAML document.
package main

import rego.v1

prov_publishes contains loc if {
	some [name, i, step] in gha_steps
	is_string(step.uses)
	startswith(step.uses, "docker/build-push-action")
	push := object.get(object.get(step, "with", {}), "push", false)
	not push in {false, "false"}
	loc := ["jobs", name, "steps", i]
}

prov_publishes contains loc if {
	some [name, i, step] in gha_steps
	is_string(step.run)
	regex.match(`(^|[\s;&|])(docker|podman)\s+(push|buildx\s+build[^\n]*--push)`, step.run)
	loc := ["jobs", name, "steps", i]
}

prov_uses(prefixes) if {
	some [_, _, step] in gha_steps
	is_string(step.uses)
	strings.any_prefix_match(step.uses, prefixes)
}

prov_build_input(key) if {
	some [_, _, step] in gha_steps
	is_string(step.uses)
	startswith(step.uses, "docker/build-push-action")
	value := object.get(object.get(step, "with", {}), key, false)
	not value in {false, "false"}
}

prov_runs(pattern) if {
	some [_, _, step] in gha_steps
	is_string(step.run)
	regex.match(pattern, step.run)
}

prov_provenance if prov_uses(["actions/attest-build-provenance@", "actions/attest@"])

prov_provenance if prov_build_input("provenance")

prov_provenance if prov_runs(`cosign\s+attest|slsa-github-generator`)

prov_provenance if prov_uses(["slsa-framework/slsa-github-generator/"])

prov_sbom if prov_uses(["anchore/sbom-action@", "actions/attest-sbom@"])

prov_sbom if prov_build_input("sbom")

prov_sbom if prov_runs(`\bsyft\b|docker\s+sbom|cyclonedx`)

prov_missing contains "provenance" if not prov_provenance

prov_missing contains "an SBOM" if not prov_sbom

warn contains r if {
	some loc in prov_publishes
	count(prov_missing) > 0
	r := {
		"id": "PROV001", "severity": "soft",
		"msg": concat("", ["this step publishes an image without ", concat(" or ", sort([m | some m in prov_missing])), " attestation"]),
		"recourse": "Set `provenance: mode=max` and `sbom: true` on docker/build-push-action, or add `actions/attest-build-provenance` (with `push-to-registry: true`) after the push; grant `id-token: write` and `attestations: write`.",
		"path": loc,
	}
}

package main

import rego.v1

dkr_ids(results) := {r.id | some r in results}

dkr_ins(cmd, value, stage) := {"Cmd": cmd, "Value": value, "Flags": [], "Stage": stage, "JSON": false, "SubCmd": ""}

dkr_good := [dkr_ins("from", ["python:3.12-slim"], 0), dkr_ins("user", ["10001"], 0)]

test_dkr_good_passes if {
	count(deny) == 0 with input as dkr_good
}

test_dkr001_latest if {
	"DKR001" in dkr_ids(deny) with input as [dkr_ins("from", ["python:latest"], 0), dkr_ins("user", ["app"], 0)]
}

test_dkr001_untagged if {
	"DKR001" in dkr_ids(deny) with input as [dkr_ins("from", ["registry:5000/team/python"], 0), dkr_ins("user", ["app"], 0)]
}

test_dkr001_stage_reference_and_digest_pass if {
	input_ := [
		dkr_ins("from", ["python@sha256:abc", "AS", "Build"], 0),
		dkr_ins("from", ["build"], 1),
		dkr_ins("user", ["app"], 1),
	]
	not "DKR001" in dkr_ids(deny) with input as input_
}

test_dkr002_no_user if {
	"DKR002" in dkr_ids(deny) with input as [dkr_ins("from", ["python:3.12"], 0)]
}

test_dkr002_root_user if {
	"DKR002" in dkr_ids(deny) with input as [dkr_ins("from", ["python:3.12"], 0), dkr_ins("user", ["root"], 0)]
}

test_dkr002_user_only_in_builder if {
	input_ := [
		dkr_ins("from", ["python:3.12"], 0), dkr_ins("user", ["app"], 0),
		dkr_ins("from", ["python:3.12-slim"], 1),
	]
	"DKR002" in dkr_ids(deny) with input as input_
}

test_dkr002_inherited_from_stage if {
	input_ := [
		dkr_ins("from", ["python:3.12", "AS", "base"], 0), dkr_ins("user", ["app"], 0),
		dkr_ins("from", ["base"], 1),
	]
	not "DKR002" in dkr_ids(deny) with input as input_
}

test_dkr002_distroless_nonroot if {
	not "DKR002" in dkr_ids(deny) with input as [dkr_ins("from", ["gcr.io/distroless/static:nonroot"], 0)]
}

test_dkr003_curl_pipe_sh if {
	"DKR003" in dkr_ids(deny) with input as array.concat(dkr_good, [dkr_ins("run", ["curl -fsSL https://x.io/i.sh | sh"], 0)])
}

test_dkr003_add_url if {
	"DKR003" in dkr_ids(deny) with input as array.concat(dkr_good, [dkr_ins("add", ["https://x.io/a.tgz", "/a"], 0)])
}

test_dkr003_curl_to_file_passes if {
	not "DKR003" in dkr_ids(deny) with input as array.concat(dkr_good, [dkr_ins("run", ["curl -fsSLo a.tgz https://x.io/a.tgz && sha256sum -c s"], 0)])
}

test_dkr004_env_secret if {
	"DKR004" in dkr_ids(deny) with input as array.concat(dkr_good, [dkr_ins("env", ["DB_PASSWORD", "hunter2"], 0)])
}

test_dkr004_arg_secret if {
	"DKR004" in dkr_ids(deny) with input as array.concat(dkr_good, [dkr_ins("arg", ["GITHUB_TOKEN"], 0)])
}

test_dkr004_harmless_env if {
	not "DKR004" in dkr_ids(deny) with input as array.concat(dkr_good, [dkr_ins("env", ["PASSWORD_FILE", "/run/secrets/db", "PORT", "8080"], 0)])
}

test_dkr003_curl_in_heredoc if {
	run := object.union(dkr_ins("run", ["<<EOF"], 0), {"Heredocs": ["set -e\ncurl -fsSL https://x.io/i.sh | sh\n"]})
	"DKR003" in dkr_ids(deny) with input as array.concat(dkr_good, [run])
}

test_dkr005_untrusted_frontend if {
	"DKR005" in dkr_ids(deny) with input as array.concat(dkr_good, [dkr_ins("syntax", ["evil.example/frontend:1"], 0)])
}

test_dkr005_docker_frontend_passes if {
	not "DKR005" in dkr_ids(deny) with input as array.concat(dkr_good, [dkr_ins("syntax", ["docker/dockerfile:1.7@sha256:abc"], 0)])
}

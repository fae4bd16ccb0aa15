# GitHub Actions workflows: GHA001..GHA005.
# Input: the workflow YAML document (conftest shape). Locations are paths into it.
package main

import rego.v1

gha_is_workflow if {
	is_object(input.jobs)
	input.on
}

gha_triggers contains t if {
	gha_is_workflow
	is_string(input.on)
	t := input.on
}

gha_triggers contains t if {
	gha_is_workflow
	is_array(input.on)
	some t in input.on
}

gha_triggers contains t if {
	gha_is_workflow
	is_object(input.on)
	some t, _ in input.on
}

gha_has(obj, key) if {
	is_object(obj)
	some k, _ in obj
	k == key
}

gha_steps contains [name, i, step] if {
	gha_is_workflow
	some name, job in input.jobs
	is_array(job.steps) # `some i, x in X` is an error in regorus when X is not a collection
	some i, step in job.steps
	is_object(step)
}

gha_result(id, sev, msg, recourse, loc) := {
	"id": id, "severity": sev, "msg": msg, "recourse": recourse, "path": loc,
}

# --- GHA001: no permissions, or over-broad ones -------------------------------------------

deny contains r if {
	gha_is_workflow
	not gha_has(input, "permissions")
	some name, job in input.jobs
	not gha_has(job, "permissions")
	r := object.union(
		gha_result(
			"GHA001", "hard",
			sprintf("job `%s` runs with the default GITHUB_TOKEN permissions (no `permissions` block)", [name]),
			"Add `permissions: {contents: read}` at the top of the workflow and grant extra scopes per job.",
			["jobs", name],
		),
		{"fix": "add-permissions"},
	)
}

deny contains r if {
	gha_is_workflow
	input.permissions == "write-all"
	r := gha_result(
		"GHA001", "hard", "the workflow grants `write-all` permissions to every job",
		"Replace `write-all` with `contents: read` and grant write scopes only to the jobs that need them.",
		["permissions"],
	)
}

deny contains r if {
	gha_is_workflow
	some name, job in input.jobs
	job.permissions == "write-all"
	r := gha_result(
		"GHA001", "hard", sprintf("job `%s` grants `write-all` permissions", [name]),
		"List only the scopes the job needs, e.g. `permissions: {contents: read, packages: write}`.",
		["jobs", name, "permissions"],
	)
}

warn contains r if {
	gha_is_workflow
	count(input.jobs) > 1
	is_object(input.permissions)
	some scope, level in input.permissions
	level == "write"
	r := gha_result(
		"GHA001", "soft",
		sprintf("workflow-level permission `%s: write` is granted to every job", [scope]),
		"Keep `contents: read` at the top and move write scopes to the job that needs them.",
		["permissions", scope],
	)
}

# --- GHA002: actions not pinned to a full commit SHA --------------------------------------

gha_uses contains [loc, ref] if {
	gha_is_workflow
	some name, job in input.jobs
	is_string(job.uses)
	ref := job.uses
	loc := ["jobs", name, "uses"]
}

gha_uses contains [loc, ref] if {
	some [name, i, step] in gha_steps
	is_string(step.uses)
	ref := step.uses
	loc := ["jobs", name, "steps", i, "uses"]
}

gha_pinned(ref) if startswith(ref, "./")

gha_pinned(ref) if {
	startswith(ref, "docker://")
	contains(ref, "@sha256:")
}

gha_pinned(ref) if {
	not startswith(ref, "docker://")
	parts := split(ref, "@")
	count(parts) == 2
	regex.match(`^[0-9a-f]{40}$`, parts[1])
}

gha_first_party(ref) if split(ref, "/")[0] in {"actions", "github"}

deny contains r if {
	some [loc, ref] in gha_uses
	not gha_pinned(ref)
	not gha_first_party(ref)
	r := object.union(
		gha_result(
			"GHA002", "hard",
			sprintf("third-party action `%s` is not pinned to a full commit SHA", [ref]),
			"Pin it: `uses: owner/repo@<40-hex commit sha> # vX.Y.Z`; a tag can be moved to malicious code.",
			loc,
		),
		{"fix": "pin-action"},
	)
}

warn contains r if {
	some [loc, ref] in gha_uses
	not gha_pinned(ref)
	gha_first_party(ref)
	r := object.union(
		gha_result(
			"GHA002", "soft", sprintf("action `%s` is not pinned to a full commit SHA", [ref]),
			"Pin it: `uses: actions/x@<40-hex commit sha> # vX.Y.Z`.",
			loc,
		),
		{"fix": "pin-action"},
	)
}

# --- GHA003: privileged triggers running PR head code -------------------------------------

gha_privileged_triggers := {t | some t in gha_triggers; t in {"pull_request_target", "workflow_run"}}

gha_head_expr := `github\.event\.pull_request\.head\.(sha|ref|repo)|github\.head_ref|github\.event\.workflow_run\.head_(sha|branch|repository)|refs/pull/|github\.event\.number|github\.event\.pull_request\.number`

gha_head_checkout contains [name, i] if {
	some [name, i, step] in gha_steps
	is_string(step.uses)
	startswith(step.uses, "actions/checkout")
	with_ := object.get(step, "with", {})
	some key in ["ref", "repository"]
	value := object.get(with_, key, "")
	is_string(value)
	regex.match(gha_head_expr, value)
}

gha_head_checkout contains [name, i] if {
	some [name, i, step] in gha_steps
	is_string(step.run)
	some line in split(step.run, "\n")
	regex.match(`gh\s+pr\s+checkout|git\s+(fetch|checkout|pull)\s.*(pull/|head_ref|head\.(sha|ref))`, line)
}

deny contains r if {
	some trigger in gha_privileged_triggers
	some [name, i] in gha_head_checkout
	r := gha_result(
		"GHA003", "hard",
		sprintf("job `%s` checks out pull request head code in a `%s` workflow, which runs with write access and secrets", [name, trigger]),
		"Use the `pull_request` trigger to build PR code, or do not check out the PR head here (split into an unprivileged `pull_request` workflow plus a `workflow_run` one that only reads its artifacts).",
		["jobs", name, "steps", i],
	)
}

# --- GHA004: untrusted event text interpolated into scripts -------------------------------

gha_untrusted := `\$\{\{[^}]*(github\.event\.(issue\.(title|body)|pull_request\.(title|body|head\.ref|head\.label|head\.repo\.default_branch)|comment\.body|review\.body|review_comment\.body|discussion\.(title|body)|pages[^}]*page_name|commits[^}]*(message|author)|head_commit\.(message|author)|workflow_run\.(head_branch|display_title|head_commit\.(message|author)))|github\.head_ref)[^}]*\}\}`

gha_scripts contains [loc, script] if {
	some [name, i, step] in gha_steps
	is_string(step.run)
	script := step.run
	loc := ["jobs", name, "steps", i, "run"]
}

gha_scripts contains [loc, script] if {
	some [name, i, step] in gha_steps
	is_string(step.uses)
	startswith(step.uses, "actions/github-script")
	script := step["with"].script
	is_string(script)
	loc := ["jobs", name, "steps", i, "with", "script"]
}

# `line_offset`: the line inside the script.
deny contains r if {
	some [loc, script] in gha_scripts
	some n, line in split(script, "\n")
	some expr in regex.find_n(gha_untrusted, line, -1)
	r := object.union(
		gha_result(
			"GHA004", "hard",
			concat("", ["untrusted text `", expr, "` is interpolated into a script (script injection)"]),
			"Pass it through an environment variable: `env: {TITLE: <the expression>}` and use \"$TITLE\" in the script.",
			loc,
		),
		{"line_offset": n},
	)
}

# --- GHA005: secrets echoed, or exposed to fork pull requests ------------------------------

# Line by line, so that `line_offset` names the line.
deny contains r if {
	some [loc, script] in gha_scripts
	some n, line in split(script, "\n")
	regex.match(`(echo|printf)\s.*\$\{\{[^}]*\bsecrets\s*(\.\s*[A-Za-z0-9_]|\[)`, line)
	r := object.union(
		gha_result(
			"GHA005", "hard", "a secret is printed by the script: it may end up in logs or outputs",
			"Do not echo secrets; pass them to the tool through `env:` and let it read them.",
			loc,
		),
		{"line_offset": n},
	)
}

# `secrets.NAME` and `secrets['NAME']` alike, as `secrets.NAME`.
gha_secret_name(expr) := concat("", ["secrets.", regex.replace(expr, `^secrets\s*(\.\s*|\[\s*['"])|['"]\s*\]$`, "")])

gha_job_secrets(job) := {s |
	walk(job, [_, value])
	is_string(value)
	some found in regex.find_n(`\bsecrets\s*(\.\s*[A-Za-z0-9_-]+|\[\s*['"][^'"]+['"]\s*\])`, value, -1)
	s := gha_secret_name(found)
	s != "secrets.GITHUB_TOKEN"
}

deny contains r if {
	count(gha_privileged_triggers) > 0
	some name, job in input.jobs
	job.secrets == "inherit"
	r := gha_result(
		"GHA005", "hard",
		sprintf("job `%s` passes every secret (`secrets: inherit`) in a workflow triggered by fork-controlled events", [name]),
		"Pass only the secrets the called workflow needs, by name.",
		["jobs", name, "secrets"],
	)
}

deny contains r if {
	count(gha_privileged_triggers) > 0
	some [name, _] in gha_head_checkout
	secrets := gha_job_secrets(input.jobs[name])
	count(secrets) > 0
	r := gha_result(
		"GHA005", "hard",
		concat("", ["job `", name, "` exposes ", concat(", ", sort([s | some s in secrets])), " to pull request head code"]),
		"Run fork code in a `pull_request` workflow without secrets; keep secrets in jobs that never run PR code.",
		["jobs", name],
	)
}

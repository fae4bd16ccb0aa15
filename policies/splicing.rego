# GHA006: repository-controlled text or secrets spliced into a script (issue 15).
# GHA004 names the event fields attackers write; this rule is the allowlist side of it: in a
# `run:` (or github-script) body, a `${{ }}` expression may only read contexts that the
# workflow's own author controls (the commit, the run, the runner, the matrix). Secrets,
# inputs, step and job outputs, env, vars and every other event field are text that the
# expression pastes into the script before any shell sees it - `$(curl ...)` included - so they
# must reach the script through `env:` and be used as "$VAR".
package main

import rego.v1

gha006_expr := `\$\{\{[^}]*\}\}`

gha006_safe_ctx := `(github\.(sha|ref|ref_name|ref_type|run_id|run_number|run_attempt|workspace|repository|repository_id|repository_owner|server_url|api_url|graphql_url|event_name|job|action_path|retention_days)|runner\.[a-z_]+|matrix\.[A-Za-z0-9_.-]+|strategy\.[a-z_-]+|job\.status)`

gha006_safe := concat("", [
	`^\$\{\{\s*`, gha006_safe_ctx,
	`(\s*(\|\||&&|==|!=)\s*(`, gha006_safe_ctx, `|'[A-Za-z0-9_./-]*'|true|false|[0-9]+))*\s*\}\}$`,
])

deny contains r if {
	some [loc, script] in gha_scripts
	some n, line in split(script, "\n")
	some expr in regex.find_n(gha006_expr, line, -1)
	not regex.match(gha006_safe, expr)
	not regex.match(gha_untrusted, expr) # GHA004 reports those, with its own advice
	not regex.match(`(echo|printf)\s.*\$\{\{[^}]*\bsecrets\s*(\.\s*[A-Za-z0-9_]|\[)`, line) # GHA005's (dot and bracket forms)
	r := object.union(
		gha_result(
			"GHA006", "hard",
			concat("", ["`", expr, "` is spliced into the script text: whatever it holds runs as code"]),
			"Pass the value through the step's `env:` (e.g. `env: {VALUE: <the expression>}`) and use \"$VALUE\" in the script.",
			loc,
		),
		{"line_offset": n},
	)
}

package main

import rego.v1

sec_change(candidates) := {"shipcrew": "change", "secrets": candidates, "charts": []}

sec_candidate := {"path": "app/settings.py", "line": 3, "pattern": "github-token", "description": "a GitHub token", "placeholder": false}

test_sec001_candidate_is_denied if {
	some r in deny with input as sec_change([sec_candidate])
	r.id == "SEC001"
	r.line == 3
	r.path == "app/settings.py"
}

test_sec001_placeholder_is_ignored if {
	count(deny) == 0 with input as sec_change([object.union(sec_candidate, {"placeholder": true})])
}

test_sec001_never_echoes_the_value if {
	some r in deny with input as sec_change([sec_candidate])
	not contains(r.msg, "ghp_")
}

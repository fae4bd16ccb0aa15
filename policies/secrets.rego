# Secrets in added lines: SEC001.
# Input: the change input; `secrets` holds candidates found by jobs/inputs_secrets.py with the
# patterns of data/secrets.json (pattern id and line, never the matched value).
package main

import rego.v1

deny contains r if {
	input.shipcrew == "change"
	some c in input.secrets
	not c.placeholder
	not sec_allowed_path(c.path)
	r := {
		"id": "SEC001", "severity": "hard",
		"msg": sprintf("%s in an added line (value not shown)", [c.description]),
		"recourse": "Remove it from the change, rotate it now (it is in the branch history), and load it from a secret store or a GitHub secret at run time.",
		"path": c.path, "line": c.line,
	}
}

sec_allowed_path(path) if {
	some prefix in data.shipcrew.secrets.allowed_paths
	startswith(path, prefix)
}

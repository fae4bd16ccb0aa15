package main

import rego.v1

denylist := ["openjdk"]

deny contains msg if {
	some i
	input[i].Cmd == "from"
	val := input[i].Value
	some banned in denylist
	contains(val[0], banned)
	msg := sprintf("unallowed image found %s", [val[0]])
}

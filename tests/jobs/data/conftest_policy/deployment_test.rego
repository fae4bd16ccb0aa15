package main

import rego.v1

test_root_deployment_denied if {
	"Containers must not run as root" in deny with input as {"kind": "Deployment", "metadata": {"name": "x"}, "spec": {"selector": {"matchLabels": {"app": "x"}}}}
}

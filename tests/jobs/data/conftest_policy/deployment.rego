# A team's existing conftest policy (conftest.dev examples, Rego v1), used unchanged.
package main

import rego.v1

deny contains msg if {
	input.kind == "Deployment"
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := "Containers must not run as root"
}

deny_missing_app_label contains msg if {
	input.kind == "Deployment"
	not input.spec.selector.matchLabels.app
	msg := "Containers must provide app label for pod selectors"
}

violation contains {"msg": msg, "details": {"name": name}} if {
	input.kind == "Deployment"
	name := input.metadata.name
	not input.metadata.labels.team
	msg := sprintf("Deployment %s has no team label", [name])
}

warn contains msg if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	msg := "LoadBalancer services are expensive"
}

exception contains rules if {
	input.kind == "Deployment"
	input.metadata.name == "legacy-app"
	rules := ["missing_app_label"]
}

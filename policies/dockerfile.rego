# Dockerfiles: DKR001..DKR005.
# Input: conftest's Dockerfile shape, a list of instructions {Cmd, Flags, Value, Stage, ...};
# locations are [instruction index].
package main

import rego.v1

dkr_is_dockerfile if {
	is_array(input)
	some ins in input
	ins.Cmd == "from"
}

dkr_froms contains [i, ins] if {
	dkr_is_dockerfile
	some i, ins in input
	ins.Cmd == "from"
}

dkr_result(id, msg, recourse, i) := {"id": id, "severity": "hard", "msg": msg, "recourse": recourse, "path": [i]}

# Names given to earlier stages with `FROM image AS name`.
dkr_stage_names contains [i, lower(ins.Value[2])] if {
	some [i, ins] in dkr_froms
	count(ins.Value) >= 3
	lower(ins.Value[1]) == "as"
}

dkr_is_stage(image, i) if {
	some [j, name] in dkr_stage_names
	j < i
	name == lower(image)
}

# --- DKR001: base image untagged or :latest ------------------------------------------------

dkr_last_segment(image) := parts[count(parts) - 1] if parts := split(image, "/")

dkr_floating(image) if {
	not contains(image, "@")
	not contains(dkr_last_segment(image), ":")
}

dkr_floating(image) if {
	not contains(image, "@")
	endswith(dkr_last_segment(image), ":latest")
}

deny contains r if {
	some [i, ins] in dkr_froms
	image := ins.Value[0]
	lower(image) != "scratch"
	not contains(image, "$")
	not dkr_is_stage(image, i)
	dkr_floating(image)
	r := dkr_result(
		"DKR001", sprintf("base image `%s` is untagged or `latest`: builds are not reproducible", [image]),
		"Pin a version tag, ideally with its digest: `FROM image:1.2.3@sha256:<digest>`.", i,
	)
}

# --- DKR002: the final stage runs as root --------------------------------------------------

dkr_final := max({ins.Stage | some ins in input}) if dkr_is_dockerfile

dkr_users(stage) := [pair |
	some i
	ins := input[i]
	ins.Stage == stage
	ins.Cmd == "user"
	pair := [i, ins.Value[0]]
]

dkr_from_of(stage) := [i, ins] if {
	some [i, ins] in dkr_froms
	ins.Stage == stage
}

# The stage a FROM builds on, when it names an earlier stage (user is inherited from it).
dkr_parent(stage) := parent if {
	[i, ins] := dkr_from_of(stage)
	some [j, name] in dkr_stage_names
	j < i
	name == lower(ins.Value[0])
	parent := input[j].Stage
}

dkr_root(user) if user in {"root", "0"}

dkr_root(user) if startswith(user, "root:")

dkr_root(user) if startswith(user, "0:")

# Images that already default to an unprivileged user.
dkr_nonroot_base(stage) if {
	[_, ins] := dkr_from_of(stage)
	contains(ins.Value[0], "nonroot")
}

dkr_effective_users(stage) := users if {
	users := dkr_users(stage)
	count(users) > 0
} else := users if {
	users := dkr_users(dkr_parent(stage))
	count(users) > 0
}

dkr_nonroot(stage) if dkr_nonroot_base(stage)

dkr_nonroot(stage) if dkr_nonroot_base(dkr_parent(stage))

deny contains r if {
	dkr_is_dockerfile
	not dkr_effective_users(dkr_final)
	not dkr_nonroot(dkr_final)
	[i, _] := dkr_from_of(dkr_final)
	r := object.union(
		dkr_result(
			"DKR002", "the final stage has no USER instruction, so the container runs as root",
			"Add `USER 10001` (a non-root uid; create it with `useradd` if the image needs a home) at the end of the final stage.",
			i,
		),
		{"fix": "add-user"},
	)
}

deny contains r if {
	users := dkr_effective_users(dkr_final)
	[i, user] := users[count(users) - 1]
	dkr_root(lower(user))
	r := object.union(
		dkr_result(
			"DKR002", sprintf("the final stage runs as `%s`", [user]),
			"End the final stage with a non-root user: `USER 10001`.", i,
		),
		{"fix": "add-user"},
	)
}

# --- DKR003: remote code piped to a shell, ADD from a URL ----------------------------------

deny contains r if {
	dkr_is_dockerfile
	some i, ins in input
	ins.Cmd == "run"
	script := concat("\n", array.concat(ins.Value, object.get(ins, "Heredocs", [])))
	regex.match(`(curl|wget)[^|;&]*\|\s*(sudo\s+)?(ba|z|da|k)?sh\b`, script)
	r := dkr_result(
		"DKR003", "a remote script is piped into a shell: unverified code runs in the build",
		"Download to a file, verify its checksum (`echo \"<sha256>  file\" | sha256sum -c -`), then run it; or use a package manager.",
		i,
	)
}

deny contains r if {
	dkr_is_dockerfile
	some i, ins in input
	ins.Cmd == "add"
	some src in array.slice(ins.Value, 0, count(ins.Value) - 1)
	regex.match(`^https?://`, src)
	not strings.any_prefix_match(ins.Flags, ["--checksum="])
	r := dkr_result(
		"DKR003", sprintf("`ADD %s` downloads a file without verifying it", [src]),
		"Use `ADD --checksum=sha256:<digest> <url> <dest>` or download and verify in a RUN step.", i,
	)
}

# --- DKR004: secrets in ENV / ARG ----------------------------------------------------------

dkr_secret_name(name) if {
	n := lower(name)
	regex.match(`(passwd|password|secret|token|api_?key|apikey|private_?key|access_?key|credential)`, n)
	not regex.match(`(_file|_path|_dir|_url|_name|_id)$`, n)
}

dkr_env_pairs contains [i, ins.Value[k]] if {
	dkr_is_dockerfile
	some i, ins in input
	ins.Cmd == "env"
	some k, _ in ins.Value
	k % 2 == 0
	count(ins.Value) > k + 1
	value := ins.Value[k + 1]
	value != ""
	not startswith(value, "$")
}

dkr_arg_names contains [i, split(ins.Value[0], "=")[0]] if {
	dkr_is_dockerfile
	some i, ins in input
	ins.Cmd == "arg"
}

deny contains r if {
	some [i, name] in dkr_env_pairs
	dkr_secret_name(name)
	r := dkr_result(
		"DKR004", sprintf("`ENV %s` bakes a secret into the image (every layer and `docker history` keep it)", [name]),
		"Remove it and pass the secret at run time (environment, mounted file) or at build time with `RUN --mount=type=secret`.",
		i,
	)
}

deny contains r if {
	some [i, name] in dkr_arg_names
	dkr_secret_name(name)
	r := dkr_result(
		"DKR004", sprintf("`ARG %s` passes a secret as a build argument (kept in the image history)", [name]),
		"Use a build secret instead: `RUN --mount=type=secret,id=<name> ...` with `docker build --secret`.",
		i,
	)
}

# --- DKR005: an untrusted BuildKit frontend (`# syntax=`) ----------------------------------

# The frontend image runs the build with the builder's privileges: only Docker's own.
dkr_trusted_frontends := {"docker/dockerfile", "docker.io/docker/dockerfile", "docker/dockerfile-upstream", "docker.io/docker/dockerfile-upstream"}

dkr_frontend_repo(ref) := split(split(ref, "@")[0], ":")[0]

deny contains r if {
	dkr_is_dockerfile
	some i, ins in input
	ins.Cmd == "syntax"
	ref := ins.Value[0]
	not dkr_frontend_repo(lower(ref)) in dkr_trusted_frontends
	r := dkr_result(
		"DKR005", sprintf("`# syntax=%s` builds with an untrusted BuildKit frontend: its code runs the build", [ref]),
		"Use Docker's frontend (`# syntax=docker/dockerfile:1`) or remove the directive.", i,
	)
}

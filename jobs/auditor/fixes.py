"""Safe automatic fixes: the minimal edit for a finding whose rule names a fix.

Edits are made on the text, at the lines and columns ruamel.yaml (or the Dockerfile parser)
reports, so comments, quoting and indentation everywhere else stay byte-identical — a
round-trip dump would re-indent sequences and re-flow long lines. Every edited file must
parse again, or it is left alone. Helm templates are never edited (they are not YAML).

Fix kinds (the `fix` key of a policy result): pin-action, add-permissions, add-user,
add-security-context, add-resources, add-probes, drop-privileged, read-only-root,
drop-capabilities, add-seccomp, no-token-automount. A fix that cannot be made safely is
skipped and its finding stays.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import dockerfile
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from app.files import Files
from app.findings import Finding
from app.pins import SHA, Pins
from jobs.auditor import inputs
from jobs.auditor.yaml_edit import Edits, Text, block, prepend, set_scalar

NON_ROOT_UID = 10001
RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"},
             "limits": {"cpu": "500m", "memory": "512Mi"}}
TMP = "tmp"  # the emptyDir volume the read-only-root fix mounts on /tmp
_ALL = ("containers", "initContainers", "ephemeralContainers")
_POD_SPEC = {"Pod": ("spec",), "CronJob": ("spec", "jobTemplate", "spec", "template", "spec")}
# Instructions that may follow the final USER without running as it at build time.
_DOCKER_TRAILING = {"cmd", "entrypoint", "expose", "healthcheck", "label", "stopsignal"}


def fix_kind(finding: Finding) -> str | None:
    return finding.fix.kind if finding.fix else None


# --- manifests ------------------------------------------------------------------------------


def _pod_spec(doc: Any) -> Any:
    kind = doc.get("kind") if isinstance(doc, CommentedMap) else None
    if kind not in inputs.WORKLOAD_KINDS:
        return None
    node: Any = doc
    for key in _POD_SPEC.get(kind, ("spec", "template", "spec")):
        node = node.get(key) if isinstance(node, CommentedMap) else None
    return node if isinstance(node, CommentedMap) else None


def _containers(spec: CommentedMap, fields: Iterable[str] = _ALL) -> list[CommentedMap]:
    return [c for f in fields for c in (spec.get(f) or []) if isinstance(c, CommentedMap)]


def _security_contexts(spec: CommentedMap) -> Iterable[tuple[CommentedMap, CommentedMap]]:
    """Each container with its securityContext (an empty stand-in when it has none);
    containers whose securityContext is not a mapping are skipped."""
    for c in _containers(spec):
        sc = c.get("securityContext")
        if sc is None:
            yield c, CommentedMap()
        elif isinstance(sc, CommentedMap):
            yield c, sc


def _make(edits: Edits, c: CommentedMap, sc: CommentedMap, key: str, value: Any) -> None:
    """Set `securityContext.<key>` of container `c` to `value`, overwriting a scalar."""
    if key not in sc:
        edits.want(c, {"securityContext": {key: value}})
    elif sc[key] != value and not isinstance(sc[key], dict | list):
        set_scalar(edits.text, sc, key, value)


def _security_context(edits: Edits, spec: CommentedMap) -> None:
    pod = spec.get("securityContext")
    pod = pod if isinstance(pod, CommentedMap) else {}
    for c, sc in _security_contexts(spec):
        if sc.get("allowPrivilegeEscalation") is not False:
            _make(edits, c, sc, "allowPrivilegeEscalation", False)
        non_root = sc.get("runAsNonRoot") is True or (
            pod.get("runAsNonRoot") is True and sc.get("runAsNonRoot") is not False)
        if not non_root:
            _make(edits, c, sc, "runAsNonRoot", True)
            if "runAsUser" not in sc and "runAsUser" not in pod:
                # runAsNonRoot alone fails a root image
                edits.want(c, {"securityContext": {"runAsUser": NON_ROOT_UID}})


def _drop_privileged(edits: Edits, spec: CommentedMap) -> None:
    for _, sc in _security_contexts(spec):
        if sc.get("privileged") is True:
            set_scalar(edits.text, sc, "privileged", False)


def _drop_capabilities(edits: Edits, spec: CommentedMap) -> None:
    for c, sc in _security_contexts(spec):
        caps = sc.get("capabilities")
        drop = caps.get("drop") if isinstance(caps, CommentedMap) else None
        if caps is None or (isinstance(caps, CommentedMap) and "drop" not in caps):
            edits.want(c, {"securityContext": {"capabilities": {"drop": ["ALL"]}}})
        elif isinstance(drop, CommentedSeq) and not any(
                isinstance(d, str) and d.upper() == "ALL" for d in drop):
            prepend(edits.text, drop, "ALL")


def _seccomp(edits: Edits, spec: CommentedMap) -> None:
    # One pod-level profile covers every container that does not set its own; a container
    # that explicitly asks for Unconfined is a decision left to a human.
    pod = spec.get("securityContext")
    if pod is None or (isinstance(pod, CommentedMap) and "seccompProfile" not in pod):
        edits.want(spec, {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}})


def _no_token_automount(edits: Edits, spec: CommentedMap) -> None:
    if "automountServiceAccountToken" not in spec:
        edits.want(spec, {"automountServiceAccountToken": False})


def _read_only_root(edits: Edits, spec: CommentedMap) -> None:
    """readOnlyRootFilesystem, with an emptyDir on /tmp so temporary files keep working."""
    volumes = spec.get("volumes")
    tmp = next((v for v in volumes or [] if isinstance(v, dict) and v.get("name") == TMP), None)
    if tmp is not None and "emptyDir" not in tmp:
        return  # a `tmp` volume of another kind: mounting it on /tmp is a human's call
    pending = [(c, sc) for c, sc in _security_contexts(spec)
               if sc.get("readOnlyRootFilesystem") is not True]
    unmounted = [id(c) for c, _ in pending if "/tmp" not in {
        str(m.get("mountPath", "")).rstrip("/") for m in c.get("volumeMounts") or []
        if isinstance(m, dict)}]
    if unmounted and tmp is None:  # the volume first: a mount must never lack it
        volume = {"name": TMP, "emptyDir": {}}
        if volumes is None:
            edits.want(spec, {"volumes": [volume]})
        elif not (isinstance(volumes, CommentedSeq) and prepend(edits.text, volumes, volume)):
            return
    for c, sc in pending:
        if id(c) in unmounted:
            mounts, mount = c.get("volumeMounts"), {"name": TMP, "mountPath": "/tmp"}
            if mounts is None:
                edits.want(c, {"volumeMounts": [mount]})
            elif not (isinstance(mounts, CommentedSeq) and prepend(edits.text, mounts, mount)):
                continue
        _make(edits, c, sc, "readOnlyRootFilesystem", True)


def _resources(edits: Edits, spec: CommentedMap) -> None:
    for c in _containers(spec, ("containers",)):
        limits = (c.get("resources") or {}).get("limits") or {}
        if not all(limits.get(r) for r in ("cpu", "memory")):
            edits.want(c, {"resources": RESOURCES})


def _probes(edits: Edits, spec: CommentedMap) -> None:
    for c in _containers(spec, ("containers",)):
        ports = [p.get("containerPort") for p in c.get("ports") or [] if isinstance(p, dict)]
        port = next((p for p in ports if isinstance(p, int)), None)
        wanted = {probe: {"tcpSocket": {"port": port}, "periodSeconds": 10}
                  for probe in ("livenessProbe", "readinessProbe") if probe not in c}
        if wanted and port is not None:  # no declared port: a probe would be a guess
            edits.want(c, wanted)


_MANIFEST_FIXES = {"add-security-context": _security_context, "drop-privileged": _drop_privileged,
                   "add-resources": _resources, "add-probes": _probes,
                   "read-only-root": _read_only_root, "drop-capabilities": _drop_capabilities,
                   "add-seccomp": _seccomp, "no-token-automount": _no_token_automount}


def _fix_manifest(path: str, source: str, kinds: set[str]) -> str | None:
    trees, error = inputs.load_yaml(path, source)
    if error:
        return None
    edits = Edits(source)
    for tree in trees:
        spec = _pod_spec(tree)
        if spec is None:
            continue
        for kind in sorted(kinds & _MANIFEST_FIXES.keys()):
            _MANIFEST_FIXES[kind](edits, spec)
        edits.flush()
    return edits.text.render() if edits.text.changed else None


# --- workflows ------------------------------------------------------------------------------


def _pin_for(pins: Pins, ref: str) -> str | None:
    """`<sha> # <tag>` when the table pins the same release line `ref` names, else None."""
    action, _, version = ref.partition("@")
    if not version or SHA.match(version) or action.startswith(("./", "docker://")):
        return None
    pin = pins.pins.get("/".join(action.split("/")[:2]))
    # A moving tag (`v7`) may be pinned to the release it currently points at (`v7.0.1`);
    # another major version would change behaviour, so that is left to a human.
    if pin is None or not (pin.ref == version or pin.ref.startswith(version + ".")):
        return None
    return f"{action}@{pin.sha} # {pin.ref}"


def _workflow_uses(tree: CommentedMap) -> list[tuple[CommentedMap, str]]:
    out = []
    for job in (tree.get("jobs") or {}).values():
        if not isinstance(job, CommentedMap):
            continue
        if isinstance(job.get("uses"), str):
            out.append((job, job["uses"]))
        for step in job.get("steps") or []:
            if isinstance(step, CommentedMap) and isinstance(step.get("uses"), str):
                out.append((step, step["uses"]))
    return out


def _fix_workflow(path: str, source: str, kinds: set[str], pins: Pins) -> str | None:
    trees, error = inputs.load_yaml(path, source)
    if error or len(trees) != 1 or not isinstance(trees[0], CommentedMap):
        return None
    tree, text = trees[0], Text(source)
    if "pin-action" in kinds:
        for node, ref in _workflow_uses(tree):
            pinned = _pin_for(pins, ref)
            line, col = node.lc.key("uses")
            m = re.compile(r"""(uses\s*:\s*)(["']?)([^\s"'#]+)\2(\s*#.*)?""").match(
                text.lines[line], col)
            if pinned and m and m.group(3) == ref and not m.group(4):
                text.replace(line, m.start(2), m.end(), pinned)
    if "add-permissions" in kinds and "permissions" not in tree and "jobs" in tree:
        at, col = tree.lc.key("jobs")
        while at > 0 and text.lines[at - 1].lstrip().startswith("#"):
            at -= 1  # keep the comment above `jobs:` with it
        blank = at > 0 and not text.lines[at - 1].strip()
        text.insert(at, block({"permissions": {"contents": "read"}}, col) + ("\n" * blank))
    return text.render() if text.changed else None


# --- Dockerfiles ----------------------------------------------------------------------------


def _fix_dockerfile(source: str) -> str | None:
    try:
        commands = dockerfile.parse_string(source)
    except dockerfile.GoParseError:
        return None
    starts = [i for i, c in enumerate(commands) if c.cmd.lower() == "from"]
    if not starts:
        return None
    final = commands[starts[-1]:]
    last = max(i for i, c in enumerate(final) if c.cmd.lower() not in _DOCKER_TRAILING)
    text = Text(source)
    text.insert(final[last].end_line, f"USER {NON_ROOT_UID}:{NON_ROOT_UID}\n")
    return text.render()


# --- entry point ----------------------------------------------------------------------------


def fix_files(files: Files, findings: Iterable[Finding],
              pins: Pins | None = None) -> tuple[Files, list[str]]:
    """The fixed files (only those that change) and one line per fix kind and file."""
    pins = pins or Pins.load()
    roots = inputs.chart_roots(files)
    wanted: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        kind = fix_kind(f)
        if kind and f.path in files and inputs.in_chart(f.path, roots) is None:
            wanted[f.path].add(kind)
    changed: Files = {}
    done: list[str] = []
    for path, kinds in sorted(wanted.items()):
        source = files[path]
        if inputs.is_workflow(path):
            new = _fix_workflow(path, source, kinds, pins)
        elif inputs.is_dockerfile(path):
            new = _fix_dockerfile(source) if "add-user" in kinds else None
        elif inputs.YAML_RE.search(path):
            new = _fix_manifest(path, source, kinds)
        else:
            new = None
        if new is None or new == source or not _still_parses(path, new):
            continue
        claimed = _verified(path, new, kinds, [f for f in findings if f.path == path])
        if claimed:  # a change that removes no finding is not committed
            changed[path] = new
            done += [f"{path}: {claim}" for claim in claimed]
    return changed, done


def _verified(path: str, new: str, kinds: set[str], before: list[Finding]) -> list[str]:
    """The fix kinds whose findings are gone when the fixed file is audited again (with the
    count when only some are: `pin-action (1 of 2)`); a kind that fixed nothing is not named."""
    from jobs.auditor.core import audit_files  # the core does not import fixes: no cycle

    after = {(f.rule, f.message) for f in audit_files({path: new}).findings}
    claims = []
    for kind in sorted(kinds):
        mine = [f for f in before if fix_kind(f) == kind]
        gone = sum((f.rule, f.message) not in after for f in mine)
        if gone:
            claims.append(kind if gone == len(mine) else f"{kind} ({gone} of {len(mine)})")
    return claims


def apply_fixes(files: Files, findings: list[Finding], pins: Pins | None = None) -> Files:
    """Pure: the files the safe fixes change, with their new content."""
    return fix_files(files, findings, pins)[0]


def _still_parses(path: str, text: str) -> bool:
    docs, errors = inputs.parse_file(path, text)
    return not errors

"""Safe automatic fixes: the minimal edit for a finding whose rule names a fix.

Edits are made on the text, at the lines and columns ruamel.yaml (or the Dockerfile parser)
reports, so comments, quoting and indentation everywhere else stay byte-identical — a
round-trip dump would re-indent sequences and re-flow long lines. Every edited file must
parse again, or it is left alone. Helm templates are never edited (they are not YAML).

Fix kinds (the `fix` key of a policy result): pin-action, add-permissions, add-user,
add-security-context, add-resources, add-probes, drop-privileged.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import dockerfile
from ruamel.yaml.comments import CommentedMap

from app.files import Files
from app.findings import Finding
from jobs import inputs
from jobs.pins import SHA, Pins

NON_ROOT_UID = 10001
RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"},
             "limits": {"cpu": "500m", "memory": "512Mi"}}
_POD_SPEC = {"Pod": ("spec",), "CronJob": ("spec", "jobTemplate", "spec", "template", "spec")}
# Instructions that may follow the final USER without running as it at build time.
_DOCKER_TRAILING = {"cmd", "entrypoint", "expose", "healthcheck", "label", "stopsignal"}


def fix_kind(finding: Finding) -> str | None:
    return finding.fix.kind if finding.fix else None


class _Text:
    """Line edits against the original text: replacements, then insertions before lines."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines(keepends=True)
        if self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"
        self.inserts: dict[int, list[str]] = defaultdict(list)
        self.changed = False

    def insert(self, before: int, text: str) -> None:
        self.inserts[before].append(text)
        self.changed = True

    def set(self, line: int, text: str) -> None:
        if self.lines[line] != text:
            self.lines[line] = text
            self.changed = True

    def render(self) -> str:
        out = []
        for i, line in enumerate([*self.lines, ""]):
            out.extend(self.inserts.get(i, []))
            out.append(line)
        return "".join(out)


# --- YAML edits -----------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return _scalar(value)


def _block(items: dict[str, Any], col: int) -> str:
    out = []
    for key, value in items.items():
        if isinstance(value, dict):
            out.append(f"{' ' * col}{key}:\n{_block(value, col + 2)}")
        else:
            out.append(f"{' ' * col}{key}: {_scalar(value)}\n")
    return "".join(out)


def _add_keys(text: _Text, node: CommentedMap, items: dict[str, Any]) -> bool:
    """Add `items` to the mapping `node` where it is written; False when that is not safe."""
    if not items:
        return True
    if node.fa.flow_style():
        line, col = node.lc.line, node.lc.col
        current = text.lines[line]
        end, depth = col, 0
        while end < len(current):
            depth += {"{": 1, "}": -1}.get(current[end], 0)
            if depth == 0:
                break
            end += 1
        if end >= len(current):
            return False  # a flow mapping over several lines: leave it to a human
        sep = ", " if len(node) else ""
        text.set(line, current[:end] + sep + _flow(items)[1:-1] + current[end:])
        return True
    keys = list(node)
    if not keys:
        return False
    first_line, col = node.lc.key(keys[0])
    if len(keys) > 1:
        at = node.lc.key(keys[1])[0]  # the first key's value ends before the second key
    elif not isinstance(node[keys[0]], dict | list):
        at = first_line + 1
    elif not text.lines[first_line][:col].strip():
        at = first_line
    else:
        return False
    text.insert(at, _block(items, col))
    return True


def _set_scalar(text: _Text, node: CommentedMap, key: str, value: Any) -> bool:
    line, col = node.lc.key(key)
    current = text.lines[line]
    m = re.compile(rf"""(["']?{re.escape(key)}["']?\s*:\s*)([^\s,}}#]+)""").match(current, col)
    if m is None:
        return False
    text.set(line, current[:m.start(2)] + _scalar(value) + current[m.end(2):])
    return True


def _ensure(text: _Text, node: CommentedMap, wanted: dict[str, Any]) -> bool:
    """Add what `node` lacks of `wanted`, recursing into mappings it already has."""
    missing = {k: v for k, v in wanted.items() if k not in node}
    ok = _add_keys(text, node, missing)
    for key, value in wanted.items():
        if key in node and isinstance(value, dict):
            if not isinstance(node[key], CommentedMap):
                return False
            ok = _ensure(text, node[key], value) and ok
    return ok


def _pod_spec(doc: Any) -> Any:
    kind = doc.get("kind") if isinstance(doc, CommentedMap) else None
    if kind not in inputs.WORKLOAD_KINDS:
        return None
    node: Any = doc
    for key in _POD_SPEC.get(kind, ("spec", "template", "spec")):
        node = node.get(key) if isinstance(node, CommentedMap) else None
    return node if isinstance(node, CommentedMap) else None


def _containers(spec: CommentedMap, fields: Iterable[str]) -> list[CommentedMap]:
    return [c for f in fields for c in (spec.get(f) or []) if isinstance(c, CommentedMap)]


def _security_context(text: _Text, spec: CommentedMap) -> bool:
    pod = spec.get("securityContext") if isinstance(spec.get("securityContext"),
                                                    CommentedMap) else {}
    ok = True
    for c in _containers(spec, ("containers", "initContainers", "ephemeralContainers")):
        sc = c.get("securityContext")
        if sc is None:
            sc = CommentedMap()  # absent: everything wanted is added as a new mapping
        elif not isinstance(sc, CommentedMap):
            ok = False
            continue
        wanted: dict[str, Any] = {}
        if sc.get("allowPrivilegeEscalation") is not False:
            if "allowPrivilegeEscalation" in sc:
                ok = _set_scalar(text, sc, "allowPrivilegeEscalation", False) and ok
            else:
                wanted["allowPrivilegeEscalation"] = False
        non_root = sc.get("runAsNonRoot") is True or (
            pod.get("runAsNonRoot") is True and sc.get("runAsNonRoot") is not False)
        if not non_root:
            if "runAsNonRoot" in sc:
                ok = _set_scalar(text, sc, "runAsNonRoot", True) and ok
            else:
                wanted["runAsNonRoot"] = True
            if "runAsUser" not in sc and "runAsUser" not in pod:
                wanted["runAsUser"] = NON_ROOT_UID  # runAsNonRoot alone fails a root image
        if wanted:
            ok = _ensure(text, c, {"securityContext": wanted}) and ok
    return ok


def _drop_privileged(text: _Text, spec: CommentedMap) -> bool:
    ok = True
    for c in _containers(spec, ("containers", "initContainers", "ephemeralContainers")):
        sc = c.get("securityContext")
        if isinstance(sc, CommentedMap) and sc.get("privileged") is True:
            ok = _set_scalar(text, sc, "privileged", False) and ok
    return ok


def _resources(text: _Text, spec: CommentedMap) -> bool:
    ok = True
    for c in _containers(spec, ("containers",)):
        limits = (c.get("resources") or {}).get("limits") or {}
        if not all(limits.get(r) for r in ("cpu", "memory")):
            ok = _ensure(text, c, {"resources": RESOURCES}) and ok
    return ok


def _probes(text: _Text, spec: CommentedMap) -> bool:
    ok = True
    for c in _containers(spec, ("containers",)):
        ports = [p.get("containerPort") for p in c.get("ports") or [] if isinstance(p, dict)]
        port = next((p for p in ports if isinstance(p, int)), None)
        wanted = {probe: {"tcpSocket": {"port": port}, "periodSeconds": 10}
                  for probe in ("livenessProbe", "readinessProbe") if probe not in c}
        if wanted and port is None:
            ok = False  # no declared port: a probe would be a guess
        elif wanted:
            ok = _add_keys(text, c, wanted) and ok
    return ok


_MANIFEST_FIXES = {"add-security-context": _security_context, "drop-privileged": _drop_privileged,
                   "add-resources": _resources, "add-probes": _probes}


def _fix_manifest(path: str, source: str, kinds: set[str]) -> str | None:
    trees, error = inputs.load_yaml(path, source)
    if error:
        return None
    text = _Text(source)
    for tree in trees:
        spec = _pod_spec(tree)
        if spec is None:
            continue
        for kind in sorted(kinds & _MANIFEST_FIXES.keys()):
            _MANIFEST_FIXES[kind](text, spec)
    return text.render() if text.changed else None


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
    tree, text = trees[0], _Text(source)
    if "pin-action" in kinds:
        for node, ref in _workflow_uses(tree):
            pinned = _pin_for(pins, ref)
            line, col = node.lc.key("uses")
            m = re.compile(r"""(uses\s*:\s*)(["']?)([^\s"'#]+)\2(\s*#.*)?""").match(
                text.lines[line], col)
            if pinned and m and m.group(3) == ref and not m.group(4):
                current = text.lines[line]
                text.set(line, current[:m.start(2)] + pinned + current[m.end():])
    if "add-permissions" in kinds and "permissions" not in tree and "jobs" in tree:
        at, col = tree.lc.key("jobs")
        while at > 0 and text.lines[at - 1].lstrip().startswith("#"):
            at -= 1  # keep the comment above `jobs:` with it
        blank = at > 0 and not text.lines[at - 1].strip()
        text.insert(at, _block({"permissions": {"contents": "read"}}, col) + ("\n" * blank))
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
    text = _Text(source)
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
        changed[path] = new
        done += [f"{path}: {kind}" for kind in sorted(kinds)]
    return changed, done


def apply_fixes(files: Files, findings: list[Finding], pins: Pins | None = None) -> Files:
    """Pure: the files the safe fixes change, with their new content."""
    return fix_files(files, findings, pins)[0]


def _still_parses(path: str, text: str) -> bool:
    docs, errors = inputs.parse_file(path, text)
    return not errors

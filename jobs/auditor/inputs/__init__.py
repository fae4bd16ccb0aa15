"""Policy inputs: each file of a repo classified, parsed, and kept with a way back to its lines.

Inputs have conftest's shapes, so a team's conftest policies see what they already expect:
a workflow or a Kubernetes manifest is its YAML document; a Dockerfile is the list of its
instructions (`Cmd` lower-case, `Flags`, `Value`, `Stage`, `JSON`, `SubCmd`, plus our `Line`).
Policies name a location as a path into the input (`["jobs", "build", "steps", 0, "uses"]`);
`Document.line_of` turns it back into a line of the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dockerfile

from app.findings import Finding, Severity
from jobs.auditor.charts import chart_roots as chart_roots
from jobs.auditor.charts import in_chart as in_chart
from jobs.auditor.inputs import yaml_lines as inputs_yaml

if TYPE_CHECKING:  # ruamel loads only for YAML the libyaml fast path does not reproduce
    from ruamel.yaml import YAML

MAX_YAML_BYTES = 2 * 1024 * 1024  # round-trip parsing runs at ~1 MB/s: bound the time
MAX_NODES = 200_000  # a YAML alias bomb expands exponentially: stop long before that
MAX_DOCUMENTS = 500  # documents per YAML file: each is evaluated, so bound the work per file

WORKFLOW_RE = re.compile(r"(^|/)\.github/workflows/[^/]+\.ya?ml$")
DOCKERFILE_RE = re.compile(r"(^|/)(Dockerfile|[^/]+\.Dockerfile|Dockerfile\.[^/]+)$")
YAML_RE = re.compile(r"\.ya?ml$")
JSON_RE = re.compile(r"\.json$")
MANIFEST_RE = re.compile(r"\.(ya?ml|json)$")  # what kubectl -f and Helm read as manifests
WORKLOAD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job",
                  "CronJob", "ReplicationController"}

Loc = Sequence[str | int]


@dataclass
class Document:
    """One policy input: a file (or one YAML document of it) and its line map."""

    path: str
    kind: str  # workflow | dockerfile | kubernetes | change
    input: Any
    line_of: Callable[[Loc], int | None] = field(default=lambda loc: None, repr=False)
    index: int = 0  # document number inside a multi-document YAML file
    tree: Any = field(default=None, repr=False)  # the ruamel tree (None when libyaml parsed it)


class TooBig(ValueError):
    pass


def input_error(path: str, message: str, line: int | None = None,
                severity: Severity = Severity.HARD, rule: str = "INPUT001") -> Finding:
    return Finding(rule=rule, severity=severity, path=path, line=line, message=message,
                   recourse="Fix the file so it parses, or remove it from the change.")


def is_dockerfile(path: str) -> bool:
    # `Dockerfile.dockerignore` is BuildKit's per-Dockerfile ignore file, not a Dockerfile.
    return bool(DOCKERFILE_RE.search(path)) and not path.endswith(".dockerignore")


def is_workflow(path: str) -> bool:
    return bool(WORKFLOW_RE.search(path))


# --- YAML ---------------------------------------------------------------------------------


def yaml_loader() -> YAML:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    # A duplicate key is refused (INPUT003): ruamel would keep the first value where kubectl and
    # Helm apply the last, so the auditor would judge something else than what runs.
    yaml.allow_duplicate_keys = False
    return yaml


def load_yaml(path: str, text: str) -> tuple[list[Any], Finding | None]:
    """All documents of a YAML file (ruamel trees), or a finding saying why not."""
    if len(text.encode("utf-8", "replace")) > MAX_YAML_BYTES:
        return [], input_error(
            path, f"file larger than {MAX_YAML_BYTES // 2**20} MiB: not evaluated, "
            "a human must review it", severity=Severity.SOFT, rule="INPUT002")
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        docs = [d for d in yaml_loader().load_all(text) if d is not None]
    except DuplicateKeyError as exc:
        mark = exc.problem_mark or exc.context_mark
        key = re.search(r'found duplicate key "(.*?)"', str(exc))
        return [], input_error(
            path, f"duplicate key `{key.group(1) if key else '?'}`: tools disagree on which "
            "value applies (kubectl and Helm take the last, others the first)",
            line=mark.line + 1 if mark else None, rule="INPUT003")
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return [], input_error(path, f"invalid YAML: {exc.problem or exc.context}",
                               line=mark.line + 1 if mark else None)
    except (YAMLError, ValueError, RecursionError, TypeError) as exc:  # TypeError: complex keys
        return [], input_error(path, f"invalid YAML: {str(exc).splitlines()[0][:200]}")
    return docs, None


def plain(node: Any, budget: list[int] | None = None) -> Any:
    """A ruamel tree as JSON data; raises TooBig when aliases blow it up."""
    budget = budget if budget is not None else [MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise TooBig(f"document expands past {MAX_NODES} nodes (YAML alias bomb?)")
    if isinstance(node, dict):
        return {str(k): plain(v, budget) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v, budget) for v in node]
    if isinstance(node, bool | int | float) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    return str(node)  # dates, timestamps: as conftest sees them after JSON round-trip


def yaml_line_of(tree: Any) -> Callable[[Loc], int | None]:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    def line_of(loc: Loc) -> int | None:
        node, line = tree, getattr(getattr(tree, "lc", None), "line", None)
        line = line + 1 if line is not None else None
        for key in loc:
            if isinstance(node, CommentedMap) and key in node:
                line = node.lc.key(key)[0] + 1
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
                line = node.lc.item(key)[0] + 1
                node = node[key]
            else:
                break
        return line

    return line_of


def yaml_documents(path: str, text: str, kind: str | None) -> tuple[list[Document], list[Finding]]:
    """Documents of a YAML file: `kind` forces the class, None keeps only Kubernetes objects."""
    loaded, error = _load_plain(path, text)
    if error:
        # Unknown YAML that does not parse may be anything (a template, a fixture): review it.
        if kind is None and error.rule == "INPUT001":  # (a duplicate key, INPUT003, stays hard)
            error.severity = Severity.SOFT
        return [], [error]
    docs: list[Document] = []
    try:
        for i, (data, line_of, tree) in enumerate(loaded):
            if i >= MAX_DOCUMENTS:
                return [], [input_error(
                    path, f"more than {MAX_DOCUMENTS} YAML documents: not evaluated, a human "
                    "must review it (or split the file)", severity=Severity.SOFT,
                    rule="INPUT002")]
            doc_kind = kind or ("kubernetes" if is_manifest(data) else None)
            if doc_kind is None:
                continue
            if doc_kind == "workflow" and not isinstance(data, dict):
                return [], [input_error(path, "a workflow must be a YAML mapping", line=1)]
            docs.append(Document(path, doc_kind, data, line_of, i, tree))
    except (TooBig, RecursionError) as exc:
        return [], [input_error(path, f"not evaluated: {exc}")]
    return docs, []


_Loaded = Iterable[tuple[Any, Callable[[Loc], int | None], Any]]


def _load_plain(path: str, text: str) -> tuple[_Loaded, Finding | None]:
    """(data, line_of, ruamel tree or None) per document: from libyaml when that gives exactly
    what ruamel would, else from ruamel, which also words every error and enforces the limits
    (the plain data of its trees is then built lazily, raising TooBig, as it always was)."""
    if len(text.encode("utf-8", "replace")) <= MAX_YAML_BYTES:
        try:
            return [(data, inputs_yaml.line_finder(lines), None)
                    for data, lines in inputs_yaml.load_documents(text, MAX_NODES)], None
        except inputs_yaml.Unsupported:
            pass
        except inputs_yaml.TooDeep as exc:
            return [], input_error(path, f"invalid YAML: {exc}")
    trees, error = load_yaml(path, text)
    return ((plain(tree), yaml_line_of(tree), tree) for tree in trees), error


def is_manifest(data: Any) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("apiVersion"), str)
            and isinstance(data.get("kind"), str))


# --- Dockerfile -----------------------------------------------------------------------------


def dockerfile_document(path: str, text: str) -> tuple[list[Document], list[Finding]]:
    """conftest's instruction list, plus what BuildKit also reads: `Heredocs` (the bodies of
    `RUN <<EOF` scripts), base images with global `ARG` defaults resolved into `Value`
    (`Original` keeps the text), and a `syntax` pseudo-instruction for a `# syntax=` directive."""
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        return [], [input_error(path, f"invalid Dockerfile: {exc}")]
    instructions: list[dict[str, Any]] = []
    stage = -1
    args: dict[str, str] = {}  # global ARG defaults (before the first FROM)
    for c in commands:
        cmd = c.cmd.lower()
        value = list(c.value)
        if cmd == "from":
            stage += 1
            if value:
                value[0] = _expand_args(value[0], args)
        elif cmd == "arg" and stage < 0:
            for item in value:
                name, eq, default = item.partition("=")
                if eq:
                    args[name] = default.strip("\"'")
        instructions.append({
            "Cmd": cmd, "SubCmd": (c.sub_cmd or "").lower(), "JSON": c.json,
            "Flags": list(c.flags), "Value": value, "Stage": max(stage, 0),
            "Original": c.original, "Line": c.start_line,
            "Heredocs": [h.content for h in getattr(c, "heredocs", ())],
        })
    if not any(i["Cmd"] == "from" for i in instructions):
        first = instructions[0]["Line"] if instructions else 1
        return [], [input_error(path, "no FROM instruction: not a valid Dockerfile", line=first)]
    for line, frontend in _syntax_directives(text):
        instructions.append({"Cmd": "syntax", "SubCmd": "", "JSON": False, "Flags": [],
                             "Value": [frontend], "Stage": 0, "Original": f"# syntax={frontend}",
                             "Line": line, "Heredocs": []})

    def line_of(loc: Loc) -> int | None:
        if loc and isinstance(loc[0], int) and 0 <= loc[0] < len(instructions):
            return int(instructions[loc[0]]["Line"])
        return 1

    return [Document(path, "dockerfile", instructions, line_of)], []


_ARG_REF_RE = re.compile(r"\$(?:\{(\w+)(?::?[-+]([^}]*))?\}|(\w+))")
_DIRECTIVE_RE = re.compile(r"#\s*(\w+)\s*=\s*(\S*)\s*$")


def _expand_args(value: str, args: dict[str, str]) -> str:
    """`${BASE}`, `$BASE`, `${BASE:-x}` as BuildKit expands them in FROM (unknown stays)."""
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3)
        if name in args and args[name]:
            return args[name]
        return m.group(2) if m.group(2) is not None else m.group(0)

    return _ARG_REF_RE.sub(sub, value)


def _syntax_directives(text: str) -> list[tuple[int, str]]:
    """`# syntax=` parser directives: only in the comment lines that open the file."""
    found = []
    for n, line in enumerate(text.splitlines()[:20], 1):
        m = _DIRECTIVE_RE.fullmatch(line.strip())
        if not m:
            break
        if m.group(1).lower() == "syntax":
            found.append((n, m.group(2)))
    return found


# --- classification -------------------------------------------------------------------------


def parse_file(path: str, text: str) -> tuple[list[Document], list[Finding]]:
    """The policy inputs of one file (none for files no policy looks at)."""
    if "\0" in text[:8192] and (is_workflow(path) or is_dockerfile(path)):
        return [], [input_error(path, "binary content where text was expected", line=1)]
    if len(text) > MAX_YAML_BYTES and (is_workflow(path) or is_dockerfile(path)):
        return [], [input_error(path, f"file larger than {MAX_YAML_BYTES // 2**20} MiB: not "
                                "evaluated, a human must review it", severity=Severity.SOFT,
                                rule="INPUT002")]
    if is_workflow(path):
        return yaml_documents(path, text, "workflow")
    if is_dockerfile(path):
        return dockerfile_document(path, text)
    if YAML_RE.search(path):
        # Cheap pre-filter: a manifest names its kind at the top level.
        if not re.search(r"^kind\s*:", text, re.MULTILINE):
            return [], []
        return yaml_documents(path, text, None)
    if JSON_RE.search(path):
        return json_documents(path, text)
    return [], []


def json_documents(path: str, text: str) -> tuple[list[Document], list[Finding]]:
    """Kubernetes objects in a .json file (`kubectl apply -f x.json`); JSON is YAML 1.2, so the
    YAML reader gives the lines; JSON it refuses (tabs) is read without them."""
    if not re.search(r'"kind"\s*:', text) or len(text) > MAX_YAML_BYTES:
        return [], []
    docs, errors = yaml_documents(path, text, None)
    if not errors or errors[0].rule == "INPUT003":
        return docs, errors
    try:
        data = json.loads(text)
    except ValueError:
        return [], []  # not JSON either: no manifest
    if not is_manifest(data):
        return [], []
    return [Document(path, "kubernetes", data, lambda loc: 1)], []


def template_line(template: str | None, loc: Loc) -> int | None:
    """Best-effort line in a Helm template for a location in its rendered output."""
    if not template:
        return None
    for key in reversed([k for k in loc if isinstance(k, str)]):
        m = re.search(rf"^\s*-?\s*{re.escape(key)}\s*:", template, re.MULTILINE)
        if m:
            return template.count("\n", 0, m.start()) + 1
    return None

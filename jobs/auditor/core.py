"""The auditor's pure core: files in, findings and a verdict out.

Every file is classified (workflow, Dockerfile, Kubernetes manifest, Helm chart), parsed into
conftest-shaped inputs that remember their lines, and evaluated against compiled Rego
policies. One more input describes the change as a whole (secret candidates on added lines,
charts, PR metadata) for the rules that need more than one file.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from app import POLICIES_DIR
from app.config import CONFIG_PATH, ConfigError, PoliciesConfig, parse_config
from app.files import Files, read_tree
from app.findings import Finding, Fix, Mode, Severity, Verdict, verdict_of
from app.helm import release_name  # as the pipeline's validation: one render serves both
from jobs.auditor import inputs
from jobs.auditor.engine import PolicyError, PolicySet, RawResult, TimedOut
from jobs.auditor.inputs import Document
from jobs.auditor.inputs.secret_scan import secret_candidates

INPUT_RULES = ("INPUT", "POLICY", "CONFIG")


class AuditResult(BaseModel):
    findings: list[Finding]
    verdict: Verdict
    notes: list[str] = []  # what was not evaluated, and why
    excluded: list[str] = []  # findings the config dropped, counted, and why
    timings: dict[str, float] = {}

    @property
    def errors(self) -> list[Finding]:
        """Inputs or policies that could not be evaluated (also counted in `findings`)."""
        return [f for f in self.findings if f.rule.startswith(INPUT_RULES)]


@lru_cache(maxsize=8)
def _compiled(dirs: tuple[Path, ...], stamp: tuple[float, ...]) -> PolicySet:
    return PolicySet.load(list(dirs))


def load_policies(dirs: list[Path]) -> PolicySet:
    """The compiled policy set for `dirs`, built once per process (rebuilt if a file changes)."""
    resolved = tuple(d.resolve() for d in dirs)
    stamp = tuple(p.stat().st_mtime for d in resolved if d.is_dir() for p in d.rglob("*.rego"))
    return _compiled(resolved, stamp)


def _chart_renderer() -> Callable[..., dict[str, str]] | None:
    try:
        from app.helm import render_chart  # written by the pipeline engineer
    except ImportError:
        return None
    return render_chart


def chart_documents(files: Files, root: str) -> tuple[list[Document], list[Finding], list[str]]:
    """The rendered manifests of the chart at `root`, located in its templates."""
    render = _chart_renderer()
    chart_file = f"{root}/Chart.yaml" if root else "Chart.yaml"
    if render is None:
        return [], [], [f"{chart_file}: Helm chart not evaluated (no renderer available)"]
    prefix = f"{root}/" if root else ""
    chart_files = {p[len(prefix):]: t for p, t in files.items() if p.startswith(prefix)}
    try:
        rendered = render(chart_files, release=release_name(root))
    except Exception as exc:  # the renderer is an edge (helm): report, never crash
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        where = getattr(exc, "path", None)
        path = prefix + where if where else chart_file
        return [], [inputs.input_error(path, f"chart does not render: {message[:300]}",
                                       line=getattr(exc, "line", None) or 1)], []
    docs: list[Document] = []
    findings: list[Finding] = []
    for name, text in sorted(rendered.items()):
        if not inputs.MANIFEST_RE.search(name):
            continue  # NOTES.txt and friends (Helm reads *.json templates as manifests too)
        template = name if name in chart_files else name.split("/", 1)[-1]
        repo_path = prefix + template if template in chart_files else chart_file
        found, errors = inputs.yaml_documents(repo_path, text, None)
        source = chart_files.get(template)
        for doc in found:
            doc.line_of = partial(_template_line, source)
            docs.append(doc)
        findings.extend(errors)
    return docs, findings, []


def _template_line(source: str | None, loc: inputs.Loc) -> int | None:
    return inputs.template_line(source, loc) or 1


def _finding(raw: RawResult, doc: Document, text: str | None) -> Finding:
    data: dict[str, Any] = raw.data
    severity = data.get("severity")
    if severity not in ("hard", "soft"):
        severity = "soft" if raw.level == "warn" else "hard"
    where = data.get("path")
    path: str = data["file"] if isinstance(data.get("file"), str) else doc.path
    line = data.get("line") if isinstance(data.get("line"), int) else None
    if isinstance(where, str):
        path = where
    elif isinstance(where, list) and line is None:
        line = doc.line_of(where)
    offset = data.get("line_offset")
    if isinstance(offset, int) and text and line:
        line = _inside_scalar(text, line, offset)
    fix = data.get("fix")
    return Finding(
        rule=str(data.get("id") or raw.rule), severity=Severity(severity), path=path,
        line=line if line and line > 0 else None, message=raw.msg,
        recourse=str(data.get("recourse") or ""),
        fix=Fix(kind=fix, path=path, description=str(data.get("recourse") or ""))
        if isinstance(fix, str) else None,
    )


@lru_cache(maxsize=16)
def _lines(text: str) -> list[str]:
    return text.splitlines()  # once per file, not once per finding


def _inside_scalar(text: str, line: int, offset: int) -> int:
    """The line `offset` lines into the scalar whose key sits on `line` (block or inline)."""
    lines = _lines(text)
    head = lines[line - 1] if 0 < line <= len(lines) else ""
    block = re.search(r":\s*[|>][-+0-9]*\s*(#.*)?$", head) is not None
    return min(line + offset + (1 if block else 0), len(lines)) or line


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    """A path glob: `**` spans directories, `*` and `?` stay within one."""
    out = []
    for part in re.split(r"(\*\*/?|\*|\?)", pattern.strip("/")):
        if part.startswith("**"):
            out.append("(?:.*/)?" if part.endswith("/") else ".*")
        elif part == "*":
            out.append("[^/]*")
        elif part == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(part))
    return re.compile("".join(out))


def matches(path: str, patterns: list[str]) -> str | None:
    """The first glob of `patterns` that `path` matches."""
    return next((p for p in patterns if _glob(p).fullmatch(path)), None)


def _configure(findings: list[Finding], config: PoliciesConfig,
               changed: dict[str, set[int]] | None) -> tuple[list[Finding], list[str]]:
    """Findings with the config's modes and severities; and what it dropped, counted."""
    out = []
    dropped: dict[str, int] = {}
    for f in findings:
        glob = matches(f.path, config.exclude) if f.path else None
        if glob is not None:
            key = f"{f.rule} in `{f.path}` (policies.exclude `{glob}`)"
            dropped[key] = dropped.get(key, 0) + 1
            continue
        override = config.rules.get(f.rule)
        if override and override.paths is not None and not (
                f.path and matches(f.path, override.paths)):
            override = None  # a scoped override: not for this file
        if override and override.mode == "off":
            scope = (f"policies.rules.{f.rule}.paths `{matches(f.path, override.paths)}`"
                     if override.paths is not None else f"policies.rules.{f.rule}: off")
            key = f"{f.rule} in `{f.path or 'the change'}` ({scope})"
            dropped[key] = dropped.get(key, 0) + 1
            continue
        mode = override.mode if override and override.mode else config.mode
        if changed is not None and f.path not in changed and config.legacy == "report":
            mode = "audit"  # legacy: an untouched file is reported, not blocking
        severity = override.severity if override and override.severity else f.severity
        out.append(f.model_copy(update={"mode": Mode(mode), "severity": Severity(severity)}))
    return out, [f"{key}: {n} finding(s)" for key, n in sorted(dropped.items())]


def audit_files(files: Files, *, policy_dirs: list[Path] | None = None,
                config: PoliciesConfig | None = None,
                changed: dict[str, set[int]] | None = None,
                metadata: dict[str, Any] | None = None) -> AuditResult:
    """Audit a repo snapshot. `changed`: added lines per file (None: all lines, offline)."""
    config = config or PoliciesConfig()
    started = time.perf_counter()
    try:
        policies = load_policies([POLICIES_DIR, *(policy_dirs or [])])
    except PolicyError as exc:
        finding = Finding(rule="POLICY001", path="", message=str(exc),
                          recourse="Fix the policy (Rego v1 syntax) on the default branch.")
        return AuditResult(findings=[finding], verdict=Verdict.FAIL)
    compiled = time.perf_counter()

    docs: list[Document] = []
    findings: list[Finding] = []
    notes: list[str] = []
    marks: dict[str, float] = {}
    # Parsing feeds evaluation as it goes (policy threads run while the next file is parsed).
    produced = _documents(files, changed, metadata, docs, findings, notes, marks)
    outcomes = policies.evaluate_many(d.input for d in produced)
    for doc, raws in zip(docs, outcomes, strict=True):
        if isinstance(raws, TimedOut):
            findings.append(Finding(
                rule="POLICY003", path=doc.path, line=1, message=str(raws)[:500],
                recourse="Split the file into smaller ones, or ask the policy owners to make "
                "the rule cheaper; a human must review this file."))
            continue
        if isinstance(raws, PolicyError):
            findings.append(Finding(rule="POLICY002", path=doc.path, message=str(raws)[:500]))
            continue
        findings += [_finding(r, doc, files.get(doc.path)) for r in raws]
    evaluated = time.perf_counter()
    parsed = marks.get("parsed", evaluated)

    unique = {(f.rule, f.path, f.line, f.message): f for f in findings}
    final, excluded = _configure(sorted(unique.values(), key=_order), config, changed)
    return AuditResult(
        findings=final, verdict=verdict_of(final), notes=notes, excluded=excluded,
        timings={"compile": compiled - started, "parse": parsed - compiled,
                 "evaluate": evaluated - parsed, "total": evaluated - started,
                 "documents": float(len(docs))},
    )


def with_config_error(result: AuditResult, error: ConfigError) -> AuditResult:
    """Fail closed on a broken repo config: the team's rules (`policies.dirs`, waivers) are
    unknown, so the built-in verdict alone cannot pass the change."""
    finding = Finding(
        rule="CONFIG001", severity=Severity.HARD, mode=Mode.ENFORCE, path="",
        message=f"`{CONFIG_PATH}` on the default branch is invalid, so the team's policies "
        f"(`policies.dirs`) and waivers were not applied: {error.summary()}"[:1000],
        recourse=f"Fix `{CONFIG_PATH}` on the default branch "
        "then re-run this check.")
    findings = [finding, *result.findings]
    return result.model_copy(update={"findings": findings, "verdict": verdict_of(findings)})


def _documents(files: Files, changed: dict[str, set[int]] | None,
               metadata: dict[str, Any] | None, docs: list[Document], findings: list[Finding],
               notes: list[str], marks: dict[str, float]) -> Iterator[Document]:
    """Every policy input of the snapshot, appended to `docs` as it is yielded; parse errors
    go to `findings`, files not evaluated to `notes`, and the end of parsing to `marks`."""
    roots = inputs.chart_roots(files)
    charts: list[dict[str, Any]] = []
    for root in roots:
        chart_docs, errors, chart_notes = chart_documents(files, root)
        findings += errors
        notes += chart_notes
        kinds = sorted({d.input["kind"] for d in chart_docs})
        charts.append({
            "name": root or ".", "chart_file": f"{root}/Chart.yaml" if root else "Chart.yaml",
            "kinds": kinds, "evaluated": not chart_notes,
            "workloads": sorted({d.input["kind"] for d in chart_docs
                                 if d.input["kind"] in inputs.WORKLOAD_KINDS}),
        })
        for doc in chart_docs:
            docs.append(doc)
            yield doc
    for path in sorted(files):
        if inputs.in_chart(path, roots) is not None:
            continue
        found, errors = inputs.parse_file(path, files[path])
        findings += errors
        for doc in found:
            docs.append(doc)
            yield doc
    marks["parsed"] = time.perf_counter()
    change = {
        "shipcrew": "change", "metadata": metadata or {},
        "files": sorted(files if changed is None else changed),
        "secrets": secret_candidates(files, changed),
        "charts": [c for c in charts if c["evaluated"]],
    }
    docs.append(Document("", "change", change))
    yield docs[-1]


def _order(f: Finding) -> tuple[str, int, str]:
    return (f.path, f.line or 0, f.rule)


def cli_audit(path: Path, fmt: str, policy_dirs: list[Path]) -> int:
    """`shipcrew audit PATH`: 0 pass/review, 1 fail, 2 usage or input error."""
    from jobs.auditor.report import FORMATS, render

    if fmt not in FORMATS:
        print(f"shipcrew audit: unknown format {fmt!r} (use {', '.join(FORMATS)})",
              file=sys.stderr)
        return 2
    if not path.exists():
        print(f"shipcrew audit: {path}: no such file or directory", file=sys.stderr)
        return 2
    if path.is_dir():
        files = read_tree(path)
        base = path
    else:
        text = inputs_decode(path)
        if text is None:
            print(f"shipcrew audit: {path}: not a text file", file=sys.stderr)
            return 2
        files, base = {path.name if path.is_absolute() else path.as_posix(): text}, Path(".")
    config = parse_config(files.get(CONFIG_PATH))
    if isinstance(config, ConfigError):
        print(f"shipcrew audit: invalid config:\n{config.summary()}", file=sys.stderr)
        return 2
    dirs = [*policy_dirs, *(base / d for d in config.policies.dirs)]
    try:
        load_policies([POLICIES_DIR, *dirs])
    except PolicyError as exc:
        print(f"shipcrew audit: {exc}", file=sys.stderr)
        return 2
    result = audit_files(files, policy_dirs=dirs, config=config.policies)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for line in result.excluded:
        print(f"excluded: {line}", file=sys.stderr)
    print(render(result.findings, result.verdict, fmt))
    return 1 if result.verdict is Verdict.FAIL else 0


def inputs_decode(path: Path) -> str | None:
    from app.files import decode

    try:
        return decode(path.read_bytes())
    except OSError:
        return None

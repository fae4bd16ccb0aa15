"""The validation gate: the real tools of each field, run offline on generated files.

actionlint and zizmor (offline) on workflows, hadolint (failure threshold: warning) on
Dockerfiles, Helm's strict linter and renderer on charts (one child process per chart,
answers kept by content in app.rendercache), and every rendered manifest against the
Kubernetes JSON schemas (strict, fixed version). Tools come from the venv that runs us, never
from PATH. The workflow and Dockerfile tools run concurrently with Helm and the schema
checks; each tool's wall time is recorded.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from app.files import Files, write_tree
from app.helm import check_chart, manifests, release_name

KUBE_VERSION = "1.34.0"
TOOL_TIMEOUT = 60
Level = Literal["error", "warning", "info", "ok"]
# Kinds whose absence from the schemas means a typo or a removed API, not a CRD.
CORE_GROUP = re.compile(r"^(v1|[a-z]+/v\w+|[a-z.]+\.k8s\.io/v\w+)$")


class ValidationResult(BaseModel):
    tool: str
    path: str
    line: int | None = None
    level: Level
    message: str
    ok: bool


class ValidationReport(BaseModel):
    results: list[ValidationResult]
    timings: dict[str, float]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def errors(self) -> list[ValidationResult]:
        return [r for r in self.results if not r.ok]


def tool_path(name: str) -> Path:
    """A tool installed in the same venv as the running interpreter."""
    return Path(sys.executable).parent / name


def validate(files: Files) -> list[ValidationResult]:
    return validate_report(files).results


def validate_report(files: Files) -> ValidationReport:
    workflows = sorted(p for p in files if re.match(r"\.github/workflows/[^/]+\.ya?ml$", p))
    dockerfiles = sorted(p for p in files if p.rsplit("/", 1)[-1] == "Dockerfile")
    charts = sorted(p.removesuffix("Chart.yaml").rstrip("/") for p in files
                    if p.rsplit("/", 1)[-1] == "Chart.yaml")
    timings: dict[str, float] = {}
    results: list[ValidationResult] = []
    with tempfile.TemporaryDirectory(prefix="shipcrew-validate-") as tmp:
        root = Path(tmp)
        write_tree(root, {p: files[p] for p in workflows + dockerfiles})
        jobs = []
        with ThreadPoolExecutor(max_workers=3) as pool:
            if workflows:
                jobs.append(pool.submit(_timed, timings, "actionlint", _actionlint, root,
                                        workflows))
                jobs.append(pool.submit(_timed, timings, "zizmor", _zizmor, root, workflows))
            if dockerfiles:
                jobs.append(pool.submit(_timed, timings, "hadolint", _hadolint, root,
                                        dockerfiles))
            if charts:
                results += _timed(timings, "helm+kubernetes-validate", _charts, files, charts)
            for job in jobs:
                results += job.result()
    for tool, paths in (("actionlint", workflows), ("zizmor", workflows),
                        ("hadolint", dockerfiles), ("helm", charts)):
        results += [ValidationResult(tool=tool, path=p, level="ok", message="no findings",
                                     ok=True) for p in paths if not _reported(results, tool, p)]
    return ValidationReport(results=sorted(results, key=lambda r: (r.path, r.tool, r.line or 0)),
                            timings=timings)


def _reported(results: list[ValidationResult], tool: str, path: str) -> bool:
    if tool == "helm":
        return any(r.path.startswith(path + "/") for r in results if r.level != "ok")
    return any(r.tool == tool and r.path == path for r in results)


def _timed(timings: dict[str, float], name: str, fn: Any, *args: Any) -> list[ValidationResult]:
    start = time.perf_counter()
    try:
        return fn(*args)  # type: ignore[no-any-return]
    finally:
        timings[name] = round(time.perf_counter() - start, 3)


def _run(tool: str, args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str] | None,
                                                          ValidationResult | None]:
    exe = tool_path(tool)
    if not exe.exists():
        return None, ValidationResult(tool=tool, path="", level="error", ok=False,
                                      message=f"{tool} is not installed next to {sys.executable}")
    try:
        proc = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True,
                              timeout=TOOL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return None, ValidationResult(tool=tool, path="", level="error", ok=False,
                                      message=f"{tool} timed out after {TOOL_TIMEOUT}s")
    return proc, None


def _actionlint(root: Path, paths: list[str]) -> list[ValidationResult]:
    proc, failure = _run("actionlint", ["-no-color", "-format", "{{json .}}", *paths], root)
    if failure or proc is None:
        return [failure] if failure else []
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        if proc.returncode == 0:
            return []
        return [ValidationResult(tool="actionlint", path="", level="error", ok=False,
                                 message=(proc.stderr or proc.stdout).strip()[:500])]
    return [ValidationResult(tool="actionlint", path=e["filepath"], line=e.get("line"),
                             level="error", ok=False, message=f"[{e['kind']}] {e['message']}")
            for e in json.loads(proc.stdout)]


def _zizmor(root: Path, paths: list[str]) -> list[ValidationResult]:
    proc, failure = _run("zizmor", ["--offline", "--no-progress", "--format", "json",
                                    "--persona", "regular", *paths], root)
    if failure or proc is None:
        return [failure] if failure else []
    try:
        findings = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        return [ValidationResult(tool="zizmor", path="", level="error", ok=False,
                                 message=(proc.stderr or proc.stdout).strip()[:500])]
    out = []
    for f in findings:
        loc = (f.get("locations") or [{}])[0]
        key = loc.get("symbolic", {}).get("key", {})
        local = key.get("Local", {}) if isinstance(key, dict) else {}
        path = local.get("verbatim_path") or local.get("given_path") or ""
        line = loc.get("concrete", {}).get("location", {}).get("start_point", {}).get("row")
        severity = f.get("determinations", {}).get("severity", "Unknown")
        level: Level = "warning" if severity in ("Informational", "Unknown") else "error"
        out.append(ValidationResult(tool="zizmor", path=path, ok=False, level=level,
                                    line=line + 1 if isinstance(line, int) else None,
                                    message=f"[{f.get('ident')}] {f.get('desc')} ({severity})"))
    if proc.returncode not in (0, *range(10, 15)) and not out:
        out.append(ValidationResult(tool="zizmor", path="", level="error", ok=False,
                                    message=(proc.stderr or "zizmor failed").strip()[:500]))
    return out


def _hadolint(root: Path, paths: list[str]) -> list[ValidationResult]:
    proc, failure = _run("hadolint", ["--no-color", "--failure-threshold", "warning",
                                      "--format", "json", *paths], root)
    if failure or proc is None:
        return [failure] if failure else []
    try:
        findings = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        return [ValidationResult(tool="hadolint", path="", level="error", ok=False,
                                 message=(proc.stderr or proc.stdout).strip()[:500])]
    out = []
    for f in findings:
        level = f.get("level", "error")
        failing = level in ("error", "warning")
        out.append(ValidationResult(
            tool="hadolint", path=f.get("file", ""), line=f.get("line"), ok=not failing,
            level="info" if level in ("info", "style") else level,
            message=f"[{f.get('code')}] {f.get('message')}"))
    return out


def _charts(files: Files, charts: list[str]) -> list[ValidationResult]:
    out: list[ValidationResult] = []
    for chart_dir in charts:
        prefix = f"{chart_dir}/" if chart_dir else ""
        chart = {p.removeprefix(prefix): t for p, t in files.items() if p.startswith(prefix)}
        check = check_chart(chart, release=release_name(chart_dir),
                            kube_version=f"v{KUBE_VERSION}")
        for msg in check.lint:
            if msg["severity"] == "info":
                continue
            out.append(ValidationResult(tool="helm lint", path=prefix + msg["path"],
                                        level="error" if msg["severity"] == "error" else
                                        "warning", ok=False, message=msg["message"]))
        if (exc := check.error) is not None:
            out.append(ValidationResult(tool="helm template", path=prefix + (exc.path or ""),
                                        line=exc.line, level="error", ok=False,
                                        message=exc.message))
            continue
        for path, text in check.rendered.items():
            if path.endswith((".yaml", ".yml", ".json")):
                out += kube_schema(manifests(text, path), prefix + path)
    return out


@functools.lru_cache(maxsize=64)
def _kube_validator(schema_file: str, version: str) -> Any:
    """A validator per kind, built once per process: kubernetes-validate re-reads its 1.27 MB
    `_definitions.json` on every call. FileNotFoundError when Kubernetes has no such kind."""
    import jsonschema
    from kubernetes_validate import utils as kv
    from referencing import Registry, Resource

    schema_dir = f"kubernetes-json-schema/v{version}-local-strict"
    schema = kv.schema_contents(f"{schema_dir}/{schema_file}", version)
    defs = _kube_definitions(version)
    registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.lru_cache(maxsize=4)
def _kube_definitions(version: str) -> Any:
    from kubernetes_validate import utils as kv

    return kv.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version)


def kube_schema(docs: list[dict[str, Any]], path: str,
                version: str = KUBE_VERSION) -> list[ValidationResult]:
    """Every schema error of every object (kubernetes-validate stops at the first)."""
    out = []
    for doc in docs:
        api, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
        where = f"{kind}/{doc.get('metadata', {}).get('name', '?')}"
        group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api)
        try:
            validator = _kube_validator(f"{kind.lower()}-{group}.json", version)
        except FileNotFoundError:
            core = bool(CORE_GROUP.match(api)) and not api.startswith(("http", "x-"))
            out.append(ValidationResult(
                tool="kubernetes-validate", path=path, ok=not core,
                level="error" if core else "warning",
                message=f"{where}: no schema for {kind} {api} in Kubernetes {version}"
                        + (" (unknown or removed kind)" if core else " (custom resource)")))
            continue
        for err in validator.iter_errors(doc):
            field = ".".join(str(p) for p in err.absolute_path)
            out.append(ValidationResult(tool="kubernetes-validate", path=path, level="error",
                                        ok=False, message=f"{where}: {field}: {err.message}"))
    return out

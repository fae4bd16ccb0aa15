"""Render and lint Helm charts offline through Helm's own Go SDK (helm-python-sdk).

Works for any chart given as `Files` (paths relative to the chart root), so the auditor can
render charts found in pull requests. Helm's renderer does not check that its output is
YAML, so every rendered manifest is parsed here and a broken one raises `ChartError`.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from app.files import Files, write_tree

# Helm reports template errors as "<chart>/templates/x.yaml:12:3" or "(<chart>/x.yaml:12)".
_LOCATION = re.compile(r"(?:[\w.-]+/)?((?:templates|charts)/[\w./-]+?|Chart\.yaml|values\.yaml)"
                       r":(\d+)")
_YAML_SUFFIXES = (".yaml", ".yml", ".json")
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: same data, ~10x faster


class ChartError(Exception):
    """A chart that cannot be loaded or rendered, or renders to something that is not YAML."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        super().__init__(f"{path or 'chart'}:{line or '?'}: {message}")
        self.message = message
        self.path = path
        self.line = line


def _located(message: str) -> tuple[str | None, int | None]:
    m = _LOCATION.search(message)
    return (m.group(1), int(m.group(2))) if m else (None, None)


def _write(chart: Files, where: Path) -> Path:
    if "Chart.yaml" not in chart:
        raise ChartError("no Chart.yaml at the chart root", "Chart.yaml")
    root = where / "chart"
    write_tree(root, chart)
    return root


def render_chart(chart: Files, release: str = "release", values: dict[str, Any] | None = None,
                 namespace: str = "default") -> dict[str, str]:
    """Template path (relative to the chart root) -> rendered text, like `helm template`."""
    import helm_python as helm

    with tempfile.TemporaryDirectory(prefix="shipcrew-chart-") as tmp:
        root = _write(chart, Path(tmp))
        try:
            with helm.Chart.load(root) as loaded:
                prefix = f"{loaded.name}/"
                rendered = loaded.render(values=values, name=release, namespace=namespace,
                                         is_install=True)
        except helm.HelmError as exc:
            raise ChartError(str(exc), *_located(str(exc))) from exc
    out = {path.removeprefix(prefix): text for path, text in sorted(rendered.items())}
    for path, text in out.items():
        if path.endswith(_YAML_SUFFIXES):
            manifests(text, path)
    return out


def manifests(text: str, path: str = "manifest") -> list[dict[str, Any]]:
    """Every non-empty YAML document of a rendered template; ChartError when not YAML."""
    try:
        docs = list(yaml.load_all(text, Loader=_SAFE_LOADER))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ChartError(f"rendered output is not YAML: {getattr(exc, 'problem', exc)}",
                         path, mark.line + 1 if mark else None) from exc
    out = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ChartError(f"rendered document is a {type(doc).__name__}, not a mapping", path)
        out.append(doc)
    return out


def lint_chart(chart: Files, values: dict[str, Any] | None = None,
               kube_version: str | None = None) -> list[dict[str, Any]]:
    """Helm's linter (strict): [{"severity": info|warning|error, "path", "message"}]."""
    import helm_python as helm

    names = {0: "unknown", 1: "info", 2: "warning", 3: "error"}
    with tempfile.TemporaryDirectory(prefix="shipcrew-chart-") as tmp:
        root = _write(chart, Path(tmp))
        report = helm.lint(root, values, strict=True, kube_version=kube_version)
    found = [{"severity": names.get(m.get("severity", 0), "unknown"), "path": m.get("path", ""),
              "message": m.get("error", "")} for m in report.get("messages", [])]
    found += [{"severity": "error", "path": "", "message": e} for e in report.get("errors", [])
              if not any(e in f["message"] for f in found)]
    return found

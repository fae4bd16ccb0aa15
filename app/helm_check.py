"""The check child: Helm's linter and renderer on one chart, through helm-python's wrapper.

    python -S -m app.helm_check check < request.json

app.helm.check_chart starts it (limited by `preexec_fn`, see app.helm.Isolated) and reads one
JSON reply: {"ok": {"lint": [...], "render": {"ok": ...} | {"error": ...}}} or {"error": ...}.
Renders alone run in app/helm_child.py, which is lighter to start.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.files import Files
from app.helm import RELEASE, ChartError, _error, _located, _write


def _render(root: Path, release: str, values: dict[str, Any] | None,
            namespace: str) -> dict[str, str]:
    import helm_python as helm

    try:
        with helm.Chart.load(root) as loaded:
            prefix = f"{loaded.name}/"
            rendered = loaded.render(values=values, name=release, namespace=namespace,
                                     is_install=True)
    except helm.HelmError as exc:
        raise ChartError(str(exc), *_located(str(exc))) from exc
    return {path.removeprefix(prefix): text for path, text in sorted(rendered.items())}


def _lint(root: Path, values: dict[str, Any] | None,
          kube_version: str | None) -> list[dict[str, Any]]:
    import helm_python as helm

    names = {0: "unknown", 1: "info", 2: "warning", 3: "error"}
    report = helm.lint(root, values, strict=True, kube_version=kube_version)
    found = [{"severity": names.get(m.get("severity", 0), "unknown"), "path": m.get("path", ""),
              "message": m.get("error", "")} for m in report.get("messages", [])]
    found += [{"severity": "error", "path": "", "message": e} for e in report.get("errors", [])
              if not any(e in f["message"] for f in found)]
    return found


def _run(op: str, chart: Files, release: str = RELEASE, values: dict[str, Any] | None = None,
         namespace: str = "default", kube_version: str | None = None) -> Any:
    with tempfile.TemporaryDirectory(prefix="shipcrew-chart-") as tmp:
        root = _write(chart, Path(tmp))
        lint = _lint(root, values, kube_version)
        try:
            render: dict[str, Any] = {"ok": _render(root, release, values, namespace)}
        except ChartError as exc:
            render = _error(exc)
        return {"lint": lint, "render": render}


def _child(op: str) -> None:
    request = json.loads(sys.stdin.buffer.read())
    try:
        reply: dict[str, Any] = {"ok": _run(op, **request)}
    except ChartError as exc:
        reply = _error(exc)
    sys.stdout.write(json.dumps(reply))


if __name__ == "__main__":
    _child(sys.argv[1])

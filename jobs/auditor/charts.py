"""Helm charts in a snapshot: where they are, and their renders started early.

Light on purpose (no YAML, no Rego, no pydantic): `shipcrew audit` finds the charts and starts
Helm's child processes before it imports the rest of the auditor, so Helm's start-up (loading
an 85 MB Go library) runs while Python imports the parsers and compiles the policies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from app.files import Files


def chart_roots(files: Files) -> list[str]:
    """Directories holding a Chart.yaml ("" for the repo root)."""
    roots = [p[: -len("Chart.yaml")].rstrip("/") for p in files
             if p == "Chart.yaml" or p.endswith("/Chart.yaml")]
    return sorted(roots)


def in_chart(path: str, roots: Sequence[str]) -> str | None:
    for root in roots:
        if root == "" or path.startswith(root + "/"):
            return root
    return None


def chart_files(files: Files, root: str) -> Files:
    """The chart at `root`, its paths relative to it."""
    prefix = f"{root}/" if root else ""
    return {p[len(prefix):]: t for p, t in files.items() if p.startswith(prefix)}


def renderer() -> Callable[..., Any] | None:
    """`app.helm.start_render`: a chart renders in its own process, `.result()` waits."""
    try:
        from app.helm import start_render  # written by the pipeline engineer
    except ImportError:
        return None
    return start_render


def release(root: str) -> str:
    """The release name the chart at `root` renders as: the pipeline's validation uses the
    same (app.helm.release_name), so one render, kept by content, serves both."""
    from app.helm import release_name

    return release_name(root)


def start_charts(files: Files, roots: list[str] | None = None) -> dict[str, Any]:
    """Start rendering every chart now (root -> its render; `.close()` each when done). A
    chart that cannot even start is left out: the audit tries again and reports why."""
    roots = chart_roots(files) if roots is None else roots
    start = renderer() if roots else None  # no chart: Helm's module is not even imported
    pending: dict[str, Any] = {}
    if start is None:
        return pending
    for root in roots:
        try:
            pending[root] = start(chart_files(files, root), release=release(root))
        except Exception:  # reported by core.chart_documents
            continue
    return pending


def close(pending: dict[str, Any]) -> None:
    for render in pending.values():
        render.close()

"""The auditor: workflows, Dockerfiles, Kubernetes manifests, secrets and provenance against
Rego policies; the verdict is the `shipcrew / policy` check run.

    core.py      audit_files (pure: files in, findings and verdict out)
    cli.py       `shipcrew audit` (light: starts chart renders before the heavy imports)
    charts.py    where the charts are; their Helm renders, started early
    engine.py    the Rego engine behind a small interface; sources.py reads policy files
    inputs/      files -> documents with line numbers (YAML, Dockerfile, secrets)
    fixes.py     safe automatic edits (yaml_edit.py edits YAML text in place)
    report.py    text/JSON/SARIF and check-run output; explain.py for `/crew explain`
    github.py    the GitHub edge: read the head, publish the check run, Apply fixes
    push.py      the same verdict for commits pushed to the default or a deploy branch

The RQ entry points below import the GitHub edge lazily, so `shipcrew audit` starts fast.
"""

from __future__ import annotations

from typing import Any


def audit_pull_request(**kwargs: Any) -> dict[str, Any]:
    from jobs.auditor.github import audit_pull_request as run

    return run(**kwargs)


def on_check_run_action(**kwargs: Any) -> dict[str, Any]:
    from jobs.auditor.github import on_check_run_action as run

    return run(**kwargs)


def rerun(**kwargs: Any) -> dict[str, Any]:
    from jobs.auditor.github import rerun as run

    return run(**kwargs)


def audit_push(**kwargs: Any) -> dict[str, Any]:
    from jobs.auditor.push import audit_push as run

    return run(**kwargs)

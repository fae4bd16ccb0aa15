"""The pipeline engineer: detect each service's stack, generate CI/CD workflows, a Dockerfile
and a Helm chart, validate them with the real linters, commit them as one commit.

    stacks/      stack detection per ecosystem (pure)
    plan.py      what to create, update or skip; the validation gate; `shipcrew run`
    render.py    templates -> files; validate.py runs actionlint, zizmor, hadolint, Helm, schemas
    report.py    the `shipcrew / pipeline` check-run output
    github.py    the GitHub edge: read the head, deliver (commit / PR / suggest), report

The RQ entry point imports the GitHub edge lazily.
"""

from __future__ import annotations

from typing import Any


def generate_for_pull_request(**kwargs: Any) -> dict[str, Any]:
    from jobs.pipeline.github import generate_for_pull_request as run

    return run(**kwargs)

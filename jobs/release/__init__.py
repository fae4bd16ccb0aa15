"""The release manager and the deployment orchestrator: gate every deployment to a GitHub
Environment from evidence, follow deployments and roll back failures.

    gates.py     the gates and their evidence model (pure); decide.py combines them
    freeze.py    freeze windows; history.py deployment history and rollback targets
    evidence.py  gathering evidence from GitHub (checks, PRs, classification)
    store.py     pending gates, approvals, waivers, decisions, pushes (Redis)
    heads.py     who made each head and when; which head a comment is about
    packet.py    the release packet comment; dispatch.py dispatches the delivery workflow
    github.py    the protection-rule edge: evaluate, answer, re-check
    rollback.py  the orchestrator: follow deployment statuses, roll back failures
    trunk.py     what a deployment releases (a PR head or a merged commit), rollback bypasses
    reviews.py   approvals and rejections given in GitHub's own "Review deployments" dialog

The RQ entry points below import the GitHub edges lazily.
"""

from __future__ import annotations

from typing import Any


def on_protection_rule(**kwargs: Any) -> dict[str, Any]:
    from jobs.release.github import on_protection_rule as run

    return run(**kwargs)


def reevaluate(**kwargs: Any) -> dict[str, Any]:
    from jobs.release.github import reevaluate as run

    return run(**kwargs)


def recheck(**kwargs: Any) -> dict[str, Any]:
    from jobs.release.github import recheck as run

    return run(**kwargs)


def on_deployment_status(**kwargs: Any) -> dict[str, Any]:
    from jobs.release.rollback import on_deployment_status as run

    return run(**kwargs)


def on_deployment_review(**kwargs: Any) -> dict[str, Any]:
    from jobs.release.reviews import on_deployment_review as run

    return run(**kwargs)


def record_push(**kwargs: Any) -> dict[str, Any]:
    from jobs.release.heads import record_push as run

    return run(**kwargs)

"""Deployment history, pure: records, rollback targets, `/crew why`.

The history is what the glue recorded from `deployment_status` events (Redis, per repo and
environment); it is append-only, so one deployment may appear once per status it went
through. GitHub marks superseded deployments `inactive`; that does not make them bad.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import AwareDatetime, BaseModel

GOOD_STATES = frozenset({"success"})
BAD_STATES = frozenset({"failure", "error"})


class DeploymentRecord(BaseModel):
    environment: str
    sha: str
    ref: str = ""
    state: str  # error | failure | inactive | in_progress | queued | pending | success
    at: AwareDatetime
    by: str = ""
    deployment_id: int | None = None


def in_environment(history: Iterable[DeploymentRecord], environment: str) -> list[DeploymentRecord]:
    """Records of one environment (names compare case-insensitively, as GitHub does), oldest
    first; ties keep their recorded order."""
    env = environment.lower()
    return sorted((r for r in history if r.environment.lower() == env), key=lambda r: r.at)


def good_versions(
    history: Iterable[DeploymentRecord], environment: str
) -> dict[str, DeploymentRecord]:
    """SHA -> its last successful deployment, for SHAs whose last outcome there was good.

    A later failure of the same SHA in the same environment revokes it: that version is not
    a safe place to go back to.
    """
    good: dict[str, DeploymentRecord] = {}
    for record in in_environment(history, environment):
        if record.state in GOOD_STATES:
            good.pop(record.sha, None)  # re-insert so dict order follows the latest success
            good[record.sha] = record
        elif record.state in BAD_STATES:
            good.pop(record.sha, None)
    return good


def rollback_target(
    history: list[DeploymentRecord], environment: str, failed_sha: str
) -> DeploymentRecord | None:
    """The last successful deployment in `environment` of a version other than `failed_sha`."""
    candidates = [r for sha, r in good_versions(history, environment).items() if sha != failed_sha]
    return candidates[-1] if candidates else None


def render_history(history: list[DeploymentRecord], environment: str, limit: int = 10) -> str:
    """A Markdown table of the latest deployments to `environment`, newest first."""
    records = in_environment(history, environment)[::-1][:limit]
    if not records:
        return f"No deployments to `{_cell(environment)}` recorded yet."
    rows = [
        f"| {r.at.strftime('%Y-%m-%d %H:%M %Z')} | `{r.sha[:7]}` | {_cell(r.ref)} | {r.state} "
        f"| {'@' + _cell(r.by) if r.by else ''} |"
        for r in records
    ]
    head = f"Deployments to `{_cell(environment)}` (newest first):\n\n" \
           "| when | version | ref | state | by |\n|---|---|---|---|---|"
    return "\n".join([head, *rows])


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell or inline code."""
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")[:100]

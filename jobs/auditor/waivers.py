"""A waiver re-publishes `shipcrew / policy`: the conclusion and summary show the waived rules
and who waived them, so a required status check stops blocking the merge once every failing
rule is waived (and keeps blocking while one is not)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app import checks
from app.context import JobContext
from app.github import body
from jobs.auditor.github import CHECK_NAME, VERDICT_KEY
from jobs.release.gates import Waiver


def waived_output(failures: Sequence[str], waivers: Sequence[Waiver],
                  summary: str) -> tuple[str, str, str] | None:
    """Conclusion, title and summary with the waivers shown; None when none applies."""
    by_rule = {w.rule.upper(): w for w in waivers}
    covered = [r for r in failures if r.upper() in by_rule]
    if not covered:
        return None
    left = [r for r in failures if r.upper() not in by_rule]
    lines = [f"- `{r}` waived by @{by_rule[r.upper()].user}: {by_rule[r.upper()].reason}"
             for r in covered]
    if left:
        head = f"**Still failing**: {', '.join(f'`{r}`' for r in left)} (not waived)."
        conclusion, title = "failure", f"Failed: {len(left)} rule(s) not waived"
    else:
        head = "**Every failing rule is waived.**"
        conclusion, title = "success", f"Passed with waivers: {', '.join(covered)}"
    marker = "\n\n---\n\n"
    original = summary.split(marker, 1)[-1]  # re-publishing replaces an earlier waiver note
    return conclusion, title, "\n".join([head, "", *lines]) + marker + original


def republish(ctx: JobContext, head_sha: str, waivers: Sequence[Waiver]) -> dict[str, Any] | None:
    raw = ctx.conn.get(VERDICT_KEY.format(repo=ctx.repo, sha=head_sha))
    recorded = json.loads(raw) if raw else None
    if not isinstance(recorded, dict) or recorded.get("verdict") != "fail":
        return None
    run_id = recorded.get("check_run_id")
    if not isinstance(run_id, int):
        return None
    run = body(ctx.gh.rest.checks.get(ctx.owner, ctx.name, run_id))
    out = waived_output([str(r) for r in recorded.get("failures") or []], waivers,
                        str((run.get("output") or {}).get("summary") or ""))
    if out is None:
        return None
    conclusion, title, summary = out
    checks.publish(ctx.gh, ctx.owner, ctx.name, name=CHECK_NAME, head_sha=head_sha,
                   conclusion=conclusion, title=title, summary=summary,  # type: ignore[arg-type]
                   check_run_id=run_id)
    return {"check_run": run_id, "conclusion": conclusion}

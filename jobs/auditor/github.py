"""The auditor on GitHub: read the PR head, evaluate, publish `shipcrew / policy`, apply fixes.

API calls per audit: the PR (is the head still current?), its files (patches give the added
lines), one tarball of the head, the config on the default branch (plus one tarball of the
default branch when it names extra policy directories: a PR cannot weaken its own rules),
one check run. The verdict goes to Redis for the release manager and to the audit trail.

Apply fixes: the requester needs write permission and the PR must come from this repo; the
fixes become one commit on the head (tree, commit, ref update with `force: false`, shared
with the pipeline engineer); a moved head is reported, never overwritten.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import redis
from githubkit.exception import RequestFailed

from app import checks
from app.config import ConfigError, PoliciesConfig
from app.context import JobContext, is_fork, job_context
from app.files import Files
from app.findings import Finding, Mode, Severity
from app.gitdata import head_moved, push_to_branch, read_head, workflows_refused
from app.github import ClientFactory
from app.handoff import audit_claimed, pull_files
from app.logs import bound_delivery
from app.treecache import head_tree
from jobs.auditor.core import AuditResult, audit_files, with_config_error
from jobs.auditor.fixes import fix_files
from jobs.auditor.report import (
    CONCLUSIONS,
    TITLES,
    annotation_level,
    annotation_message,
    check_summary,
)

log = logging.getLogger(__name__)
CHECK_NAME = "shipcrew / policy"
APPLY_FIXES = checks.Action("Apply fixes", "Commit the safe automatic fixes", "apply-fixes")
VERDICT_KEY = "shipcrew:verdict:{repo}:{sha}"
VERDICT_TTL = 90 * 24 * 3600
WRITE_PERMISSIONS = {"admin", "maintain", "write"}
POLICY_CACHE = Path(tempfile.gettempdir()) / "shipcrew-policies"
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


# --- pure helpers ----------------------------------------------------------------------------


def added_lines(patch: str) -> set[int]:
    """Line numbers (in the new file) that a unified diff adds."""
    lines: set[int] = set()
    line = 0
    for row in patch.splitlines():
        hunk = _HUNK.match(row)
        if hunk:
            line = int(hunk.group(1))
        elif row.startswith("+"):
            lines.add(line)
            line += 1
        elif row.startswith(" ") or row == "":
            line += 1
    return lines


def changed_lines(pr_files: list[dict[str, Any]], files: Files) -> dict[str, set[int]]:
    """Added lines per file of the PR; a file GitHub sends no patch for (too large, binary)
    counts as changed everywhere."""
    out: dict[str, set[int]] = {}
    for f in pr_files:
        if f["status"] == "removed":
            continue
        patch = f.get("patch")
        text = files.get(f["path"], "")
        out[f["path"]] = (added_lines(patch) if patch
                          else set(range(1, text.count("\n") + 2)))
    return out


def check_annotations(findings: list[Finding],
                      changed: dict[str, set[int]]) -> list[checks.Annotation]:
    """One annotation per finding in a file the PR changes (legacy files: summary only)."""
    out = []
    for f in findings:
        if f.path and f.path in changed:
            title = f"{f.rule}: {TITLES.get(f.rule, f.rule)}"
            out.append(checks.Annotation(f.path, f.line or 1, annotation_level(f),  # type: ignore[arg-type]
                                         annotation_message(f), title))
    return out


def failures(findings: list[Finding]) -> list[str]:
    return sorted({f.rule for f in findings
                   if f.mode is Mode.ENFORCE and f.severity is Severity.HARD})


def fingerprints(findings: list[Finding]) -> dict[str, list[str]]:
    """Each failing rule's findings as `path: message` (no line: unrelated edits move it).
    A waiver is bound to these, so a later head with new findings is not covered."""
    out: dict[str, set[str]] = {}
    for f in findings:
        if f.mode is Mode.ENFORCE and f.severity is Severity.HARD:
            out.setdefault(f.rule, set()).add(f"{f.path or ''}: {f.message}")
    return {rule: sorted(prints) for rule, prints in sorted(out.items())}


# --- reading ---------------------------------------------------------------------------------


def policy_dirs(ctx: JobContext, config: PoliciesConfig) -> tuple[list[Path], str]:
    """The config's extra policy directories, from the default branch, on local disk."""
    branch = ctx.default_branch
    if not config.dirs:
        return [], f"Policies: built-in (default branch `{branch}` config)."
    sha = ctx.gh.rest.repos.get_branch(ctx.owner, ctx.name, branch).parsed_data.commit.sha
    root = POLICY_CACHE / ctx.repo.replace("/", "--") / sha
    dirs = [root / d.strip("/") for d in config.dirs]
    if not root.exists():
        files, _ = read_head(ctx, sha)
        tmp = root.with_name(sha + ".tmp")
        for path, text in files.items():
            if any(path.startswith(d.strip("/") + "/") for d in config.dirs):
                target = tmp / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        tmp.mkdir(parents=True, exist_ok=True)
        try:
            tmp.rename(root)  # complete or absent: a half-written directory is never compiled
        except OSError:
            if not root.exists():  # else another worker got there first: same content
                raise
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)  # a named but empty dir adds no rules
    names = ", ".join(f"`{d}`" for d in config.dirs)
    return dirs, f"Policies: built-in + {names} from `{branch}` at {sha[:7]}."


def evaluate(ctx: JobContext, pr: Any, head_sha: str) -> tuple[
        AuditResult, Files, dict[str, set[int]], str]:
    config = ctx.config
    policies = PoliciesConfig() if isinstance(config, ConfigError) else config.policies
    dirs, source = policy_dirs(ctx, policies)
    files, _ = head_tree(ctx, head_sha)
    changed = changed_lines(pull_files(ctx, pr.number), files)
    metadata = {"number": pr.number, "author": pr.user.login if pr.user else "",
                "labels": [lb.name for lb in pr.labels or []], "base": pr.base.ref,
                "head": pr.head.ref, "fork": is_fork(pr, ctx.repo)}
    result = audit_files(files, policy_dirs=dirs, config=policies, changed=changed,
                         metadata=metadata)
    if isinstance(config, ConfigError):  # fail closed: the team's rules are unknown
        result = with_config_error(result, config)
        source = "Policies: built-in only — the repo config is invalid (see CONFIG001)."
    return result, files, changed, source


def safe_fixes(files: Files, findings: list[Finding],
               changed: dict[str, set[int]]) -> tuple[Files, list[str]]:
    """Fixes for the PR's own files only: files it does not touch stay as their owners left
    them."""
    return fix_files(files, [f for f in findings if f.path in changed])


# --- jobs ------------------------------------------------------------------------------------


def audit_pull_request(
    *, installation_id: int, repo: str, delivery_id: str, number: int, head_sha: str,
    conn: redis.Redis | None = None, factory: ClientFactory | None = None,
    handed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory, handed)
        if audit_claimed(ctx.conn, repo, head_sha, handed):  # the pipeline's chain has it
            return {"status": "claimed"}
        if (pr := ctx.current_pull(number, head_sha, "audit")) is None:
            return {"status": "stale"}
        result, files, changed, source = evaluate(ctx, pr, head_sha)
        fork = is_fork(pr, repo)
        fixes, described = ({}, []) if fork else safe_fixes(files, result.findings, changed)
        title, summary = check_summary(result.findings, result.verdict, set(changed),
                                       result.notes, described, source, result.excluded)
        run_id = checks.publish(
            ctx.gh, ctx.owner, ctx.name, name=CHECK_NAME, head_sha=head_sha,
            conclusion=CONCLUSIONS[result.verdict], title=title,  # type: ignore[arg-type]
            summary=summary, annotations=check_annotations(result.findings, changed),
            actions=[APPLY_FIXES] if fixes else [], external_id=f"pr:{number}",
            check_run_id=checks.opened_for_job())  # queued by jobs.planner.open_checks
        failed = failures(result.findings)
        ctx.conn.set(VERDICT_KEY.format(repo=repo, sha=head_sha), json.dumps(
            {"verdict": result.verdict.value, "failures": failed, "check_run_id": run_id,
             "fingerprints": fingerprints(result.findings)}),
            ex=VERDICT_TTL)
        ctx.audit.record("verdict", repo=repo, number=number, head_sha=head_sha,
                         verdict=result.verdict.value, failures=failed, check_run_id=run_id,
                         findings=[f.public() for f in result.findings],
                         fixable=sorted(fixes))
        log.info("audit %s#%s at %s: %s (%d findings)", repo, number, head_sha[:7],
                 result.verdict.value, len(result.findings))
        return {"status": "audited", "verdict": result.verdict.value, "failures": failed,
                "check_run": run_id, "fixable": sorted(fixes)}


def rerun(*, installation_id: int, repo: str, delivery_id: str, head_sha: str,
          conn: redis.Redis | None = None, factory: ClientFactory | None = None,
          ) -> dict[str, Any]:
    """`check_run.rerequested` / `check_suite.rerequested`: audit the open PR at that head."""
    ctx = job_context(installation_id, repo, delivery_id, conn, factory)
    number = _pull_for(ctx, head_sha)
    if number is None:
        ctx.audit.record("stale", repo=repo, head_sha=head_sha, job="rerun")
        return {"status": "stale"}
    return audit_pull_request(installation_id=installation_id, repo=repo,
                              delivery_id=delivery_id, number=number, head_sha=head_sha,
                              conn=ctx.conn, factory=factory)


def _pull_for(ctx: JobContext, head_sha: str) -> int | None:
    pulls: Any = ctx.gh.rest.paginate(ctx.gh.rest.pulls.list, owner=ctx.owner, repo=ctx.name,
                                      state="open", per_page=100)
    return next((int(p.number) for p in pulls if p.head.sha == head_sha), None)


def on_check_run_action(
    *, installation_id: int, repo: str, delivery_id: str, check_run_id: int, head_sha: str,
    identifier: str, requester: str, conn: redis.Redis | None = None,
    factory: ClientFactory | None = None,
) -> dict[str, Any]:
    """The "Apply fixes" button: one commit of the safe fixes on the PR's branch."""
    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        if identifier != APPLY_FIXES.identifier:
            return {"status": "ignored"}
        run = ctx.gh.rest.checks.get(ctx.owner, ctx.name, check_run_id).parsed_data
        outcome = _apply(ctx, run, head_sha, requester)
        ctx.audit.record("apply_fixes", repo=repo, head_sha=head_sha, requester=requester,
                         check_run_id=check_run_id, **outcome)
        if outcome["status"] != "committed":
            _tell(ctx, run, outcome["reason"])
        return outcome


def _apply(ctx: JobContext, run: Any, head_sha: str, requester: str) -> dict[str, Any]:
    permission = ctx.gh.rest.repos.get_collaborator_permission_level(
        ctx.owner, ctx.name, requester).parsed_data
    level = getattr(permission, "role_name", None) or permission.permission
    if level not in WRITE_PERMISSIONS and permission.permission not in WRITE_PERMISSIONS:
        return {"status": "refused", "reason": f"@{requester} asked to apply fixes but has "
                f"`{permission.permission}` permission; applying fixes needs write access."}
    external = str(run.external_id or "").partition(";")[0]  # "pr:N;job=..." (app.checks)
    number = int(external[3:]) if external.startswith("pr:") else _pull_for(ctx, head_sha)
    pr = ctx.current_pull(number, head_sha, "apply-fixes") if number else None
    if pr is None:
        return {"status": "stale", "reason": "Fixes not applied: the branch moved since this "
                "verdict (the newer push has its own check run)."}
    if is_fork(pr, ctx.repo):
        return {"status": "refused", "reason": "Fixes not applied: the pull request comes "
                "from a fork shipcrew cannot push to."}
    result, files, changed, _ = evaluate(ctx, pr, head_sha)
    fixes, described = safe_fixes(files, result.findings, changed)
    if not fixes:
        return {"status": "nothing", "reason": "No safe automatic fix applies any more."}
    message = ("Apply shipcrew policy fixes\n\nRequested by @" + requester + ":\n"
               + "\n".join(f"- {d}" for d in described) + "\n")
    try:
        sha = push_to_branch(ctx, pr.head.ref, head_sha, fixes, message)
    except RequestFailed as exc:
        if head_moved(exc):
            return {"status": "stale", "reason": "Fixes not applied: the branch moved while "
                    "shipcrew worked (nothing was overwritten)."}
        if workflows_refused(exc):
            return {"status": "refused", "reason": "GitHub refused the commit: it changes "
                    "workflow files and the App lacks the `workflows` permission."}
        raise
    return {"status": "committed", "commit": sha, "files": sorted(fixes), "fixes": described}


def _tell(ctx: JobContext, run: Any, reason: str) -> None:
    """Say on the check run why nothing was committed; its verdict is unchanged."""
    output = run.output
    checks.publish(ctx.gh, ctx.owner, ctx.name, name=run.name, head_sha=run.head_sha,
                   conclusion=run.conclusion or "neutral", title=output.title or CHECK_NAME,
                   summary=f"> {reason}\n\n{output.summary or ''}", check_run_id=run.id)

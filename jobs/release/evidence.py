"""What the release manager and the command runner read from GitHub: pull requests, people,
check runs, environments. Thin: each function is one or two API calls, read leniently
(`.json()`, only the fields we use), and 404s mean "nothing there", not a crash."""

from __future__ import annotations

from typing import Any

from githubkit.exception import RequestFailed
from pydantic import BaseModel

from app import generated
from app.config import RepoConfig
from app.context import JobContext
from app.coordinator import ChangedFile, Classification, classify
from app.findings import Verdict
from app.gitdata import changed_files
from app.github import body
from jobs.release.gates import PERMISSIONS, POLICY_CHECK, CheckRun
from jobs.release.history import DeploymentRecord, good_versions

MAX_OPEN_PULLS = 300  # scanned to find the PRs that carry a SHA
MAX_CHECK_RUNS = 500
MAX_COMPARE_FILES = 300  # GitHub lists at most this many files of a comparison
# `shipcrew / policy` check run conclusion -> verdict
POLICY_CONCLUSIONS = {
    "success": Verdict.PASS, "neutral": Verdict.REVIEW, "action_required": Verdict.REVIEW,
    "failure": Verdict.FAIL,
}


class PullInfo(BaseModel):
    number: int
    author: str
    head_sha: str
    head_ref: str
    head_repo: str
    base_ref: str
    state: str
    title: str = ""
    base_repo: str = ""

    @property
    def is_fork(self) -> bool:
        return bool(self.head_repo) and self.head_repo.lower() != self.base_repo.lower()


def _status(exc: RequestFailed) -> int:
    return int(exc.response.status_code)


def _pull(data: dict[str, Any], repo: str) -> PullInfo:
    head = data.get("head") or {}
    return PullInfo(
        number=data["number"], author=(data.get("user") or {}).get("login", ""),
        head_sha=head.get("sha", ""), head_ref=head.get("ref", ""),
        head_repo=((head.get("repo") or {}).get("full_name") or ""),
        base_ref=(data.get("base") or {}).get("ref", ""), state=data.get("state", "open"),
        title=data.get("title") or "", base_repo=repo,
    )


def pull_info(ctx: JobContext, number: int) -> PullInfo | None:
    try:
        data = body(ctx.gh.rest.pulls.get(ctx.owner, ctx.name, number))
    except RequestFailed as exc:
        if _status(exc) == 404:
            return None
        raise
    ctx.learn_default_branch(data)
    return _pull(data, ctx.repo)


def pulls_for_sha(ctx: JobContext, sha: str, numbers: list[int]) -> list[PullInfo]:
    """The PRs whose head is `sha`: those GitHub named in the event, else the open ones."""
    if numbers:
        found = [p for n in numbers if (p := pull_info(ctx, n)) is not None]
        return [p for p in found if p.head_sha == sha] or found
    out: list[PullInfo] = []
    for page in range(1, MAX_OPEN_PULLS // 100 + 1):
        items = body(ctx.gh.rest.pulls.list(ctx.owner, ctx.name, state="open", per_page=100,
                                            page=page))
        out += [_pull(p, ctx.repo) for p in items if (p.get("head") or {}).get("sha") == sha]
        if len(items) < 100:
            break
    return out


def last_pusher(ctx: JobContext, sha: str) -> str:
    """The GitHub user behind the head commit (committer, else author); '' when unknown."""
    try:
        data = body(ctx.gh.rest.repos.get_commit(ctx.owner, ctx.name, sha))
    except RequestFailed as exc:
        if _status(exc) in (404, 422):
            return ""
        raise
    for role in ("committer", "author"):
        login = (data.get(role) or {}).get("login")
        if login and login != "web-flow":  # web-flow commits through the UI for the author
            return str(login)
    return ""


def permission_of(ctx: JobContext, user: str) -> str:
    """The user's role on the repo: none, read, triage, write, maintain or admin."""
    try:
        data = body(ctx.gh.rest.repos.get_collaborator_permission_level(
            ctx.owner, ctx.name, user))
    except RequestFailed as exc:
        if _status(exc) in (403, 404):
            return "none"
        raise
    # `permission` folds maintain into write and triage into read; `role_name` does not.
    for value in (data.get("role_name"), data.get("permission")):
        if isinstance(value, str) and value.lower() in PERMISSIONS:
            return value.lower()
    return "none"


def teams_of(ctx: JobContext, user: str, configured: list[str]) -> list[str]:
    """Which of the configured teams (`org/slug`, or `slug` in the repo owner's org) `user` is
    an active member of, as `org/slug`."""
    member: list[str] = []
    for team in dict.fromkeys(configured):
        org, _, slug = team.rpartition("/")
        org = org or ctx.owner
        try:
            data = body(ctx.gh.rest.teams.get_membership_for_user_in_org(org, slug, user))
        except RequestFailed as exc:
            if _status(exc) in (403, 404):
                continue
            raise
        if data.get("state") == "active":
            member.append(f"{org}/{slug}")
    return member


def check_runs(ctx: JobContext, sha: str) -> list[CheckRun]:
    runs: list[CheckRun] = []
    for page in range(1, MAX_CHECK_RUNS // 100 + 1):
        data = body(ctx.gh.rest.checks.list_for_ref(ctx.owner, ctx.name, sha, filter_="latest",
                                                    per_page=100, page=page))
        items = data.get("check_runs") or []
        runs += [CheckRun(
            name=r["name"], status=r.get("status") or "queued", conclusion=r.get("conclusion"),
            app=((r.get("app") or {}).get("slug") or ""), app_id=(r.get("app") or {}).get("id"),
            id=r.get("id"),
            check_suite_id=(r.get("check_suite") or {}).get("id"),
        ) for r in items]
        if len(items) < 100 or len(runs) >= int(data.get("total_count") or 0):
            break
    return runs


def policy_verdict(
    runs: list[CheckRun], recorded: dict[str, Any] | None, own_app: str | None = None,
    own_app_id: int | None = None,
) -> tuple[Verdict | None, list[str]]:
    """The `shipcrew / policy` verdict (latest run) and its failing rule ids.

    Only our own App's check run counts - by `app.id` when given, else by slug: any app or
    workflow with `checks: write` can post a run of that name. The auditor's record in Redis
    carries the rule ids; the check run decides the verdict when both exist, since a re-run
    updates the check run first."""
    failures = [str(r) for r in (recorded or {}).get("failures") or []]

    def ours(r: CheckRun) -> bool:
        if own_app_id is not None:
            return r.app_id == own_app_id
        return not own_app or r.app.lower() == own_app.lower()

    mine = [r for r in runs if r.name == POLICY_CHECK and r.status == "completed" and ours(r)]
    if mine:
        latest = max(mine, key=lambda r: r.id or 0)
        verdict = POLICY_CONCLUSIONS.get(latest.conclusion or "", Verdict.FAIL)
        return verdict, failures if verdict is Verdict.FAIL else []
    if recorded and recorded.get("verdict") in {v.value for v in Verdict}:
        return Verdict(recorded["verdict"]), failures
    return None, []


def environments(ctx: JobContext) -> set[str]:
    try:
        data = body(ctx.gh.rest.repos.get_all_environments(ctx.owner, ctx.name, per_page=100))
    except RequestFailed as exc:
        if _status(exc) in (403, 404):
            return set()
        raise
    return {e["name"] for e in data.get("environments") or [] if e.get("name")}


def classify_pulls(
    ctx: JobContext, pulls: list[PullInfo], sha: str, config: RepoConfig
) -> Classification:
    """Risk of a PR's own diff (what `/crew plan` shows): the PRs' files, else the commit's."""
    files: list[ChangedFile] = []
    for pr in pulls:
        files += [ChangedFile(path=f["path"], status=f["status"] or "modified")
                  for f in generated.without_ours(ctx.conn, ctx.repo,
                                                  changed_files(ctx, pr.number))]
    if not pulls:
        try:
            data = body(ctx.gh.rest.repos.get_commit(ctx.owner, ctx.name, sha))
        except RequestFailed as exc:
            if _status(exc) not in (404, 422):
                raise
            data = {}
        files = _files(data)
    return classify(files, config)


def release_base(history: list[DeploymentRecord], environment: str, default_branch: str) -> str:
    """What runs in `environment` now: its last good deployment, else the default branch."""
    good = good_versions(history, environment)
    return next(reversed(good)) if good else default_branch


def classify_release(
    ctx: JobContext, sha: str, environment: str, history: list[DeploymentRecord],
    config: RepoConfig,
) -> Classification:
    """Risk of deploying `sha` to `environment`: what it changes relative to what already
    runs there (a PR's own diff is the wrong question: its base may be another branch, and
    its head may have moved since the deployment was requested). When GitHub's listing may
    be cut (a comparison lists at most 300 files) the release is high risk."""
    base = release_base(history, environment, ctx.default_branch)
    if base == sha:
        return classify([], config)
    data = _compare(ctx, base, sha)
    files, listed = _files(data), len(data.get("files") or [])
    if data.get("behind_by"):
        # `sha` lacks commits that run there: deploying it undoes them, so they count too.
        back = _compare(ctx, sha, base)
        files += _files(back)
        listed = max(listed, len(back.get("files") or []))
    found = classify(files, config)
    if data and listed < MAX_COMPARE_FILES:
        return found
    why = (f"high: the comparison of {sha[:7]} with `{base[:12]}` lists {listed} files, "
           "GitHub's limit: files after the cut are unseen") if data else (
        f"high: GitHub cannot compare {sha[:7]} with `{base[:12]}`")
    return found.model_copy(update={"tier": "high", "reasons": [why, *found.reasons]})


def _compare(ctx: JobContext, base: str, head: str) -> dict[str, Any]:
    """GitHub's comparison (files changed since the merge base); {} when it cannot say."""
    try:
        data = body(ctx.gh.rest.repos.compare_commits(ctx.owner, ctx.name, f"{base}...{head}"))
    except RequestFailed as exc:
        if _status(exc) not in (404, 422):
            raise
        return {}
    return data if isinstance(data, dict) else {}


def _files(data: dict[str, Any]) -> list[ChangedFile]:
    return [ChangedFile(path=f["filename"], status=f.get("status") or "modified",
                        previous_filename=f.get("previous_filename"))
            for f in data.get("files") or []]

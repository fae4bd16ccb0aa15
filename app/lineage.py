"""Where a commit on a branch came from, and whether its pull request's evidence carries over.

A merge, squash or rebase commit of a PR inherits that PR's approvals, waivers and risk
classification only when what lands is what was approved: the merged tree is the approved
PR head's tree, or differs from it only in files the PR's risk does not depend on (the base
moved on with low-risk files: docs). Anything else is judged on its own. The PR is found
through `GET /repos/{o}/{r}/commits/{sha}/pulls`, never through the `pull_requests` of a
protection-rule payload (GitHub leaves it empty for a push to the default branch).

`judge` is pure; `trace` is the GitHub edge (three or four calls); records live in Redis so
the auditor and the release manager agree on one answer per commit.
"""

from __future__ import annotations

from typing import Any

import redis
from githubkit.exception import RequestFailed
from pydantic import BaseModel

from app.config import RepoConfig
from app.coordinator import ChangedFile, classify
from app.github import body

KEY = "shipcrew:lineage:{repo}:{sha}"
TTL = 90 * 24 * 3600


class Lineage(BaseModel):
    sha: str
    branch: str
    number: int | None = None  # the merged PR that put `sha` on `branch`
    pr_head: str = ""  # the PR head that was reviewed and approved
    pr_author: str = ""
    merged_by: str = ""
    inherits: bool = False
    reason: str

    def describe(self) -> str:
        if self.number is None:
            return f"`{self.sha[:7]}` on `{self.branch}`: {self.reason}"
        verb = "inherits" if self.inherits else "does not inherit"
        return (f"`{self.sha[:7]}` on `{self.branch}` {verb} the evidence of #{self.number} "
                f"(head `{self.pr_head[:7]}`): {self.reason}")


def judge(merged_tree: str, head_tree: str, base_only: list[str],
          config: RepoConfig) -> tuple[bool, str]:
    """Does a merged commit carry its PR's evidence? `base_only`: the paths whose content
    differs between the merged tree and the approved head's tree."""
    if merged_tree == head_tree:
        return True, "the merged tree is the approved head's tree"
    if not base_only:
        return True, "the merged tree has the approved head's files"
    risk = classify([ChangedFile(path=p) for p in base_only], config)
    shown = ", ".join(f"`{p}`" for p in sorted(base_only)[:5])
    if risk.tier == "low":
        return True, f"the base changed only low-risk files since ({shown})"
    return False, (f"the merged tree differs from the approved head in {risk.tier}-risk "
                   f"files ({shown}): judged on its own")


def _tree(gh: Any, owner: str, name: str, sha: str) -> str:
    return str(body(gh.rest.git.get_commit(owner, name, sha))["tree"]["sha"])


def _blobs(gh: Any, owner: str, name: str, tree: str) -> dict[str, str]:
    data = body(gh.rest.git.get_tree(owner, name, tree, recursive="1"))
    return {e["path"]: e["sha"] for e in data.get("tree") or [] if e.get("type") == "blob"}


def merged_pull(gh: Any, owner: str, name: str, sha: str, branch: str) -> dict[str, Any] | None:
    """The merged PR into `branch` whose merge put `sha` there, or None."""
    try:
        items = body(gh.rest.repos.list_pull_requests_associated_with_commit(
            owner, name, sha, per_page=100))
    except RequestFailed as exc:
        if exc.response.status_code in (404, 422):
            return None
        raise
    for p in items:
        if p.get("merged_at") and (p.get("base") or {}).get("ref") == branch:
            return dict(p)
    return None


def trace(gh: Any, repo: str, sha: str, branch: str, config: RepoConfig) -> Lineage:
    owner, name = repo.split("/", 1)
    pr = merged_pull(gh, owner, name, sha, branch)
    if pr is None:
        return Lineage(sha=sha, branch=branch, reason="no merged pull request put it there "
                       "(a direct push): judged on its own")
    head = str((pr.get("head") or {}).get("sha") or "")
    merged_tree, head_tree = _tree(gh, owner, name, sha), _tree(gh, owner, name, head)
    base_only: list[str] = []
    if merged_tree != head_tree:
        mine, approved = _blobs(gh, owner, name, merged_tree), _blobs(gh, owner, name, head_tree)
        base_only = sorted(p for p in set(mine) | set(approved) if mine.get(p) != approved.get(p))
    inherits, reason = judge(merged_tree, head_tree, base_only, config)
    return Lineage(sha=sha, branch=branch, number=int(pr["number"]), pr_head=head,
                   pr_author=str((pr.get("user") or {}).get("login") or ""),
                   merged_by=str((pr.get("merged_by") or {}).get("login") or ""),
                   inherits=inherits, reason=reason)


def save(conn: redis.Redis, repo: str, lineage: Lineage) -> None:
    conn.set(KEY.format(repo=repo.lower(), sha=lineage.sha), lineage.model_dump_json(), ex=TTL)


def load(conn: redis.Redis, repo: str, sha: str) -> Lineage | None:
    raw = conn.get(KEY.format(repo=repo.lower(), sha=sha))
    return Lineage.model_validate_json(raw) if raw else None

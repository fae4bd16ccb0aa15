"""What a job works with: a GitHub client for its installation, Redis, the audit trail,
and the repo config read from the default branch."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import msgspec
import redis
from githubkit import GitHub

from app.audit import AuditTrail
from app.config import CONFIG_PATH, ConfigError, RepoConfig, parse_config
from app.events import PullRequest
from app.github import ClientFactory, client_for, read_file
from app.handoff import compact, handed_pull, mark_head, marked_head


def current_redis() -> redis.Redis:
    from rq import get_current_job

    job = get_current_job()
    if job is None:
        raise RuntimeError("not inside an RQ job: pass a Redis connection explicitly")
    return job.connection


@dataclass
class JobContext:
    installation_id: int
    repo: str
    delivery_id: str
    conn: redis.Redis
    factory: ClientFactory = client_for
    _gh: GitHub[Any] | None = field(default=None, repr=False)
    # What an earlier job of the same delivery read (app.handoff); empty: read it here.
    handed: dict[str, Any] = field(default_factory=dict, repr=False)
    handed_for: int | None = None  # the PR number the handed data was accepted for
    # the PR's fields jobs read (app.handoff.compact), to hand on
    pull_json: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def owner(self) -> str:
        return self.repo.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.repo.split("/", 1)[1]

    @property
    def gh(self) -> GitHub[Any]:
        if self._gh is None:
            self._gh = self.factory(self.installation_id)
        return self._gh

    @cached_property
    def audit(self) -> AuditTrail:
        return AuditTrail(self.conn)

    @cached_property
    def default_branch(self) -> str:
        return str(self.gh.rest.repos.get(self.owner, self.name).parsed_data.default_branch)

    def current_pull(self, number: int, head_sha: str, job: str, *,
                     child_ok: bool = False) -> Any | None:
        """The PR if `head_sha` is still its open head, else None (recorded): latest push
        wins, work planned for an older head is dropped. A PR handed on for this head is
        used unless a later job saw a newer head. With `child_ok`, a head whose only parent is
        `head_sha` counts too: it may be this job's own commit from an attempt that died
        before reporting (app.gitdata.push_to_branch recognises it by its tree)."""
        from app.checks import close_stale

        pr: Any = handed_pull(self.handed, number, head_sha)
        if pr is not None:
            marked = marked_head(self.conn, self.repo, number)
            current = marked in (None, head_sha)
            self.handed_for = number if current else None
            self.pull_json = self.handed["pull"]
        else:
            resp = self.gh.rest.pulls.get(self.owner, self.name, number)
            pr = resp.parsed_data
            if child_ok and pr.state == "open" and pr.head.sha != head_sha:
                head = self.gh.rest.git.get_commit(self.owner, self.name, pr.head.sha).parsed_data
                if [p.sha for p in head.parents] == [head_sha]:
                    self._knows_default_branch(pr.base.repo.default_branch)
                    self.pull_json = compact(dict(resp.json()))
                    return pr
            current = pr.state == "open" and pr.head.sha == head_sha
            if current:
                self.pull_json = compact(dict(resp.json()))
                mark_head(self.conn, self.repo, number, head_sha)
        if not current:
            self.audit.record("stale", repo=self.repo, number=number, head_sha=head_sha, job=job)
            why = (f"the pull request is {pr.state}" if pr.state != "open" else
                   f"a newer head than `{head_sha[:7]}` was pushed")
            close_stale(self.gh, self.owner, self.name,
                        f"Not finished: {why} while this ran; the newer head gets its own "
                        "run. Nothing was changed.")
            return None
        # The PR names the default branch: spare the repository call.
        self._knows_default_branch(pr.base.repo.default_branch)
        return pr

    def learn_default_branch(self, pull: dict[str, Any]) -> None:
        """A PR read as JSON names the default branch: spare the repository call."""
        repo = (pull.get("base") or {}).get("repo") or {}
        branch = repo.get("default_branch")
        if isinstance(branch, str) and str(repo.get("full_name", "")).lower() == \
                self.repo.lower():
            self.__dict__.setdefault("default_branch", branch)

    def _knows_default_branch(self, branch: str | None) -> None:
        """The PR named it: `default_branch` needs no repository call."""
        self.__dict__["default_branch"] = branch

    def take_pull(self, pr: PullRequest, head_sha: str) -> PullRequest:
        """The webhook's PR, confirmed current by the caller (jobs.planner): as if read."""
        self.pull_json = msgspec.to_builtins(pr)
        mark_head(self.conn, self.repo, pr.number, head_sha)
        assert pr.base.repo is not None  # app.handoff.webhook_pull: only with its base repo
        self._knows_default_branch(pr.base.repo.default_branch)
        return pr

    @cached_property
    def config_text(self) -> str | None:
        """`.github/shipcrew.yml` on the default branch (None: absent)."""
        if self.handed_for is not None and "config_text" in self.handed:
            text = self.handed["config_text"]
            return text if isinstance(text, str) else None
        return read_file(self.gh, self.owner, self.name, CONFIG_PATH, self.default_branch)

    @cached_property
    def config(self) -> RepoConfig | ConfigError:
        """From the default branch only: a PR cannot change the rules it is judged by."""
        return parse_config(self.config_text)


def is_fork(pr: Any, repo: str) -> bool:
    """A PR whose head lives in another repository: shipcrew cannot push to it."""
    return pr.head.repo is None or pr.head.repo.full_name.lower() != repo.lower()


def job_context(
    installation_id: int, repo: str, delivery_id: str,
    conn: redis.Redis | None = None, factory: ClientFactory | None = None,
    handed: dict[str, Any] | None = None,
) -> JobContext:
    return JobContext(installation_id, repo, delivery_id, conn or current_redis(),
                      factory or client_for, handed=dict(handed or {}))

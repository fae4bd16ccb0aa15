"""Lenient models of the payload fields we use. Everything else is ignored.

githubkit's strict webhook models reject many real payloads; these accept any payload
that has the few fields a handler reads, and say clearly which one is missing otherwise.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Account(_Lenient):
    login: str
    id: int | None = None
    type: str | None = None


class Repository(_Lenient):
    full_name: str
    name: str
    owner: Account
    default_branch: str = "main"
    private: bool = False
    fork: bool = False


class Installation(_Lenient):
    id: int


class Ref(_Lenient):
    ref: str
    sha: str
    repo: Repository | None = None


class PullRequest(_Lenient):
    number: int
    state: str = "open"
    title: str = ""
    head: Ref
    base: Ref
    user: Account
    draft: bool = False
    merged: bool | None = None
    labels: list[dict[str, Any]] = []
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def is_fork(self) -> bool:
        head, base = self.head.repo, self.base.repo
        return head is None or base is None or head.full_name != base.full_name


class Issue(_Lenient):
    number: int
    user: Account | None = None
    pull_request: dict[str, Any] | None = None


class Comment(_Lenient):
    id: int
    body: str | None = None
    user: Account
    created_at: str | None = None


class App(_Lenient):
    id: int | None = None
    slug: str | None = None


class CheckRun(_Lenient):
    id: int
    name: str
    head_sha: str
    status: str | None = None
    conclusion: str | None = None
    app: App | None = None
    external_id: str | None = None


class RequestedAction(_Lenient):
    identifier: str


class Deployment(_Lenient):
    id: int
    sha: str
    ref: str = ""
    environment: str = ""
    creator: Account | None = None


class DeploymentStatus(_Lenient):
    state: str
    environment: str | None = None


class WorkflowRun(_Lenient):
    id: int
    head_sha: str
    head_branch: str | None = None
    status: str | None = None
    conclusion: str | None = None


class Event(_Lenient):
    """The envelope every handler gets: the common fields plus whatever this event has."""

    action: str | None = None
    installation: Installation | None = None
    repository: Repository | None = None
    sender: Account | None = None
    pull_request: PullRequest | None = None
    issue: Issue | None = None
    comment: Comment | None = None
    check_run: CheckRun | None = None
    requested_action: RequestedAction | None = None
    deployment: Deployment | None = None
    deployment_status: DeploymentStatus | None = None
    workflow_run: WorkflowRun | None = None
    environment: str | dict[str, Any] | None = None
    deployment_callback_url: str | None = None
    sha: str | None = None
    ref: str | None = None

    @field_validator("comment", mode="before")
    @classmethod
    def _comment_object(cls, v: Any) -> Any:
        # `deployment_review` carries the reviewer's comment as a plain string
        return v if isinstance(v, dict) or v is None else None

"""Lenient models of the payload fields the web process routes on. Everything else is ignored.

githubkit's strict webhook models reject many real payloads; these accept any payload
that has the few fields a handler (app.handlers, app.routing) reads, and say clearly which
one is missing otherwise. Only those: every field declared here is decoded and built on
every delivery (a repository object GitHub sends has ~100 fields; a handler reads one).
Whatever else a job needs it reads from `Delivery.payload` or from GitHub.

They are msgspec Structs, decoded straight from the body by `decode_event`: msgspec skips
the fields nobody declared without building them, where pydantic's JSON parser costs more
than the rest of a delivery's CPU outside the signature check (bench/ingress.py).
"""

from __future__ import annotations

from typing import Any

import msgspec


class _Lenient(msgspec.Struct, frozen=True):
    pass


class Account(_Lenient, frozen=True):
    login: str
    type: str | None = None


class Repository(_Lenient, frozen=True):
    full_name: str
    default_branch: str | None = None


class Installation(_Lenient, frozen=True):
    id: int


class Ref(_Lenient, frozen=True):
    sha: str
    ref: str = ""
    repo: Repository | None = None


class Label(_Lenient, frozen=True):
    name: str


class PullRequest(_Lenient, frozen=True):
    """What any job reads of a PR (app.handoff hands it on from the webhook, not re-read)."""

    number: int
    head: Ref
    base: Ref
    state: str = "open"
    draft: bool = False
    user: Account | None = None
    labels: tuple[Label, ...] = ()
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def is_fork(self) -> bool:
        head, base = self.head.repo, self.base.repo
        return head is None or base is None or head.full_name != base.full_name


class Issue(_Lenient, frozen=True):
    number: int
    pull_request: dict[str, Any] | None = None


class Comment(_Lenient, frozen=True):
    id: int
    user: Account
    body: str | None = None
    created_at: str | None = None


class CheckRun(_Lenient, frozen=True):
    id: int
    name: str
    head_sha: str


class RequestedAction(_Lenient, frozen=True):
    identifier: str


class Deployment(_Lenient, frozen=True):
    id: int
    sha: str
    ref: str = ""
    environment: str = ""
    creator: Account | None = None


class DeploymentStatus(_Lenient, frozen=True):
    state: str
    environment: str | None = None


class WorkflowRun(_Lenient, frozen=True):
    id: int
    head_sha: str


class Event(_Lenient, frozen=True):
    """The envelope every handler gets: the common fields plus whatever this event has."""

    action: str | None = None
    installation: Installation | None = None
    repository: Repository | None = None
    sender: Account | None = None
    pull_request: PullRequest | None = None
    issue: Issue | None = None
    # `deployment_review` carries the reviewer's comment as a plain string: not a Comment
    comment_or_text: Comment | str | None = msgspec.field(default=None, name="comment")
    check_run: CheckRun | None = None
    requested_action: RequestedAction | None = None
    deployment: Deployment | None = None
    deployment_status: DeploymentStatus | None = None
    workflow_run: WorkflowRun | None = None
    environment: str | dict[str, Any] | None = None
    deployment_callback_url: str | None = None
    sha: str | None = None
    ref: str | None = None

    @property
    def comment(self) -> Comment | None:
        return self.comment_or_text if isinstance(self.comment_or_text, Comment) else None


class EventError(ValueError):
    """Why a body is not an event: `json` (not JSON, or not an object) or `invalid`."""

    def __init__(self, label: str, message: str) -> None:
        super().__init__(message)
        self.label = label


# strict=False: numbers as strings and the like are taken, as pydantic's lax mode did
_decoder = msgspec.json.Decoder(Event, strict=False)


def decode_event(body: bytes) -> Event:
    """The routed fields of a delivery's body; EventError when there are none to route on.
    Nesting too deep for the decoder is refused as not JSON (never a RecursionError)."""
    try:
        return _decoder.decode(body)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if " - at `$" not in message:  # about the body itself
            raise EventError("json", "body is not a JSON object") from None
        what, where = message.rsplit(" - at `$.", 1)
        raise EventError("invalid", f"payload field {where.rstrip('`')}: {what}") from None
    except msgspec.DecodeError as exc:
        raise EventError("json", f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise EventError("json", "body is not valid JSON: nested too deeply") from None

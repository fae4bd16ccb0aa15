"""In-memory state of the emulated GitHub. One lock guards all of it."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dulwich.object_store import MemoryObjectStore

DEFAULT_PERMISSIONS = {
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "checks": "write",
    "deployments": "write",
    "statuses": "write",
    "actions": "write",
    "workflows": "write",
    "metadata": "read",
    "members": "read",
}
DEFAULT_EVENTS = [
    "pull_request",
    "issue_comment",
    "check_run",
    "check_suite",
    "deployment",
    "deployment_status",
    "deployment_protection_rule",
    "push",
    "workflow_run",
]


def now_iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


@dataclass
class User:
    login: str
    id: int
    type: str = "User"  # User | Organization | Bot


@dataclass
class AppInfo:
    id: int
    slug: str
    name: str
    private_key_pem: str
    public_key_pem: str
    webhook_secret: str
    client_id: str
    client_secret: str
    owner: str
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    events: list[str] = field(default_factory=lambda: list(DEFAULT_EVENTS))
    created_at: str = field(default_factory=now_iso)

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass
class Installation:
    id: int
    account: str
    repos: list[str] = field(default_factory=list)  # full names
    created_at: str = field(default_factory=now_iso)


@dataclass
class Token:
    token: str
    installation_id: int
    expires_at: float


@dataclass
class Pull:
    number: int
    id: int
    title: str
    body: str | None
    user: str
    head_repo: str  # full name; differs from the base repo for a fork
    head_ref: str
    base_ref: str
    base_sha: str
    state: str = "open"
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    draft: bool = False
    labels: list[str] = field(default_factory=list)
    # set when merged: what was merged, by whom, and onto which base head
    merged_at: str | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    merged_head_sha: str | None = None
    merged_base_sha: str | None = None
    merged_commits: list[str] = field(default_factory=list)  # commits the merge put on base


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    default_branch: str
    store: MemoryObjectStore
    private: bool = False
    fork_of: str | None = None
    refs: dict[str, str] = field(default_factory=dict)  # "heads/main" -> sha
    commits: list[dict] = field(default_factory=list)  # in creation order
    pulls: dict[int, Pull] = field(default_factory=dict)
    comments: list[dict] = field(default_factory=list)
    reactions: list[dict] = field(default_factory=list)
    check_runs: list[dict] = field(default_factory=list)
    deployments: list[dict] = field(default_factory=list)
    environments: dict[str, dict] = field(default_factory=dict)
    workflow_runs: dict[int, dict] = field(default_factory=dict)
    protection_rule_reviews: list[dict] = field(default_factory=list)
    deployment_reviews: list[dict] = field(default_factory=list)  # the "Review deployments" dialog
    dispatches: list[dict] = field(default_factory=list)
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> permission
    next_number: int = 1
    created_at: str = field(default_factory=now_iso)
    pushed_at: str = field(default_factory=now_iso)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class Delivery:
    id: int
    guid: str
    event: str
    action: str | None
    payload: dict
    installation_id: int | None
    repository_id: int | None
    redelivery: bool = False
    status_code: int = 0
    status: str = "pending"
    duration: float = 0.0
    delivered_at: str = field(default_factory=now_iso)
    response: str = ""
    sent_at: float = 0.0  # time.time() when the hook thread started sending it


@dataclass
class Faults:
    error_rate: float = 0.0
    rate_limit_after: int | None = None
    secondary_rate_limit: int | bool | None = None
    secondary_status: int = 403  # GitHub answers 403 or 429
    latency_ms: int = 0
    used: int = 0
    reset_at: int = 0
    lifts_at: float | None = None  # with rate_limit_reset_in: the quota refills then


class Store:
    """Everything the emulator knows. Hold `lock` while reading or changing it."""

    def __init__(self, app: AppInfo, base_url: str = "") -> None:
        self.lock = threading.RLock()
        self.app = app
        self.base_url = base_url
        self.webhook_url: str | None = None
        self.token_ttl = 3600
        self._ids = itertools.count(1000)
        self.users: dict[str, User] = {}
        self.orgs: set[str] = set()
        self.teams: dict[tuple[str, str], set[str]] = {}
        self.team_ids: dict[tuple[str, str], int] = {}
        self.user_tokens: dict[str, str] = {}  # personal access token -> login
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        self.repos: dict[str, Repo] = {}
        self.deliveries: list[Delivery] = []
        self.requests: list[dict] = []
        self.faults = Faults()
        self.check_run_index: dict[int, str] = {}  # check run id -> repo full name
        self.manifest_codes: dict[str, dict] = {}  # one-time code -> App manifest
        self.user(app.bot_login, "Bot")

    def next_id(self) -> int:
        return next(self._ids)

    def user(self, login: str, kind: str | None = None) -> User:
        if login not in self.users:
            default = "Organization" if login in self.orgs else "User"
            self.users[login] = User(login, self.next_id(), kind or default)
        return self.users[login]

    def repo(self, owner: str, name: str) -> Repo | None:
        return self.repos.get(f"{owner}/{name}".lower())

    def add_repo(self, repo: Repo) -> None:
        self.repos[repo.full_name.lower()] = repo

    def installation_for(self, full_name: str) -> Installation | None:
        return next(
            (i for i in self.installations.values() if full_name.lower() in
             (r.lower() for r in i.repos)),
            None,
        )

    def issue_token(self, installation_id: int) -> Token:
        tok = Token(
            "ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")[:36],
            installation_id,
            time.time() + self.token_ttl,
        )
        self.tokens[tok.token] = tok
        return tok

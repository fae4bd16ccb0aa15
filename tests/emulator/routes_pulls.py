"""Pull requests, issue comments, reactions, collaborator permissions and team membership."""

from __future__ import annotations

from tests.emulator import render
from tests.emulator.api import ApiError, Ctx, Result, api, not_found, paginate
from tests.emulator.render_more import comment, pull, pull_files, pull_head_sha, reaction
from tests.emulator.state import Repo, Store, now_iso

R = "/repos/{owner}/{repo}"
MAX_PULL_FILES = 3000
REACTIONS = {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}
# permission -> role name GitHub reports for it
ROLES = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read",
         "read": "read", "none": "none"}


def _pull(ctx: Ctx):  # noqa: ANN202
    try:
        p = ctx.need_repo().pulls.get(int(ctx.params["number"]))
    except ValueError:
        p = None
    if p is None:
        raise not_found()
    return p


def get_pull(ctx: Ctx) -> Result:
    return 200, pull(ctx.store, ctx.need_repo(), _pull(ctx))


def list_pulls(ctx: Ctx) -> Result:
    repo = ctx.need_repo()
    state = ctx.query.get("state", "open")
    head = ctx.query.get("head")
    base = ctx.query.get("base")
    out = []
    for p in sorted(repo.pulls.values(), key=lambda p: -p.number):
        if state != "all" and p.state != state:
            continue
        if head:
            owner, _, branch = head.partition(":")
            head_owner = p.head_repo.split("/")[0]
            if not branch:
                owner, branch = repo.owner, owner
            if head_owner.lower() != owner.lower() or p.head_ref != branch:
                continue
        if base and p.base_ref != base:
            continue
        out.append(pull(ctx.store, repo, p, full=False))
    return paginate(ctx, out, f"{ctx.store.base_url}{ctx.request.url.path}")


def list_pull_files(ctx: Ctx) -> Result:
    repo, p = ctx.need_repo(), _pull(ctx)
    head = pull_head_sha(ctx.store, p)
    # GitHub lists at most 3,000 files of a pull request; the rest are not listed at all.
    listed = pull_files(ctx.store, repo, p)[:MAX_PULL_FILES]
    files = [render.diff_entry(ctx.store, repo, f, head) for f in listed]
    return paginate(ctx, files, f"{ctx.store.base_url}{ctx.request.url.path}")


def add_comment(store: Store, repo: Repo, number: int, body: str, login: str) -> dict:
    c = {
        "id": store.next_id(),
        "issue_number": number,
        "user": login,
        "body": body,
        "created_at": now_iso(),
        "updated_at": now_iso(),
    }
    repo.comments.append(c)
    return c


def _issue(ctx: Ctx) -> int:
    number = int(ctx.params["number"])
    if number not in ctx.need_repo().pulls:
        raise not_found()
    return number


def create_comment(ctx: Ctx) -> Result:
    c = add_comment(ctx.store, ctx.need_repo(), _issue(ctx), ctx.field("body"), ctx.bot)
    return 201, comment(ctx.store, ctx.need_repo(), c)


def list_comments(ctx: Ctx) -> Result:
    number, repo = _issue(ctx), ctx.need_repo()
    items = [comment(ctx.store, repo, c) for c in repo.comments if c["issue_number"] == number]
    return paginate(ctx, items, f"{ctx.store.base_url}{ctx.request.url.path}")


def _comment(ctx: Ctx) -> dict:
    cid = int(ctx.params["comment_id"])
    found = next((c for c in ctx.need_repo().comments if c["id"] == cid), None)
    if found is None:
        raise not_found()
    return found


def get_comment(ctx: Ctx) -> Result:
    return 200, comment(ctx.store, ctx.need_repo(), _comment(ctx))


def update_comment(ctx: Ctx) -> Result:
    c = _comment(ctx)
    if c["user"] != ctx.bot:
        raise ApiError(403, "Resource not accessible by integration")
    c.update(body=ctx.field("body"), updated_at=now_iso())
    return 200, comment(ctx.store, ctx.need_repo(), c)


def create_reaction(ctx: Ctx) -> Result:
    c, repo = _comment(ctx), ctx.need_repo()
    content = ctx.field("content")
    if content not in REACTIONS:
        raise ApiError(422, f"content {content!r} is not a valid reaction")
    existing = next(
        (r for r in repo.reactions
         if r["comment_id"] == c["id"] and r["content"] == content and r["user"] == ctx.bot),
        None,
    )
    if existing:  # GitHub answers 200 with the reaction that already exists
        return 200, reaction(ctx.store, existing)
    r = {"id": ctx.store.next_id(), "comment_id": c["id"], "content": content,
         "user": ctx.bot, "created_at": now_iso()}
    repo.reactions.append(r)
    return 201, reaction(ctx.store, r)


def permission_of(repo: Repo, login: str) -> str:
    if login.lower() == repo.owner.lower():
        return "admin"
    if login in repo.collaborators:
        return repo.collaborators[login]
    # outside collaborators can read a public repository, nothing on a private one
    return "none" if repo.private else "read"


def collaborator_permission(ctx: Ctx) -> Result:
    repo, login = ctx.need_repo(), ctx.params["username"]
    if login not in ctx.store.users:
        raise ApiError(404, f"{login} is not a user")
    perm = permission_of(repo, login)
    role = "maintain" if perm == "maintain" else "triage" if perm == "triage" else perm
    return 200, {
        "permission": ROLES[perm],
        "role_name": role,
        "user": {**render.user(ctx.store, login), "role_name": role,
                 "permissions": _flags(perm)},
    }


def _flags(perm: str) -> dict[str, bool]:
    order = ["read", "triage", "write", "maintain", "admin"]
    level = order.index(perm) if perm in order else -1
    return {"pull": level >= 0, "triage": level >= 1, "push": level >= 2,
            "maintain": level >= 3, "admin": level >= 4}


def team_membership(ctx: Ctx) -> Result:
    org, team, login = ctx.params["org"], ctx.params["team_slug"], ctx.params["username"]
    covered = any(i.account.lower() == org.lower() for i in ctx.store.installations.values())
    if ctx.installation is None or ctx.installation.account.lower() != org.lower() or not covered:
        raise not_found()
    members = ctx.store.teams.get((org.lower(), team.lower()))
    if members is None or login not in members:
        raise not_found()
    return 200, {
        "url": f"{ctx.store.base_url}/teams/{team}/memberships/{login}",
        "role": "member",
        "state": "active",
    }


ROUTES = [
    api(f"{R}/pulls", "GET", list_pulls),
    api(f"{R}/pulls/{{number}}", "GET", get_pull),
    api(f"{R}/pulls/{{number}}/files", "GET", list_pull_files),
    api(f"{R}/issues/{{number}}/comments", "POST", create_comment),
    api(f"{R}/issues/{{number}}/comments", "GET", list_comments),
    api(f"{R}/issues/comments/{{comment_id}}", "GET", get_comment),
    api(f"{R}/issues/comments/{{comment_id}}", "PATCH", update_comment),
    api(f"{R}/issues/comments/{{comment_id}}/reactions", "POST", create_reaction),
    api(f"{R}/collaborators/{{username}}/permission", "GET", collaborator_permission),
    api("/orgs/{org}/teams/{team_slug}/memberships/{username}", "GET", team_membership),
]

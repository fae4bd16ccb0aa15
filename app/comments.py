"""Writing to a PR's conversation: reactions, one updatable comment per topic."""

from __future__ import annotations

from githubkit.exception import RequestFailed
from rq import get_current_job

from app.context import JobContext
from app.github import body
from app.settings import get_settings

MAX_PAGES = 10  # 1,000 comments searched for a marker
_POSTING = "shipcrew:posted-comments:{job}"  # markers a job has (maybe) posted
POSTING_TTL = 7 * 24 * 3600


def react(ctx: JobContext, comment_id: int, content: str = "eyes") -> bool:
    """Acknowledge a comment; a comment deleted in the meantime is not an error."""
    try:
        ctx.gh.rest.reactions.create_for_issue_comment(ctx.owner, ctx.name, comment_id,
                                                       content=content)  # type: ignore[call-overload]
    except RequestFailed as exc:
        if exc.response.status_code in (404, 410, 422):
            return False
        raise
    return True


def post(ctx: JobContext, number: int, text: str) -> int:
    resp = ctx.gh.rest.issues.create_comment(ctx.owner, ctx.name, number, data={"body": text})
    return int(body(resp)["id"])


def post_once(ctx: JobContext, number: int, marker: str, text: str) -> int:
    """Post `text` (which carries `marker`) unless an earlier attempt of this job already
    did: the attempt is noted in Redis before the POST, and only then is the PR's
    conversation searched for the marker (a worker may die between POST and record)."""
    job = get_current_job()
    if job is None:
        return post(ctx, number, text)
    key = _POSTING.format(job=job.id)
    if job.connection.hexists(key, marker):
        found = find_marked(ctx, number, marker)
        if found is not None and update(ctx, found, text):
            return found
    with job.connection.pipeline() as pipe:
        pipe.hset(key, marker, 1)
        pipe.expire(key, POSTING_TTL)
        pipe.execute()
    return post(ctx, number, text)


def update(ctx: JobContext, comment_id: int, text: str) -> bool:
    """False when the comment is gone (someone deleted it): the caller posts a new one."""
    try:
        ctx.gh.rest.issues.update_comment(ctx.owner, ctx.name, comment_id, data={"body": text})
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return False
        raise
    return True


def _ours(login: str, kind: str) -> bool:
    bot = get_settings().bot_login
    return login.lower() == bot.lower() if bot else kind == "Bot"


def find_marked(ctx: JobContext, number: int, marker: str) -> int | None:
    """Our comment carrying `marker` on PR `number`. Only our own comments count: anyone
    can paste a marker into theirs."""
    for page in range(1, MAX_PAGES + 1):
        items = body(ctx.gh.rest.issues.list_comments(ctx.owner, ctx.name, number,
                                                      per_page=100, page=page))
        for c in items:
            user = c.get("user") or {}
            if marker in (c.get("body") or "") and _ours(user.get("login", ""),
                                                         user.get("type", "")):
                return int(c["id"])
        if len(items) < 100:
            break
    return None


def upsert_marked(ctx: JobContext, number: int, marker: str, text: str) -> int:
    """Update our comment carrying `marker` on PR `number`, or post it; returns its id."""
    found = find_marked(ctx, number, marker)
    if found is not None and update(ctx, found, text):
        return found
    return post(ctx, number, text)

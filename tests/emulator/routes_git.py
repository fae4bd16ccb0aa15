"""Repository, Git Data, contents, commits and compare endpoints."""

from __future__ import annotations

import base64
import binascii

from tests.emulator import git, render
from tests.emulator.api import ApiError, Ctx, Result, api, not_found
from tests.emulator.render_more import pull, pull_head_sha
from tests.emulator.repos import resolve, set_ref
from tests.emulator.state import now_iso

R = "/repos/{owner}/{repo}"
MAX_COMPARE_FILES = 300


def get_repo(ctx: Ctx) -> Result:
    return 200, render.repository(ctx.store, ctx.need_repo())


def _api(ctx: Ctx) -> str:
    return f"{ctx.store.base_url}/repos/{ctx.need_repo().full_name}"


def create_blob(ctx: Ctx) -> Result:
    content = ctx.field("content")
    encoding = ctx.field("encoding", "utf-8")
    if encoding == "base64":
        try:
            data = base64.b64decode(content, validate=False)
        except binascii.Error as e:
            raise ApiError(422, f"Invalid base64 content: {e}") from e
    elif encoding in ("utf-8", "utf8"):
        data = content.encode()
    else:
        raise ApiError(422, f"encoding {encoding!r} is not supported")
    sha = git.add_blob(ctx.need_repo().store, data)
    return 201, {"sha": sha, "url": f"{_api(ctx)}/git/blobs/{sha}"}


def get_blob(ctx: Ctx) -> Result:
    sha = ctx.params["sha"]
    try:
        data = git.read_blob(ctx.need_repo().store, sha)
    except git.GitError:
        raise not_found() from None
    return 200, {
        "sha": sha,
        "node_id": render.node_id("Blob", sha),
        "size": len(data),
        "url": f"{_api(ctx)}/git/blobs/{sha}",
        "content": base64.encodebytes(data).decode(),
        "encoding": "base64",
    }


def _tree(ctx: Ctx, sha: str, recursive: bool) -> dict:
    items = git.tree_entries(ctx.need_repo().store, sha, recursive)
    for item in items:
        kind = "blobs" if item["type"] == "blob" else "trees"
        item["url"] = f"{_api(ctx)}/git/{kind}/{item['sha']}"
    return {"sha": sha, "url": f"{_api(ctx)}/git/trees/{sha}", "tree": items, "truncated": False}


def create_tree(ctx: Ctx) -> Result:
    entries = ctx.field("tree")
    base = ctx.field("base_tree", None)
    repo = ctx.need_repo()
    if base is not None and not git.has(repo.store, base):
        raise ApiError(422, "base_tree is not a valid tree oid")
    sha = git.apply_entries(repo.store, base, entries)
    return 201, _tree(ctx, sha, False)


def get_tree(ctx: Ctx) -> Result:
    repo = ctx.need_repo()
    sha = ctx.params["sha"]
    if not git.has(repo.store, sha):
        sha = resolve(ctx.store, repo, sha) or ""
        if not sha:
            raise not_found()
    obj = git.get(repo.store, sha)
    if obj.type_name == b"commit":
        sha = obj.tree.decode()
    recursive = ctx.query.get("recursive") not in (None, "", "0", "false")
    return 200, _tree(ctx, sha, recursive)


def _signature(ctx: Ctx, given: dict | None, fallback: git.Signature | None) -> git.Signature:
    if given:
        return git.Signature(given["name"], given["email"], given.get("date") or now_iso())
    if fallback:
        return fallback
    return git.Signature(ctx.bot, render.email_for(ctx.store, ctx.bot), now_iso())


def create_commit(ctx: Ctx) -> Result:
    author = _signature(ctx, ctx.field("author", None), None)
    committer = _signature(ctx, ctx.field("committer", None), author)
    sha = git.make_commit(
        ctx.need_repo().store,
        tree=ctx.field("tree"),
        parents=list(ctx.field("parents", [])),
        message=ctx.field("message"),
        author=author,
        committer=committer,
    )
    return 201, render.git_commit(ctx.store, ctx.need_repo(), sha)


def get_commit(ctx: Ctx) -> Result:
    if not git.has(ctx.need_repo().store, ctx.params["sha"]):
        raise not_found()
    return 200, render.git_commit(ctx.store, ctx.need_repo(), ctx.params["sha"])


def _ref_json(ctx: Ctx, ref: str, sha: str) -> dict:
    return {
        "ref": f"refs/{ref}",
        "node_id": render.node_id("Ref", ref),
        "url": f"{_api(ctx)}/git/refs/{ref}",
        "object": {"type": "commit", "sha": sha, "url": f"{_api(ctx)}/git/commits/{sha}"},
    }


def get_ref(ctx: Ctx) -> Result:
    ref = ctx.params["ref"].removeprefix("refs/")
    sha = ctx.need_repo().refs.get(ref)
    if sha is None:
        raise not_found()
    return 200, _ref_json(ctx, ref, sha)


def create_ref(ctx: Ctx) -> Result:
    full = ctx.field("ref")
    if not full.startswith("refs/") or full.count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    ref = full.removeprefix("refs/")
    repo = ctx.need_repo()
    if ref in repo.refs:
        raise ApiError(422, "Reference already exists")
    set_ref(ctx.store, repo, ref, ctx.field("sha"), force=False, by_app=True)
    return 201, _ref_json(ctx, ref, repo.refs[ref])


def update_ref(ctx: Ctx) -> Result:
    ref = ctx.params["ref"].removeprefix("refs/")
    repo = ctx.need_repo()
    if ref not in repo.refs:
        raise ApiError(422, "Reference does not exist")
    before = repo.refs[ref]
    set_ref(ctx.store, repo, ref, ctx.field("sha"), force=bool(ctx.field("force", False)),
            by_app=True)
    if repo.refs[ref] != before:
        _synchronize(ctx, ref, before)
    return 200, _ref_json(ctx, ref, repo.refs[ref])


def _synchronize(ctx: Ctx, ref: str, before: str) -> None:
    """A push to a PR branch by the App reaches the App as `pull_request.synchronize`."""
    repo = ctx.need_repo()
    for p in repo.pulls.values():
        if p.state == "open" and p.head_repo.lower() == repo.full_name.lower() and (
            f"heads/{p.head_ref}" == ref
        ):
            p.updated_at = now_iso()  # a push updates the pull request, as on GitHub
            payload = ctx.hooks.envelope(
                repo, ctx.bot, action="synchronize", number=p.number,
                before=before, after=pull_head_sha(ctx.store, p),
                pull_request=pull(ctx.store, repo, p),
            )
            ctx.hooks.emit("pull_request", payload)


def delete_ref(ctx: Ctx) -> Result:
    ref = ctx.params["ref"].removeprefix("refs/")
    if ctx.need_repo().refs.pop(ref, None) is None:
        raise ApiError(422, "Reference does not exist")
    return 204, None


def get_contents(ctx: Ctx) -> Result:
    repo = ctx.need_repo()
    ref = ctx.query.get("ref") or repo.default_branch
    sha = resolve(ctx.store, repo, ref)
    if sha is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    path = ctx.params["path"].strip("/")
    flat = git.flatten(repo.store, git.read_commit(repo.store, sha)["tree"])
    if path in flat:
        blob = flat[path][1]
        data = git.read_blob(repo.store, blob)
        return 200, render.content_file(ctx.store, repo, path, blob, data, ref)
    prefix = path + "/" if path else ""
    children = sorted({p[len(prefix):].split("/")[0] for p in flat if p.startswith(prefix)})
    if not children:
        raise not_found()
    listing = []
    for name in children:
        child = prefix + name
        is_file = child in flat
        item = render.content_file(
            ctx.store, repo, child, flat[child][1] if is_file else "0" * 40, b"", ref
        )
        item.pop("content"), item.pop("encoding")
        item.update(type="file" if is_file else "dir",
                    size=len(git.read_blob(repo.store, flat[child][1])) if is_file else 0)
        listing.append(item)
    return 200, listing


def get_rest_commit(ctx: Ctx) -> Result:
    sha = resolve(ctx.store, ctx.need_repo(), ctx.params["ref"])
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ctx.params['ref']}")
    return 200, render.rest_commit(ctx.store, ctx.need_repo(), sha, with_files=True)


def compare(ctx: Ctx) -> Result:
    repo = ctx.need_repo()
    base_ref, sep, head_ref = ctx.params["basehead"].partition("...")
    if not sep:
        raise not_found()
    base, head = resolve(ctx.store, repo, base_ref), resolve(ctx.store, repo, head_ref)
    if base is None or head is None:
        raise not_found()
    mb = git.merge_base(repo.store, base, head)
    ahead = git.new_commits(repo.store, head, [base])
    behind = git.new_commits(repo.store, base, [head])
    status = (
        "identical" if not ahead and not behind else
        "ahead" if not behind else "behind" if not ahead else "diverged"
    )
    mb_tree = git.read_commit(repo.store, mb)["tree"] if mb else None
    files = git.diff_trees(repo.store, mb_tree, git.read_commit(repo.store, head)["tree"])
    html = f"{render.HTML}/{repo.full_name}/compare/{base_ref}...{head_ref}"
    return 200, {
        "url": f"{_api(ctx)}/compare/{base_ref}...{head_ref}",
        "html_url": html,
        "permalink_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "base_commit": render.rest_commit(ctx.store, repo, base),
        "merge_base_commit": render.rest_commit(ctx.store, repo, mb or base),
        "status": status,
        "ahead_by": len(ahead),
        "behind_by": len(behind),
        "total_commits": len(ahead),
        "commits": [render.rest_commit(ctx.store, repo, c) for c in reversed(ahead)],
        # GitHub lists at most 300 files of a comparison (and says nothing about the rest).
        "files": [render.diff_entry(ctx.store, repo, f, head) for f in files[:MAX_COMPARE_FILES]],
    }


ROUTES = [
    api(R, "GET", get_repo, mode="user_or_token"),
    api(f"{R}/git/blobs", "POST", create_blob),
    api(f"{R}/git/blobs/{{sha}}", "GET", get_blob),
    api(f"{R}/git/trees", "POST", create_tree),
    api(f"{R}/git/trees/{{sha}}", "GET", get_tree),
    api(f"{R}/git/commits", "POST", create_commit),
    api(f"{R}/git/commits/{{sha}}", "GET", get_commit),
    api(f"{R}/git/ref/{{ref:path}}", "GET", get_ref),
    api(f"{R}/git/refs", "POST", create_ref),
    api(f"{R}/git/refs/{{ref:path}}", "PATCH", update_ref),
    api(f"{R}/git/refs/{{ref:path}}", "DELETE", delete_ref),
    api(f"{R}/contents/{{path:path}}", "GET", get_contents, mode="user_or_token"),
    api(f"{R}/commits/{{ref}}", "GET", get_rest_commit),
    api(f"{R}/compare/{{basehead:path}}", "GET", compare),
]

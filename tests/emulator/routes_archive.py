"""Repository archives and pull requests the App opens.

`GET /repos/{o}/{r}/tarball/{ref}` answers 302 to a codeload URL, as GitHub does; the
codeload route serves GitHub's layout (one top directory `{owner}-{repo}-{short sha}/`, a
pax global header carrying the commit SHA). Codeload is another host on GitHub, so its
downloads are not API requests and are not in the request log.

`POST /repos/{o}/{r}/pulls` opens a pull request as the App's bot (`pull_request.opened`).
"""

from __future__ import annotations

import io
import tarfile
import time

from dulwich.object_store import MemoryObjectStore
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.emulator import git
from tests.emulator.api import ApiError, Ctx, Result, Runtime, api, error_response, not_found
from tests.emulator.render_more import pull
from tests.emulator.repos import resolve
from tests.emulator.state import Pull

R = "/repos/{owner}/{repo}"
CODELOAD = "/_codeload/{owner}/{repo}/legacy.tar.gz/{sha}"


def tarball(store: MemoryObjectStore, sha: str, prefix: str) -> bytes:
    """The gzip tarball of commit `sha`, every path under `prefix/`."""
    commit = git.read_commit(store, sha)
    mtime = int(time.time())
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT,
                      pax_headers={"comment": sha}) as tar:
        for path, (mode, blob) in sorted(git.flatten(store, commit["tree"]).items()):
            data = git.read_blob(store, blob)
            info = tarfile.TarInfo(f"{prefix}/{path}")
            info.size, info.mtime = len(data), mtime
            info.mode = 0o755 if mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def download_tarball(ctx: Ctx) -> Result:
    repo = ctx.need_repo()
    sha = resolve(ctx.store, repo, ctx.params["ref"])
    if sha is None:
        raise not_found()
    location = ctx.store.base_url + CODELOAD.format(owner=repo.owner, repo=repo.name, sha=sha)
    return Response(status_code=302, headers={"Location": location})


async def codeload(request: Request) -> Response:
    rt: Runtime = request.app.state.rt
    p = request.path_params
    with rt.store.lock:
        repo = rt.store.repo(p["owner"], p["repo"])
        if repo is None or not git.has(repo.store, p["sha"]):
            return error_response(404, "Not Found")
        data = tarball(repo.store, p["sha"], f"{repo.owner}-{repo.name}-{p['sha'][:7]}")
    return Response(data, media_type="application/x-gzip", headers={
        "Content-Disposition": f"attachment; filename={repo.owner}-{repo.name}-{p['sha'][:7]}"
                               ".tar.gz"})


def create_pull(ctx: Ctx) -> Result:
    repo = ctx.need_repo()
    head, base = ctx.field("head"), ctx.field("base")
    head_owner, _, head_ref = head.rpartition(":")
    if head_owner and head_owner.lower() != repo.owner.lower():
        raise ApiError(422, "Validation Failed", errors=[
            {"resource": "PullRequest", "field": "head", "code": "invalid"}])
    if f"heads/{head_ref}" not in repo.refs or f"heads/{base}" not in repo.refs:
        raise ApiError(422, "Validation Failed", errors=[
            {"resource": "PullRequest", "field": "head" if f"heads/{base}" in repo.refs
             else "base", "code": "invalid"}])
    if any(p.state == "open" and p.head_repo == repo.full_name and p.head_ref == head_ref
           and p.base_ref == base for p in repo.pulls.values()):
        raise ApiError(422, "Validation Failed", errors=[
            {"resource": "PullRequest", "code": "custom",
             "message": f"A pull request already exists for {repo.owner}:{head_ref}."}])
    pr = Pull(number=repo.next_number, id=ctx.store.next_id(), title=ctx.field("title"),
              body=ctx.field("body", None), user=ctx.bot, head_repo=repo.full_name,
              head_ref=head_ref, base_ref=base, base_sha=repo.refs[f"heads/{base}"])
    repo.next_number += 1
    repo.pulls[pr.number] = pr
    data = pull(ctx.store, repo, pr)
    ctx.hooks.emit("pull_request", ctx.hooks.envelope(repo, ctx.bot, action="opened",
                                                      number=pr.number, pull_request=data))
    return 201, data


ROUTES = [
    api(f"{R}/tarball/{{ref:path}}", "GET", download_tarball),
    api(f"{R}/pulls", "POST", create_pull),
    Route(CODELOAD, codeload, methods=["GET"]),
]

"""Git Data and pull-request reads shared by every agent that reads a head or commits.

Reading: one tarball of the head (no per-file contents calls) and the PR's file listing.
Writing: one tree with inline contents, one commit whose parent is the planned head, one ref
update with `force: false` - the optimistic lock: if the head moved, GitHub answers 422 and
the caller drops its work (the new push has its own plan).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from typing import Any

from githubkit.exception import RequestFailed

from app.context import JobContext
from app.files import MAX_FILE_BYTES, Files, decode
from app.github import body
from app.handoff import contents_ref

MAX_ARCHIVE_BYTES = 200 * 1024 * 1024  # the tarball as downloaded
# What one head may unpack to: a 0.64 MB tarball of repeated text unpacked to 629 MB held in
# memory before these caps. Over any of them the head is refused with a check-run message.
MAX_ARCHIVE_FILES = 20_000
MAX_TEXT_BYTES = 100 * 1024 * 1024  # text kept in memory, summed over files
MAX_UNPACKED_BYTES = 512 * 1024 * 1024  # every member, kept or skipped (decompression work)


class PermanentError(Exception):
    """Will not heal by retrying: reported on the check run, never retried."""



def read_archive(data: bytes, max_file_bytes: int = MAX_FILE_BYTES, *,
                 max_files: int = MAX_ARCHIVE_FILES, max_text: int = MAX_TEXT_BYTES,
                 max_unpacked: int = MAX_UNPACKED_BYTES) -> tuple[Files, set[str]]:
    """Text files of a GitHub tarball (its top directory stripped), and every path in it:
    binary or oversized files are absent from the first but still exist. PermanentError when
    the head has more files, text or unpacked bytes than the caps allow."""
    files: Files = {}
    present: set[str] = set()
    text_bytes = unpacked = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as tar:
        for member in tar:
            unpacked += max(member.size, 0)
            if unpacked > max_unpacked:
                raise PermanentError(f"the head unpacks to over {max_unpacked >> 20} MB; "
                                     "shipcrew reviews heads up to that size")
            path = member.name.partition("/")[2]
            if not path or not (member.isfile() or member.issym()):
                continue
            present.add(path)
            if len(present) > max_files:
                raise PermanentError(f"the head has over {max_files:,} files; shipcrew reviews "
                                     "heads up to that many")
            if member.isfile() and member.size <= max_file_bytes:
                text_bytes += member.size
                if text_bytes > max_text:
                    raise PermanentError(f"the head's files total over {max_text >> 20} MB; "
                                         "shipcrew reviews heads up to that size")
                handle = tar.extractfile(member)
                text = decode(handle.read()) if handle else None
                if text is not None:
                    files[path] = text
    return files, present


def read_head(ctx: JobContext, head_sha: str) -> tuple[Files, set[str]]:
    resp = ctx.gh.rest.repos.download_tarball_archive(ctx.owner, ctx.name, head_sha)
    if len(resp.content) > MAX_ARCHIVE_BYTES:
        raise PermanentError(f"the repository archive is over {MAX_ARCHIVE_BYTES >> 20} MB")
    return read_archive(resp.content)


def create_tree(ctx: JobContext, parent: str, changes: Files) -> str:
    base_tree = ctx.gh.rest.git.get_commit(ctx.owner, ctx.name, parent).parsed_data.tree.sha
    return str(ctx.gh.rest.git.create_tree(ctx.owner, ctx.name, data={
        "base_tree": base_tree,
        "tree": [{"path": p, "mode": "100644", "type": "blob", "content": t}
                 for p, t in sorted(changes.items())],
    }).parsed_data.sha)


def create_commit(ctx: JobContext, parent: str, changes: Files, message: str,
                  tree: str | None = None) -> str:
    tree = tree or create_tree(ctx, parent, changes)
    return ctx.gh.rest.git.create_commit(ctx.owner, ctx.name, data={
        "message": message, "tree": tree, "parents": [parent]}).parsed_data.sha


def error_message(exc: RequestFailed) -> str:
    try:
        return str(exc.response.json().get("message", ""))
    except ValueError:
        return exc.response.text


def head_moved(exc: RequestFailed) -> bool:
    return exc.response.status_code == 422 and "fast forward" in error_message(exc).lower()


def workflows_refused(exc: RequestFailed) -> bool:
    return exc.response.status_code in (403, 422) and "workflow" in error_message(exc).lower()


def push_to_branch(ctx: JobContext, branch: str, parent: str, changes: Files,
                   message: str, before_update: Callable[[str], None] | None = None) -> str:
    """Commit on top of `parent` and fast-forward `branch` (422 if it moved).
    `before_update(sha)` runs once the commit exists and before the branch moves to it, so
    whatever the commit's own webhook will read is in place before that webhook is sent.

    A commit is keyed by (parent, tree): if the branch moved to a commit with exactly that
    parent and tree - ours, from an attempt that died before reporting - that is success."""
    tree = create_tree(ctx, parent, changes)
    sha = create_commit(ctx, parent, changes, message, tree)
    if before_update is not None:
        before_update(sha)
    try:
        ctx.gh.rest.git.update_ref(ctx.owner, ctx.name, f"heads/{branch}",
                                   data={"sha": sha, "force": False})
    except RequestFailed as exc:
        if not head_moved(exc) or (landed := _landed(ctx, branch, parent, tree)) is None:
            raise
        return landed
    return sha


def _landed(ctx: JobContext, branch: str, parent: str, tree: str) -> str | None:
    head = body(ctx.gh.rest.git.get_ref(ctx.owner, ctx.name, f"heads/{branch}"))["object"]["sha"]
    commit = ctx.gh.rest.git.get_commit(ctx.owner, ctx.name, head).parsed_data
    same = [p.sha for p in commit.parents] == [parent] and commit.tree.sha == tree
    return str(commit.sha) if same else None


def changed_files(ctx: JobContext, number: int) -> list[dict[str, Any]]:
    """Every file of the PR (GitHub pages them, 100 at a time, up to 3,000)."""
    files: Any = ctx.gh.rest.paginate(
        ctx.gh.rest.pulls.list_files, owner=ctx.owner, repo=ctx.name, pull_number=number,
        per_page=100,
    )
    return [{"path": f.filename, "status": f.status, "patch": f.patch, "sha": f.sha,
             "previous_path": f.previous_filename or None, "ref": contents_ref(f.contents_url)}
            for f in files]

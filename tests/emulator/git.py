"""Real git objects for the emulator, on a dulwich in-memory object store.

Blob, tree and commit SHAs are computed by dulwich exactly as git computes them, so an
object created through the emulator has the SHA `git` would give it.
"""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from dulwich.index import commit_tree
from dulwich.object_store import MemoryObjectStore, iter_tree_contents
from dulwich.objects import Blob, Commit, Tree

FILE_MODE = 0o100644
EXEC_MODE = 0o100755
LINK_MODE = 0o120000
TREE_MODE = 0o040000
GITLINK_MODE = 0o160000

# path -> (mode, blob sha)
Flat = dict[str, tuple[int, str]]


class GitError(Exception):
    """A request that names missing or wrong-typed objects (GitHub answers 422/404)."""


@dataclass(frozen=True)
class Signature:
    name: str
    email: str
    date: str  # ISO 8601, as GitHub returns it


def add_blob(store: MemoryObjectStore, data: bytes) -> str:
    blob = Blob.from_string(data)
    store.add_object(blob)
    return blob.id.decode()


def read_blob(store: MemoryObjectStore, sha: str) -> bytes:
    obj = get(store, sha)
    if not isinstance(obj, Blob):
        raise GitError(f"{sha} is not a blob")
    return obj.data


def get(store: MemoryObjectStore, sha: str):  # noqa: ANN201 - dulwich ShaFile
    key = sha.encode()
    if len(sha) != 40 or key not in store:
        raise GitError(f"object {sha} not found")
    return store[key]


def has(store: MemoryObjectStore, sha: str) -> bool:
    return len(sha) == 40 and sha.encode() in store


def flatten(store: MemoryObjectStore, tree_sha: str | None) -> Flat:
    if not tree_sha:
        return {}
    if not isinstance(get(store, tree_sha), Tree):
        raise GitError(f"{tree_sha} is not a tree")
    return {
        e.path.decode(): (e.mode, e.sha.decode())
        for e in iter_tree_contents(store, tree_sha.encode())
    }


def build_tree(store: MemoryObjectStore, flat: Mapping[str, tuple[int, str]]) -> str:
    blobs = [(p.encode(), sha.encode(), mode) for p, (mode, sha) in sorted(flat.items())]
    return commit_tree(store, blobs).decode()


def apply_entries(store: MemoryObjectStore, base_tree: str | None, entries: Iterable[dict]) -> str:
    """Build a tree the way `POST /git/trees` does: entries over an optional base tree."""
    flat = flatten(store, base_tree)
    for entry in entries:
        path = entry["path"].strip("/")
        mode = int(entry.get("mode", "100644"), 8)
        prefix = path + "/"
        if "content" in entry and entry["content"] is not None:
            flat[path] = (mode, add_blob(store, entry["content"].encode()))
        elif entry.get("sha") is None:
            # `sha: null` deletes the path (a file, or every file under a directory)
            flat = {p: v for p, v in flat.items() if p != path and not p.startswith(prefix)}
        elif entry.get("type") == "tree" or mode == TREE_MODE:
            sub = flatten(store, entry["sha"])
            flat = {p: v for p, v in flat.items() if p != path and not p.startswith(prefix)}
            flat.update({prefix + p: v for p, v in sub.items()})
        else:
            if mode != GITLINK_MODE and not has(store, entry["sha"]):
                raise GitError(f"tree.sha {entry['sha']} is not a valid blob")
            flat[path] = (mode, entry["sha"])
    return build_tree(store, flat)


def tree_entries(store: MemoryObjectStore, tree_sha: str, recursive: bool) -> list[dict]:
    """Entries of a tree as GitHub lists them (recursive lists trees too)."""
    out = []
    if recursive:
        items = iter_tree_contents(store, tree_sha.encode(), include_trees=True)
        pairs = [(e.path.decode(), e.mode, e.sha.decode()) for e in items if e.path]
    else:
        tree = get(store, tree_sha)
        pairs = [(e.path.decode(), e.mode, e.sha.decode()) for e in tree.iteritems()]
    for path, mode, sha in pairs:
        kind = "tree" if mode == TREE_MODE else "commit" if mode == GITLINK_MODE else "blob"
        item = {"path": path, "mode": f"{mode:06o}", "type": kind, "sha": sha}
        if kind == "blob":
            item["size"] = len(store[sha.encode()].data)
        out.append(item)
    out.sort(key=lambda i: i["path"])
    return out


def _epoch(date: str) -> int:
    return int(datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp())


def make_commit(
    store: MemoryObjectStore,
    *,
    tree: str,
    parents: list[str],
    message: str,
    author: Signature,
    committer: Signature,
) -> str:
    if not isinstance(get(store, tree), Tree):
        raise GitError(f"{tree} is not a tree")
    for parent in parents:
        if not isinstance(get(store, parent), Commit):
            raise GitError(f"parent {parent} is not a commit")
    c = Commit()
    c.tree = tree.encode()
    c.parents = [p.encode() for p in parents]
    c.author = f"{author.name} <{author.email}>".encode()
    c.committer = f"{committer.name} <{committer.email}>".encode()
    c.author_time, c.commit_time = _epoch(author.date), _epoch(committer.date)
    c.author_timezone = c.commit_timezone = 0
    c.message = message.encode()
    store.add_object(c)
    return c.id.decode()


def read_commit(store: MemoryObjectStore, sha: str) -> dict:
    c = get(store, sha)
    if not isinstance(c, Commit):
        raise GitError(f"{sha} is not a commit")

    def sig(raw: bytes, when: int) -> dict:
        name, _, email = raw.decode().rpartition(" <")
        date = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"name": name, "email": email.rstrip(">"), "date": date}

    return {
        "sha": sha,
        "tree": c.tree.decode(),
        "parents": [p.decode() for p in c.parents],
        "message": c.message.decode(),
        "author": sig(c.author, c.author_time),
        "committer": sig(c.committer, c.commit_time),
    }


def ancestors(store: MemoryObjectStore, sha: str) -> list[str]:
    """`sha` and every commit reachable from it, breadth first."""
    seen: dict[str, None] = {}
    queue = deque([sha])
    while queue:
        cur = queue.popleft()
        if cur in seen or not has(store, cur):
            continue
        seen[cur] = None
        queue.extend(p.decode() for p in store[cur.encode()].parents)
    return list(seen)


def merge_base(store: MemoryObjectStore, a: str, b: str) -> str | None:
    mine = set(ancestors(store, a))
    return next((c for c in ancestors(store, b) if c in mine), None)


def new_commits(store: MemoryObjectStore, head: str, known: Iterable[str]) -> list[str]:
    """Commits reachable from `head` but from none of `known` (what a push uploads)."""
    seen: set[str] = set()
    for sha in known:
        seen.update(ancestors(store, sha))
    return [c for c in ancestors(store, head) if c not in seen]


def changed_paths(store: MemoryObjectStore, commit_sha: str) -> set[str]:
    c = read_commit(store, commit_sha)
    before = flatten(store, read_commit(store, c["parents"][0])["tree"]) if c["parents"] else {}
    after = flatten(store, c["tree"])
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def _lines(store: MemoryObjectStore, sha: str | None) -> list[str] | None:
    if sha is None:
        return []
    data = store[sha.encode()].data
    if b"\0" in data[:8000]:
        return None  # binary: GitHub omits the patch
    return data.decode("utf-8", "replace").splitlines()


def diff_trees(store: MemoryObjectStore, old_tree: str | None, new_tree: str | None) -> list[dict]:
    """Per-file changes between two trees, shaped like GitHub's diff entries (no URLs)."""
    # Trees never change, so a diff is computed once: a big PR's file listing is read page by
    # page, and every page would otherwise diff the whole PR again.
    return [dict(e) for e in _diff_trees(store, old_tree, new_tree)]


@lru_cache(maxsize=64)
def _diff_trees(store: MemoryObjectStore, old_tree: str | None,
                new_tree: str | None) -> tuple[dict, ...]:
    old, new = flatten(store, old_tree), flatten(store, new_tree)
    removed = {p: v for p, v in old.items() if p not in new}
    added = {p: v for p, v in new.items() if p not in old}
    renames: dict[str, str] = {}
    by_sha = {sha: p for p, (_, sha) in removed.items()}
    for path, (_, sha) in added.items():
        if sha in by_sha:
            renames[path] = by_sha.pop(sha)
    gone = set(renames.values())
    out = []
    for path in sorted(old.keys() | new.keys()):
        if path in gone:
            continue
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        status = "added" if before is None else "removed" if after is None else "modified"
        entry: dict = {"filename": path, "status": status}
        if path in renames:
            entry.update(status="renamed", previous_filename=renames[path])
            before = old[renames[path]]
        a = _lines(store, before[1] if before else None)
        b = _lines(store, after[1] if after else None)
        adds = dels = 0
        if a is not None and b is not None:
            hunks = list(difflib.unified_diff(a, b, lineterm="", n=3))[2:]
            adds = sum(1 for h in hunks if h.startswith("+"))
            dels = sum(1 for h in hunks if h.startswith("-"))
            if hunks:
                entry["patch"] = "\n".join(hunks)
        entry.update(
            sha=(after or before)[1],
            additions=adds,
            deletions=dels,
            changes=adds + dels,
        )
        out.append(entry)
    return tuple(out)


def files_at(store: MemoryObjectStore, commit_sha: str) -> dict[str, str]:
    """Every file of a commit as text (what the control API's state shows)."""
    flat = flatten(store, read_commit(store, commit_sha)["tree"])
    return {
        p: store[sha.encode()].data.decode("utf-8", "replace")
        for p, (mode, sha) in flat.items()
        if mode != GITLINK_MODE
    }

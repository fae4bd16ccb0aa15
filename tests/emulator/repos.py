"""Repository operations shared by the REST routes and the control API."""

from __future__ import annotations

from dulwich.object_store import MemoryObjectStore

from tests.emulator import git, render
from tests.emulator.api import ApiError
from tests.emulator.state import Installation, Repo, Store, now_iso

WORKFLOWS_DIR = ".github/workflows/"


def create_repo(
    store: Store,
    owner: str,
    name: str,
    files: dict[str, str] | None,
    default_branch: str = "main",
    *,
    fork_of: Repo | None = None,
) -> Repo:
    repo = Repo(
        id=store.next_id(),
        owner=owner,
        name=name,
        default_branch=default_branch,
        # a fork shares its parent's objects, as forks on GitHub share a network
        store=fork_of.store if fork_of else MemoryObjectStore(),
        fork_of=fork_of.full_name if fork_of else None,
    )
    store.user(owner)
    store.add_repo(repo)
    if fork_of is not None:
        repo.refs = dict(fork_of.refs)
    else:
        sha = commit_files(store, repo, None, files or {}, "Initial commit", owner)
        repo.refs[f"heads/{default_branch}"] = sha
    return repo


def install(store: Store, repo: Repo) -> tuple[Installation, bool]:
    """Cover `repo` by the owner's installation; True when the installation is new."""
    inst = next((i for i in store.installations.values() if i.account == repo.owner), None)
    created = inst is None
    if inst is None:
        inst = Installation(id=store.next_id(), account=repo.owner)
        store.installations[inst.id] = inst
    if repo.full_name not in inst.repos:
        inst.repos.append(repo.full_name)
    return inst, created


def commit_files(
    store: Store,
    repo: Repo,
    parent: str | None,
    files: dict[str, str | None],
    message: str,
    author: str,
) -> str:
    """A commit on top of `parent` that writes (text) or deletes (None) the given paths."""
    base_tree = git.read_commit(repo.store, parent)["tree"] if parent else None
    entries = [
        {"path": p, "mode": "100644", "type": "blob", "content": t} if t is not None
        else {"path": p, "mode": "100644", "type": "blob", "sha": None}
        for p, t in files.items()
    ]
    tree = git.apply_entries(repo.store, base_tree, entries)
    who = git.Signature(author, render.email_for(store, author), now_iso())
    sha = git.make_commit(
        repo.store,
        tree=tree,
        parents=[parent] if parent else [],
        message=message,
        author=who,
        committer=who,
    )
    record_commit(repo, sha)
    return sha


def record_commit(repo: Repo, sha: str) -> None:
    if any(c["sha"] == sha for c in repo.commits):
        return
    c = git.read_commit(repo.store, sha)
    repo.commits.append(
        {
            "sha": sha,
            "message": c["message"],
            "parents": c["parents"],
            "author": c["author"]["name"],
        }
    )


def resolve(store: Store, repo: Repo, ref: str) -> str | None:
    """A commit SHA for a SHA, branch, tag or `refs/pull/N/head`."""
    ref = ref.removeprefix("refs/")
    if len(ref) == 40 and git.has(repo.store, ref):
        return ref
    if ref.startswith("pull/") and ref.endswith("/head"):
        from tests.emulator.render_more import pull_head_sha

        pull = repo.pulls.get(int(ref.split("/")[1]))
        return pull_head_sha(store, pull) if pull else None
    for candidate in (ref, f"heads/{ref}", f"tags/{ref}"):
        if candidate in repo.refs:
            return repo.refs[candidate]
    return None


def check_workflows(store: Store, repo: Repo, new_sha: str, old_sha: str | None) -> None:
    """Refuse commits that touch workflows unless the App has `workflows: write`."""
    if store.app.permissions.get("workflows") == "write":
        return
    known = [old_sha] if old_sha else list(repo.refs.values())
    for sha in git.new_commits(repo.store, new_sha, known):
        changed = git.changed_paths(repo.store, sha)
        touched = sorted(p for p in changed if p.startswith(WORKFLOWS_DIR))
        if touched:
            raise ApiError(
                422,
                "refusing to allow a GitHub App to create or update workflow "
                f"`{touched[0]}` without `workflows` permission",
            )


def set_ref(store: Store, repo: Repo, ref: str, sha: str, *, force: bool, by_app: bool) -> None:
    """Create or move `ref` ("heads/x"); fast-forward only unless `force`."""
    c = git.get(repo.store, sha) if git.has(repo.store, sha) else None
    if c is None or c.type_name != b"commit":
        raise ApiError(422, "Object does not exist")
    old = repo.refs.get(ref)
    if old is not None and not force and old not in git.ancestors(repo.store, sha):
        raise ApiError(422, "Update is not a fast forward")
    if by_app:
        check_workflows(store, repo, sha, old)
    for commit_sha in reversed(git.new_commits(repo.store, sha, [old] if old else [])):
        record_commit(repo, commit_sha)
    repo.refs[ref] = sha
    repo.pushed_at = now_iso()

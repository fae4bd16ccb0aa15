"""Merging a pull request the three ways GitHub offers, on real git objects.

A file-level three-way merge: a path changed on one side only takes that side; changed
the same way on both, either; changed differently on both, a conflict (GitHub then refuses
the merge with 405 "Pull Request is not mergeable").
"""

from __future__ import annotations

from dataclasses import dataclass

from dulwich.object_store import MemoryObjectStore

from tests.emulator import git


class MergeConflict(Exception):
    pass


@dataclass(frozen=True)
class Merged:
    sha: str  # the new head of the base branch
    commits: list[str]  # the commits the merge put on the base branch, oldest first


def merge_trees(store: MemoryObjectStore, base: str, ours: str, theirs: str) -> str:
    """The tree of merging commit `theirs` into commit `ours`, `base` their merge base."""
    def files(sha: str) -> git.Flat:
        return git.flatten(store, git.read_commit(store, sha)["tree"])

    b, o, t = files(base), files(ours), files(theirs)
    out: dict[str, tuple[int, str]] = {}
    for path in sorted(set(b) | set(o) | set(t)):
        mine, yours, old = o.get(path), t.get(path), b.get(path)
        if yours == old:
            chosen = mine
        elif mine == old or mine == yours:
            chosen = yours
        else:
            raise MergeConflict(path)
        if chosen is not None:
            out[path] = chosen
    return git.build_tree(store, out)


def _replay(store: MemoryObjectStore, onto_tree: str, commit: str) -> str:
    """`onto_tree` with the changes `commit` made to its first parent."""
    c = git.read_commit(store, commit)
    before = git.flatten(store, git.read_commit(store, c["parents"][0])["tree"]) \
        if c["parents"] else {}
    after = git.flatten(store, c["tree"])
    current = dict(git.flatten(store, onto_tree))
    for path in set(before) | set(after):
        if before.get(path) == after.get(path):
            continue
        if path in after:
            current[path] = after[path]
        else:
            current.pop(path, None)
    return git.build_tree(store, current)


def merge_pull(store: MemoryObjectStore, method: str, base_head: str, pr_head: str, *,
               message: str, merger: git.Signature, author: git.Signature) -> Merged:
    """Put `pr_head` onto `base_head` by `method` (merge | squash | rebase)."""
    mb = git.merge_base(store, base_head, pr_head) or base_head
    if method == "rebase":
        tip, made = base_head, []
        tree = git.read_commit(store, base_head)["tree"]
        merge_trees(store, mb, base_head, pr_head)  # refuse conflicts up front, as GitHub does
        for sha in reversed(git.new_commits(store, pr_head, [base_head])):
            original = git.read_commit(store, sha)
            tree = _replay(store, tree, sha)
            a = original["author"]
            tip = git.make_commit(store, tree=tree, parents=[tip], message=original["message"],
                                  author=git.Signature(a["name"], a["email"], a["date"]),
                                  committer=merger)
            made.append(tip)
        return Merged(tip, made)
    tree = merge_trees(store, mb, base_head, pr_head)
    if method == "squash":
        sha = git.make_commit(store, tree=tree, parents=[base_head], message=message,
                              author=author, committer=merger)
        return Merged(sha, [sha])
    if method != "merge":
        raise ValueError(f"merge method {method!r} is not one of merge, squash, rebase")
    sha = git.make_commit(store, tree=tree, parents=[base_head, pr_head], message=message,
                          author=merger, committer=merger)
    return Merged(sha, [*reversed(git.new_commits(store, pr_head, [base_head])), sha])

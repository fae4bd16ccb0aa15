"""Git Data API: real objects (same SHAs as the git CLI), refs, contents, compare."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest
from githubkit import GitHub
from githubkit.exception import RequestFailed

from tests.emulator.fixture import Emulator

DATE = "2024-05-01T12:00:00Z"
WHO = {"name": "Ada Lovelace", "email": "ada@example.com", "date": DATE}


def _git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": WHO["name"], "GIT_AUTHOR_EMAIL": WHO["email"],
           "GIT_COMMITTER_NAME": WHO["name"], "GIT_COMMITTER_EMAIL": WHO["email"],
           "GIT_AUTHOR_DATE": "2024-05-01T12:00:00+0000",
           "GIT_COMMITTER_DATE": "2024-05-01T12:00:00+0000", "GIT_CONFIG_NOSYSTEM": "1",
           "HOME": str(cwd)}
    out = subprocess.run(["git", *args], cwd=cwd, env=env, input=stdin, text=True,
                         capture_output=True, check=True)
    return out.stdout.strip()


def test_blob_tree_commit_shas_match_git_cli(gh: GitHub, tmp_path: Path) -> None:
    files = {"README.md": "# hello\n", "src/main.py": "print('hi')\n",
             "src/pkg/__init__.py": ""}
    blob = gh.rest.git.create_blob("octo", "demo", data={"content": "# hello\n"}).parsed_data
    b64 = gh.rest.git.create_blob(
        "octo", "demo", data={"content": base64.b64encode(b"\x00\x01bin").decode(),
                              "encoding": "base64"}).parsed_data
    tree = gh.rest.git.create_tree("octo", "demo", data={"tree": [
        {"path": p, "mode": "100644", "type": "blob", "content": t} for p, t in files.items()
    ]}).parsed_data
    commit = gh.rest.git.create_commit("octo", "demo", data={
        "message": "Add files\n", "tree": tree.sha, "parents": [], "author": WHO,
        "committer": WHO}).parsed_data

    _git(tmp_path, "init", "-q")
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    (tmp_path / "bin").write_bytes(b"\x00\x01bin")
    _git(tmp_path, "add", *files)
    assert blob.sha == _git(tmp_path, "hash-object", "README.md")
    assert b64.sha == _git(tmp_path, "hash-object", "bin")
    assert tree.sha == _git(tmp_path, "write-tree")
    assert commit.sha == _git(tmp_path, "commit-tree", tree.sha, stdin="Add files\n")
    assert commit.author.date.replace(tzinfo=None).isoformat() == "2024-05-01T12:00:00"


def test_tree_with_base_tree_deletion_and_recursive_listing(gh: GitHub, repo: dict) -> None:
    head = gh.rest.git.get_ref("octo", "demo", "heads/main").parsed_data.object_.sha
    base_tree = gh.rest.git.get_commit("octo", "demo", head).parsed_data.tree.sha
    tree = gh.rest.git.create_tree("octo", "demo", data={"base_tree": base_tree, "tree": [
        {"path": "docs/a.md", "mode": "100644", "type": "blob", "sha": None},
        {"path": "src/new.py", "mode": "100644", "type": "blob", "content": "x = 1\n"},
    ]}).parsed_data
    listing = gh.rest.git.get_tree("octo", "demo", tree.sha, recursive="1").parsed_data
    paths = {i.path: i.type for i in listing.tree}
    assert paths == {"README.md": "blob", "src": "tree", "src/app.py": "blob",
                     "src/new.py": "blob"}
    top = gh.rest.git.get_tree("octo", "demo", tree.sha).parsed_data
    assert [i.path for i in top.tree] == ["README.md", "src"]


def _commit_on(gh: GitHub, parent: str, files: dict[str, str], msg: str = "change") -> str:
    base = gh.rest.git.get_commit("octo", "demo", parent).parsed_data.tree.sha
    tree = gh.rest.git.create_tree("octo", "demo", data={"base_tree": base, "tree": [
        {"path": p, "mode": "100644", "type": "blob", "content": t} for p, t in files.items()
    ]}).parsed_data.sha
    return gh.rest.git.create_commit(
        "octo", "demo", data={"message": msg, "tree": tree, "parents": [parent]}
    ).parsed_data.sha


def test_update_ref_is_fast_forward_only_unless_forced(
    gh: GitHub, emulator: Emulator, repo: dict
) -> None:
    main = repo["head_sha"]
    gh.rest.git.create_ref("octo", "demo", data={"ref": "refs/heads/work", "sha": main})
    first = _commit_on(gh, main, {"a.txt": "1\n"})
    ref = gh.rest.git.update_ref("octo", "demo", "heads/work", data={"sha": first, "force": False})
    assert ref.parsed_data.object_.sha == first
    sibling = _commit_on(gh, main, {"a.txt": "2\n"})  # not a descendant of `first`
    with pytest.raises(RequestFailed) as err:
        gh.rest.git.update_ref("octo", "demo", "heads/work", data={"sha": sibling, "force": False})
    assert err.value.response.status_code == 422
    assert "not a fast forward" in err.value.response.text
    gh.rest.git.update_ref("octo", "demo", "heads/work", data={"sha": sibling, "force": True})
    state = emulator.state("octo", "demo")
    assert state["branches"]["work"] == sibling
    assert state["files"]["work"]["a.txt"] == "2\n"
    assert state["commits"][-1]["author"] == emulator.bot_login  # API commits: the bot


def test_workflow_changes_need_workflows_permission(
    gh: GitHub, emulator: Emulator, repo: dict
) -> None:
    perms = dict(emulator.store.app.permissions)
    perms.pop("workflows")
    emulator.configure(app_permissions=perms)
    gh.rest.git.create_ref("octo", "demo", data={"ref": "refs/heads/ci", "sha": repo["head_sha"]})
    sha = _commit_on(gh, repo["head_sha"], {".github/workflows/ci.yml": "on: push\n"})
    with pytest.raises(RequestFailed) as err:
        gh.rest.git.update_ref("octo", "demo", "heads/ci", data={"sha": sha})
    assert "without `workflows` permission" in err.value.response.json()["message"]
    assert ".github/workflows/ci.yml" in err.value.response.json()["message"]
    assert emulator.state("octo", "demo")["branches"]["ci"] == repo["head_sha"]
    emulator.configure(app_permissions={**perms, "workflows": "write"})
    gh.rest.git.update_ref("octo", "demo", "heads/ci", data={"sha": sha})
    assert emulator.state("octo", "demo")["branches"]["ci"] == sha


def test_contents_and_compare(gh: GitHub, emulator: Emulator, repo: dict) -> None:
    pr = emulator.open_pull("octo", "demo", "feat", {"src/app.py": "print('bye')\n",
                                                     "docs/a.md": None}, user="alice")
    content = gh.rest.repos.get_content("octo", "demo", "src/app.py", ref="feat").parsed_data
    assert base64.b64decode(content.content) == b"print('bye')\n"
    listing = gh.rest.repos.get_content("octo", "demo", "src").parsed_data
    assert [(i.name, i.type) for i in listing] == [("app.py", "file")]
    with pytest.raises(RequestFailed) as err:
        gh.rest.repos.get_content("octo", "demo", "docs/a.md", ref="feat")
    assert err.value.response.status_code == 404
    cmp = gh.rest.repos.compare_commits("octo", "demo", "main...feat").parsed_data
    assert (cmp.status, cmp.ahead_by, cmp.behind_by) == ("ahead", 1, 0)
    assert cmp.commits[0].sha == pr["head_sha"]
    assert {f.filename: f.status for f in cmp.files or []} == {
        "docs/a.md": "removed", "src/app.py": "modified"}
    commit = gh.rest.repos.get_commit("octo", "demo", pr["head_sha"]).parsed_data
    assert commit.commit.author.name == "alice" and commit.stats.total == 3

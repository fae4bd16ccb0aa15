"""Repository tarballs (302 to codeload, GitHub's archive layout) and PRs the App opens."""

from __future__ import annotations

import io
import tarfile

import pytest
from githubkit import GitHub
from githubkit.exception import RequestFailed

from tests.emulator.fixture import Emulator


def test_tarball_redirects_to_codeload_with_githubs_layout(
    gh: GitHub, emulator: Emulator, repo: dict
) -> None:
    pr = emulator.open_pull("octo", "demo", "feature", {"src/app.py": "print(2)\n",
                                                        "docs/a.md": None})
    emulator.clear_requests()
    resp = gh.rest.repos.download_tarball_archive("octo", "demo", pr["head_sha"])
    assert resp.status_code == 200
    assert resp.raw_response.history[-1].status_code == 302
    with tarfile.open(fileobj=io.BytesIO(resp.content), mode="r:gz") as tar:
        assert tar.pax_headers["comment"] == pr["head_sha"]
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    top = f"octo-demo-{pr['head_sha'][:7]}"
    assert members == {f"{top}/README.md": b"# demo\n", f"{top}/src/app.py": b"print(2)\n"}
    # codeload is another host on GitHub: only the API call is an API request
    assert [(r["method"], r["path"], r["status"]) for r in emulator.requests()
            if r["path"].startswith("/repos")] == [
        ("GET", f"/repos/octo/demo/tarball/{pr['head_sha']}", 302)]


def test_tarball_of_a_branch_and_of_an_unknown_ref(gh: GitHub, repo: dict) -> None:
    resp = gh.rest.repos.download_tarball_archive("octo", "demo", "main")
    with tarfile.open(fileobj=io.BytesIO(resp.content), mode="r:gz") as tar:
        assert tar.pax_headers["comment"] == repo["head_sha"]
    with pytest.raises(RequestFailed) as err:
        gh.rest.repos.download_tarball_archive("octo", "demo", "nope")
    assert err.value.response.status_code == 404


def test_the_app_opens_a_pull_request(gh: GitHub, emulator: Emulator, repo: dict,
                                      receiver) -> None:  # noqa: ANN001
    sha = repo["head_sha"]
    gh.rest.git.create_ref("octo", "demo", data={"ref": "refs/heads/bot/x", "sha": sha})
    created = gh.rest.pulls.create("octo", "demo", data={
        "title": "Add CI", "head": "bot/x", "base": "main", "body": "generated"}).parsed_data
    assert (created.head.ref, created.base.ref, created.user.login) == (
        "bot/x", "main", emulator.bot_login)
    listed = gh.rest.pulls.list("octo", "demo", head="octo:bot/x", state="open").parsed_data
    assert [p.number for p in listed] == [created.number]
    with pytest.raises(RequestFailed) as err:  # one open PR per head and base
        gh.rest.pulls.create("octo", "demo", data={"title": "again", "head": "bot/x",
                                                   "base": "main"})
    assert err.value.response.status_code == 422
    with pytest.raises(RequestFailed) as err:  # validated against GitHub's OpenAPI
        gh.rest.pulls.create("octo", "demo", data={"head": "bot/x", "base": "main",
                                                   "draft": "yes"})
    assert err.value.response.status_code == 422
    opened = [r for r in receiver.received if r["event"] == "pull_request"]
    assert [(r["payload"]["action"], r["payload"]["sender"]["login"]) for r in opened] == [
        ("opened", emulator.bot_login)]

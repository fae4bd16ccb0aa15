"""REST endpoints called through githubkit, the way the App calls them: the response
bodies must parse with githubkit's own models (parsed_data raises otherwise)."""

from __future__ import annotations

import httpx
import pytest
from githubkit import GitHub
from githubkit.exception import RequestFailed

from tests.emulator.api import ApiError
from tests.emulator.fixture import Emulator
from tests.emulator.routes_checks import check_limits


def test_pulls_get_list_and_paginated_files(gh: GitHub, emulator: Emulator, repo: dict) -> None:
    files = {f"gen/f{i:02}.txt": f"{i}\n" for i in range(35)}
    files.update({"README.md": "# demo\nmore\n", "docs/a.md": None})
    pr = emulator.open_pull("octo", "demo", "feature/x", files, user="alice", body="hi")
    p = gh.rest.pulls.get("octo", "demo", pr["number"]).parsed_data
    assert (p.head.sha, p.head.ref, p.base.ref, p.user.login) == (
        pr["head_sha"], "feature/x", "main", "alice")
    assert p.changed_files == 37 and p.commits == 1
    listed = gh.rest.pulls.list("octo", "demo", head="octo:feature/x", state="open").parsed_data
    assert [x.number for x in listed] == [pr["number"]]
    assert gh.rest.pulls.list("octo", "demo", head="octo:nope").parsed_data == []

    page1 = gh.rest.pulls.list_files("octo", "demo", pr["number"], per_page=30)
    assert 'rel="next"' in page1.headers["link"]
    every = list(gh.rest.paginate(gh.rest.pulls.list_files, owner="octo", repo="demo",
                                  pull_number=pr["number"], per_page=30))
    assert len(page1.parsed_data) == 30 and len(every) == 37
    by_name = {f.filename: f for f in every}
    assert by_name["docs/a.md"].status == "removed"
    assert by_name["README.md"].status == "modified"
    assert (by_name["README.md"].additions, by_name["README.md"].deletions) == (1, 0)
    assert by_name["README.md"].patch == "@@ -1 +1,2 @@\n # demo\n+more"


def test_fork_pull_lives_in_another_repo(gh: GitHub, emulator: Emulator, repo: dict) -> None:
    pr = emulator.open_pull("octo", "demo", "patch-1", {"README.md": "fork\n"}, user="mallory",
                            fork="mallory")
    p = gh.rest.pulls.get("octo", "demo", pr["number"]).parsed_data
    assert p.head.repo.full_name == "mallory/demo" and p.base.repo.full_name == "octo/demo"
    assert p.head.repo.fork is True
    with pytest.raises(RequestFailed) as err:  # the App is not installed on the fork
        gh.rest.git.get_ref("mallory", "demo", "heads/patch-1")
    assert err.value.response.status_code == 404
    # ...but the head commit is readable through the base repository, as on GitHub
    assert gh.rest.git.get_commit("octo", "demo", pr["head_sha"]).parsed_data.sha == pr["head_sha"]


def test_comments_reactions_permissions_teams(
    app_gh: GitHub, gh: GitHub, emulator: Emulator, repo: dict
) -> None:
    pr = emulator.open_pull("octo", "demo", "f", {"a": "b\n"}, user="alice")
    human = emulator.comment("octo", "demo", pr["number"], "/shipcrew deploy", "bob", "write")
    c = gh.rest.issues.create_comment("octo", "demo", pr["number"], data={"body": "v1"})
    assert c.status_code == 201 and c.parsed_data.user.login == emulator.bot_login
    upd = gh.rest.issues.update_comment("octo", "demo", c.parsed_data.id, data={"body": "v2"})
    assert upd.parsed_data.body == "v2"
    with pytest.raises(RequestFailed):  # the App may only edit its own comments
        gh.rest.issues.update_comment("octo", "demo", human["id"], data={"body": "x"})
    listed = gh.rest.issues.list_comments("octo", "demo", pr["number"]).parsed_data
    assert [x.body for x in listed] == ["/shipcrew deploy", "v2"]
    r = gh.rest.reactions.create_for_issue_comment("octo", "demo", human["id"],
                                                   data={"content": "eyes"})
    assert r.status_code == 201 and r.parsed_data.content == "eyes"
    again = gh.rest.reactions.create_for_issue_comment("octo", "demo", human["id"],
                                                       data={"content": "eyes"})
    assert again.status_code == 200

    def perm(user: str) -> str:
        return gh.rest.repos.get_collaborator_permission_level("octo", "demo", user).parsed_data \
            .permission

    assert (perm("bob"), perm("octo"), perm("alice")) == ("write", "admin", "read")

    emulator.control("POST", "/orgs/acme/teams/sre/members", {"user": "carol"})
    org_repo = emulator.create_repo("acme", "svc", {"a": "b"})
    org_gh = app_gh.with_auth(app_gh.auth.as_installation(org_repo["installation_id"]))
    m = org_gh.rest.teams.get_membership_for_user_in_org("acme", "sre", "carol").parsed_data
    assert m.state == "active"
    with pytest.raises(RequestFailed) as err:
        org_gh.rest.teams.get_membership_for_user_in_org("acme", "sre", "bob")
    assert err.value.response.status_code == 404
    state = emulator.state("octo", "demo")
    assert {(x["content"], x["user"]) for x in state["reactions"]} == {
        ("eyes", emulator.bot_login)}


def test_check_runs_accumulate_annotations_and_list_by_ref(
    gh: GitHub, emulator: Emulator, repo: dict
) -> None:
    sha = repo["head_sha"]
    ann = [{"path": "src/app.py", "start_line": 1, "end_line": 1, "annotation_level": "warning",
            "message": f"m{i}"} for i in range(50)]
    run = gh.rest.checks.create("octo", "demo", data={
        "name": "shipcrew/audit", "head_sha": sha, "status": "in_progress",
        "output": {"title": "t", "summary": "s", "annotations": ann}}).parsed_data
    done = gh.rest.checks.update("octo", "demo", run.id, data={
        "conclusion": "failure", "output": {"title": "t2", "summary": "s2", "annotations": ann[:5]},
        "actions": [{"label": "Fix it", "description": "Commit the fix", "identifier": "fix"}],
    }).parsed_data
    assert done.status == "completed" and done.conclusion == "failure"
    assert done.output.annotations_count == 55
    assert gh.rest.checks.get("octo", "demo", run.id).parsed_data.output.title == "t2"
    emulator.control("POST", "/repos/octo/demo/check-runs", {
        "name": "ci/test", "head_sha": sha, "status": "completed", "conclusion": "success",
        "app_slug": "other-ci"})
    listed = gh.rest.checks.list_for_ref("octo", "demo", "main").parsed_data
    assert {r.name for r in listed.check_runs} == {"shipcrew/audit", "ci/test"}
    only = gh.rest.checks.list_for_ref("octo", "demo", sha, check_name="ci/test").parsed_data
    assert [r.app.slug for r in only.check_runs] == ["other-ci"]
    state = emulator.state("octo", "demo")["check_runs"][0]
    assert len(state["annotations"]) == 55 and state["actions"][0]["identifier"] == "fix"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"output": {"title": "t", "summary": "s", "annotations": [
            {"path": "a", "start_line": 1, "end_line": 1, "annotation_level": "notice",
             "message": "m"}] * 51}}, "annotations"),
        ({"output": {"title": "t", "summary": "x" * 65536}}, "summary"),
        ({"actions": [{"label": "l", "description": "d", "identifier": str(i)}
                      for i in range(4)]}, "actions"),
        ({"actions": [{"label": "l" * 21, "description": "d", "identifier": "i"}]}, "label"),
        ({"actions": [{"label": "l", "description": "d" * 41, "identifier": "i"}]},
         "description"),
        ({"actions": [{"label": "l", "description": "d", "identifier": "i" * 21}]},
         "identifier"),
    ],
)
def test_check_run_limits(raw: httpx.Client, repo: dict, change: dict, needle: str) -> None:
    # raw HTTP: githubkit would refuse some of these bodies before sending them
    body = {"name": "x", "head_sha": repo["head_sha"], **change}
    resp = raw.post("/repos/octo/demo/check-runs", json=body)
    assert resp.status_code == 422, resp.text
    assert needle in resp.json()["message"]
    # the emulator's own limits, independent of the OpenAPI request validation
    with pytest.raises(ApiError) as err:
        check_limits(body)
    assert needle in err.value.message

"""Merges, direct pushes, environments with required reviewers, native reviews, provisioning."""

from __future__ import annotations

import httpx
import pytest
from githubkit import GitHub
from githubkit.exception import RequestFailed

from tests.emulator.conftest import Receiver
from tests.emulator.fixture import Emulator

ORG, REPO = "acme", "web"
R = f"/repos/{ORG}/{REPO}"


@pytest.fixture
def org_repo(emulator: Emulator) -> dict:
    # deployment_review payloads require `organization`: environments with reviewers are an
    # organization feature in practice, so these tests use an organization's repository
    return emulator.create_repo(ORG, REPO, {"README.md": "# web\n", "app.py": "print(1)\n"},
                                org=True)


@pytest.fixture
def org_gh(app_gh: GitHub, org_repo: dict) -> GitHub:
    return app_gh.with_auth(app_gh.auth.as_installation(org_repo["installation_id"]))


def _files(emulator: Emulator, ref: str) -> dict[str, str]:
    return emulator.state(ORG, REPO)["files"][ref]


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_merge_delivers_closed_and_push(emulator: Emulator, receiver: Receiver,
                                        org_repo: dict, org_gh: GitHub, method: str) -> None:
    pr = emulator.open_pull(ORG, REPO, "feature", {"app.py": "print(2)\n"}, user="alice")
    emulator.push(ORG, REPO, pr["number"], {"docs/a.md": "a\n"}, user="alice")
    # the base moves on meanwhile: the merge must keep both sides
    main = emulator.control("POST", f"{R}/push", {"branch": "main", "files": {"NEWS": "x\n"},
                                                   "user": "maya"})
    out = emulator.control("POST", f"{R}/pulls/{pr['number']}/merge",
                           {"method": method, "user": "maya"})
    state = emulator.state(ORG, REPO)
    assert state["branches"]["main"] == out["sha"]
    assert _files(emulator, "main") == {"README.md": "# web\n", "app.py": "print(2)\n",
                                        "docs/a.md": "a\n", "NEWS": "x\n"}
    head = next(c for c in state["commits"] if c["sha"] == out["sha"])
    assert len(head["parents"]) == (2 if method == "merge" else 1)
    assert receiver.events()[-3:] == [("push", None), ("pull_request", "closed"),
                                      ("push", None)]
    closed, push = receiver.received[-2]["payload"], receiver.received[-1]["payload"]
    assert closed["pull_request"]["merged"] is True
    assert closed["pull_request"]["merge_commit_sha"] == out["sha"]
    assert push["ref"] == "refs/heads/main" and push["before"] == main["sha"]
    assert push["after"] == out["sha"] and push["head_commit"]["id"] == out["sha"]
    assert emulator.rt.hooks.schema_errors == []
    # the merged PR is found from the commit it put on main, with the files it had
    found = org_gh.rest.repos.list_pull_requests_associated_with_commit(
        ORG, REPO, out["sha"]).parsed_data
    assert [p.number for p in found] == [pr["number"]]
    files = org_gh.rest.pulls.list_files(ORG, REPO, pr["number"]).parsed_data
    assert sorted(f.filename for f in files) == ["app.py", "docs/a.md"]


def test_conflicting_merge_is_refused(emulator: Emulator, org_repo: dict) -> None:
    pr = emulator.open_pull(ORG, REPO, "feature", {"app.py": "print(2)\n"})
    emulator.control("POST", f"{R}/push", {"branch": "main", "files": {"app.py": "print(3)\n"}})
    resp = emulator.http.post(f"/_emulator{R}/pulls/{pr['number']}/merge", json={})
    assert resp.status_code == 405 and "app.py" in resp.json()["message"]


def test_commit_pulls_of_an_open_pull(emulator: Emulator, org_repo: dict,
                                      org_gh: GitHub) -> None:
    pr = emulator.open_pull(ORG, REPO, "feature", {"app.py": "print(2)\n"})
    found = org_gh.rest.repos.list_pull_requests_associated_with_commit(
        ORG, REPO, pr["head_sha"]).parsed_data
    assert [p.number for p in found] == [pr["number"]]
    assert org_gh.rest.repos.list_pull_requests_associated_with_commit(
        ORG, REPO, org_repo["head_sha"]).parsed_data == []


def test_native_review_gates_the_run_with_the_protection_rule(
        emulator: Emulator, receiver: Receiver, org_repo: dict, org_gh: GitHub) -> None:
    emulator.control("POST", "/orgs/acme/teams/sre/members", {"user": "sam"})
    emulator.control("POST", f"{R}/environments", {
        "name": "production", "reviewers": [{"type": "User", "login": "maya"},
                                            {"type": "Team", "slug": "sre"}],
        "prevent_self_review": True})
    job = emulator.deploy(ORG, REPO, "production", ref="main", user="maya")
    assert ("deployment_review", "requested") in receiver.events()
    assert ("deployment_protection_rule", "requested") in receiver.events()
    url = f"/_emulator{R}/actions/runs/{job['run_id']}/review"
    for who in ("mallory", "maya"):  # not a reviewer; the one who triggered the run
        resp = emulator.http.post(url, json={"environment": "production", "state": "approved",
                                             "user": who})
        assert resp.status_code == 409, resp.text
    emulator.control("POST", url[len("/_emulator"):], {
        "environment": "production", "state": "approved", "user": "sam", "comment": "lgtm"})
    approved = receiver.received[-1]["payload"]
    assert receiver.events()[-1] == ("deployment_review", "approved")
    assert approved["approver"]["login"] == "sam" and approved["comment"] == "lgtm"
    assert approved["workflow_run"]["id"] == job["run_id"]
    run = org_gh.rest.actions.get_workflow_run(ORG, REPO, job["run_id"]).parsed_data
    assert run.status == "waiting"  # the custom protection rule has not answered yet
    org_gh.rest.actions.review_custom_gates_for_run(ORG, REPO, job["run_id"], data={
        "environment_name": "production", "state": "approved", "comment": "ok"})
    run = org_gh.rest.actions.get_workflow_run(ORG, REPO, job["run_id"]).parsed_data
    assert run.status == "in_progress"
    approvals = org_gh.rest.actions.get_reviews_for_run(ORG, REPO, job["run_id"]).parsed_data
    assert [(a.user.login, a.state, a.comment) for a in approvals] == [
        ("sam", "approved", "lgtm")]
    state = emulator.state(ORG, REPO)
    assert state["deployment_reviews"][0]["user"] == "sam"
    env = next(e for e in state["environments"] if e["name"] == "production")
    assert env["prevent_self_review"] is True and "required_reviewers" in env["protection_rules"]
    assert emulator.rt.hooks.schema_errors == []


def test_native_rejection_fails_the_run(emulator: Emulator, receiver: Receiver,
                                        org_repo: dict, org_gh: GitHub) -> None:
    emulator.control("POST", f"{R}/environments", {
        "name": "production", "reviewers": [{"type": "User", "login": "maya"}],
        "protection_rule": False})
    job = emulator.deploy(ORG, REPO, "production", ref="main", user="alice")
    assert ("deployment_protection_rule", "requested") not in receiver.events()
    emulator.control("POST", f"{R}/actions/runs/{job['run_id']}/review",
                     {"environment": "production", "state": "rejected", "user": "maya"})
    assert receiver.events()[-1] == ("deployment_review", "rejected")
    run = org_gh.rest.actions.get_workflow_run(ORG, REPO, job["run_id"]).parsed_data
    assert (run.status, run.conclusion) == ("completed", "failure")
    assert emulator.state(ORG, REPO)["deployments"][0]["statuses"][-1]["state"] == "failure"


def test_provisioning_needs_an_admin(emulator: Emulator, org_repo: dict,
                                     org_gh: GitHub) -> None:
    with pytest.raises(RequestFailed) as err:  # the App has no `administration` permission
        org_gh.rest.repos.create_or_update_environment(ORG, REPO, "staging", data={})
    assert err.value.response.status_code == 403
    token = emulator.control("POST", f"/users/{ORG}/tokens")["token"]
    maya = emulator.control("POST", "/users/maya/tokens")["token"]
    emulator.control("POST", f"{R}/collaborators", {"user": "maya", "permission": "write"})
    with httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {maya}"}) as h:
        assert h.put(f"{R}/environments/staging", json={}).status_code == 403
    with GitHub(token, base_url=emulator.url, auto_retry=False) as admin:
        uid = admin.rest.users.get_by_username("maya").parsed_data.id
        env = admin.rest.repos.create_or_update_environment(ORG, REPO, "production", data={
            "wait_timer": 5, "prevent_self_review": True,
            "reviewers": [{"type": "User", "id": uid}],
            "deployment_branch_policy": {"protected_branches": False,
                                         "custom_branch_policies": True}}).parsed_data
        assert {r.type for r in env.protection_rules or []} >= {"wait_timer",
                                                                "required_reviewers"}
        admin.rest.repos.create_deployment_branch_policy(ORG, REPO, "production",
                                                         data={"name": "main"})
        # githubkit orders these two as (environment_name, repo, owner): name them
        admin.rest.repos.create_deployment_protection_rule(
            owner=ORG, repo=REPO, environment_name="production",
            data={"integration_id": emulator.store.app.id})
        rules = admin.rest.repos.get_all_deployment_protection_rules(
            owner=ORG, repo=REPO, environment_name="production").parsed_data
        assert [r.app.slug for r in rules.custom_deployment_protection_rules or []] == [
            emulator.store.app.slug]
    env_state = next(e for e in emulator.state(ORG, REPO)["environments"]
                     if e["name"] == "production")
    assert env_state["reviewers"] == [{"type": "User", "login": "maya"}]
    assert env_state["branch_policies"] == ["main"] and env_state["wait_timer"] == 5

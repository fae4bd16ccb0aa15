"""Deployments, environments, workflow runs, protection-rule reviews and dispatches."""

from __future__ import annotations

import httpx
import pytest
from githubkit import GitHub
from githubkit.exception import RequestFailed

from tests.emulator.fixture import Emulator


def test_deployments_and_statuses(gh: GitHub, emulator: Emulator, repo: dict) -> None:
    d = gh.rest.repos.create_deployment("octo", "demo", data={
        "ref": "main", "environment": "staging", "required_contexts": [],
        "payload": {"k": "v"}}).parsed_data
    assert d.sha == repo["head_sha"] and d.creator.login == emulator.bot_login
    s = gh.rest.repos.create_deployment_status("octo", "demo", d.id, data={
        "state": "success", "environment_url": "https://staging.example.com"}).parsed_data
    assert s.state == "success"
    assert [x.id for x in gh.rest.repos.list_deployments(
        "octo", "demo", environment="staging").parsed_data] == [d.id]
    assert gh.rest.repos.list_deployment_statuses("octo", "demo", d.id).parsed_data[0].id == s.id
    env = gh.rest.repos.get_environment("octo", "demo", "staging").parsed_data
    assert env.name == "staging"
    envs = gh.rest.repos.get_all_environments("octo", "demo").parsed_data
    assert [e.name for e in envs.environments or []] == ["staging"]
    state = emulator.state("octo", "demo")["deployments"]
    assert state[0]["statuses"][0]["state"] == "success"


def test_protection_rule_review_and_status_reports(
    gh: GitHub, raw: httpx.Client, emulator: Emulator, repo: dict
) -> None:
    job = emulator.deploy("octo", "demo", "production", ref="main")
    run = gh.rest.actions.get_workflow_run("octo", "demo", job["run_id"]).parsed_data
    assert run.status == "waiting" and run.head_sha == repo["head_sha"]
    url = f"/repos/octo/demo/actions/runs/{job['run_id']}/deployment_protection_rule"
    for i in range(10):
        resp = gh.rest.actions.review_custom_gates_for_run(
            "octo", "demo", job["run_id"],
            data={"environment_name": "production", "comment": f"checking {i}"})
        assert resp.status_code == 204
    too_many = raw.post(url, json={"environment_name": "production", "comment": "11th"})
    assert too_many.status_code == 422
    too_long = raw.post(url, json={"environment_name": "production", "state": "approved",
                                   "comment": "x" * 1025})
    assert too_long.status_code == 422
    ok = raw.post(url, json={"environment_name": "production", "state": "approved",
                             "comment": "all gates passed"})
    assert ok.status_code == 204
    twice = raw.post(url, json={"environment_name": "production", "state": "rejected",
                                "comment": "late"})
    assert twice.status_code == 422
    reviews = emulator.state("octo", "demo")["protection_rule_reviews"]
    assert [r["state"] for r in reviews] == [None] * 10 + ["approved"]
    assert gh.rest.actions.get_workflow_run("octo", "demo", job["run_id"]).parsed_data.status \
        == "in_progress"


def test_workflow_dispatch_is_recorded(
    gh: GitHub, emulator: Emulator, repo: dict
) -> None:
    emulator.open_pull("octo", "demo", "wf", {".github/workflows/rollback.yml": "on: push\n"})
    resp = gh.rest.actions.create_workflow_dispatch(
        "octo", "demo", "rollback.yml", data={"ref": "wf", "inputs": {"to": "abc"}})
    assert resp.status_code == 204
    with pytest.raises(RequestFailed) as err:
        gh.rest.actions.create_workflow_dispatch("octo", "demo", "rollback.yml",
                                                 data={"ref": "nope"})
    assert err.value.response.status_code == 422
    assert emulator.state("octo", "demo")["dispatches"] == [
        {"workflow": "rollback.yml", "ref": "wf", "inputs": {"to": "abc"},
         "user": emulator.bot_login,
         "created_at": emulator.state("octo", "demo")["dispatches"][0]["created_at"]}]

"""Webhook deliveries: signed, shaped like GitHub's schemas, recorded, redeliverable."""

from __future__ import annotations

import uuid

from githubkit import GitHub

from tests.emulator.conftest import Receiver
from tests.emulator.fixture import Emulator
from tests.emulator.webhook_schema import validate_webhook


def _scenario(emulator: Emulator, gh_for: object) -> None:
    """One of every kind of delivery the emulator produces."""
    emulator.create_repo("acme", "svc", {"app.py": "x\n"}, org=True)
    emulator.create_repo("acme", "lib", {"lib.py": "y\n"})
    pr = emulator.open_pull("acme", "svc", "feat", {"app.py": "z\n"}, user="alice")
    emulator.push("acme", "svc", pr["number"], {"b.txt": "b\n"}, user="alice")
    emulator.comment("acme", "svc", pr["number"], "/shipcrew help", "bob", "write")
    gh = gh_for("acme", "svc")
    head = emulator.state("acme", "svc")["pulls"][0]["head_sha"]
    tree = gh.rest.git.get_commit("acme", "svc", head).parsed_data.tree.sha
    bot_commit = gh.rest.git.create_commit("acme", "svc", data={
        "message": "shipcrew: generate", "tree": tree, "parents": [head]}).parsed_data.sha
    gh.rest.git.update_ref("acme", "svc", "heads/feat", data={"sha": bot_commit})
    head = bot_commit
    run = gh.rest.checks.create("acme", "svc", data={
        "name": "audit", "head_sha": head, "status": "completed", "conclusion": "neutral",
        "output": {"title": "t", "summary": "s"},
        "actions": [{"label": "Approve", "description": "d", "identifier": "approve"}]},
    ).parsed_data
    emulator.control("POST", f"/repos/acme/svc/check-runs/{run.id}/action",
                     {"identifier": "approve", "user": "bob"})
    emulator.control("POST", "/repos/acme/svc/check-runs",
                     {"name": "ci", "head_sha": head, "status": "completed",
                      "conclusion": "success"})
    dep = emulator.deploy("acme", "svc", "production", sha=head, ref="feat")
    emulator.control("POST", f"/repos/acme/svc/deployments/{dep['deployment_id']}/statuses",
                     {"state": "success"})
    gh.rest.repos.create_deployment("acme", "svc", data={"ref": "main", "environment": "dev",
                                                         "required_contexts": []})
    emulator.control("POST", "/repos/acme/svc/pulls/1/close", {})


def test_every_delivery_is_signed_and_matches_the_webhook_schema(
    emulator: Emulator, receiver: Receiver, app_gh: GitHub
) -> None:
    def gh_for(owner: str, name: str) -> GitHub:
        inst = app_gh.rest.apps.get_repo_installation(owner, name).parsed_data
        return app_gh.with_auth(app_gh.auth.as_installation(inst.id))

    _scenario(emulator, gh_for)
    deliveries = emulator.deliveries()
    kinds = {(d["event"], d["action"]) for d in deliveries}
    assert kinds >= {
        ("installation", "created"), ("installation_repositories", "added"),
        ("pull_request", "opened"), ("pull_request", "synchronize"), ("pull_request", "closed"),
        ("issue_comment", "created"), ("check_run", "created"), ("check_run", "completed"),
        ("check_run", "requested_action"), ("deployment_protection_rule", "requested"),
        ("deployment_status", "created"), ("deployment", "created"),
    }
    assert len(receiver.received) == len(deliveries)
    assert all(r["valid"] for r in receiver.received)
    assert {d["status_code"] for d in deliveries} == {202}
    for r in receiver.received:
        h = r["headers"]
        assert h["User-Agent"].startswith("GitHub-Hookshot/")
        assert h["X-GitHub-Hook-Installation-Target-Type"] == "integration"
        assert h["X-GitHub-Hook-Installation-Target-ID"] == str(emulator.credentials["app_id"])
        assert h["X-Hub-Signature"].startswith("sha1=") and h["X-GitHub-Hook-ID"]
        uuid.UUID(h["X-GitHub-Delivery"])
        assert validate_webhook(r["event"], r["payload"]) is None, (r["event"], r["payload"])
    assert emulator.rt.hooks.schema_errors == []

    by_kind: dict[tuple[str, str | None], dict] = {}
    for r in receiver.received:  # the first of each kind
        by_kind.setdefault((r["event"], r["payload"].get("action")), r["payload"])
    opened = by_kind[("pull_request", "opened")]
    assert opened["organization"]["login"] == "acme" and opened["installation"]["id"]
    assert opened["sender"]["login"] == "alice"
    bot_check = by_kind[("check_run", "created")]
    assert bot_check["sender"]["login"] == emulator.bot_login  # the App must ignore these
    syncs = [r["payload"] for r in receiver.received
             if r["payload"].get("action") == "synchronize"]
    assert [s["sender"]["login"] for s in syncs] == ["alice", emulator.bot_login]
    head = emulator.state("acme", "svc")["pulls"][0]["head_sha"]
    assert syncs[1]["after"] == head and syncs[1]["before"] == syncs[0]["after"]
    rule = by_kind[("deployment_protection_rule", "requested")]
    assert rule["deployment_callback_url"].endswith("/deployment_protection_rule")
    assert [p["number"] for p in rule["pull_requests"]] == [1]
    assert rule["deployment"]["environment"] == "production"


def test_unreachable_app_is_recorded_and_redelivery_keeps_the_guid(
    emulator: Emulator, app_gh: GitHub
) -> None:
    emulator.set_webhook_url("http://127.0.0.1:9/unreachable")
    emulator.create_repo("octo", "demo", {"a": "b"})  # must not fail
    failed = emulator.deliveries()[-1]
    assert failed["status_code"] == 0 and failed["event"] == "installation"

    for i in range(3):
        emulator.control("POST", "/repos/octo/demo/pulls",
                         {"head": f"b{i}", "files": {f"f{i}": "x"}, "title": f"t{i}"})
    page1 = app_gh.rest.apps.list_webhook_deliveries(per_page=2)
    assert len(page1.parsed_data) == 2 and "cursor=" in page1.headers["link"]
    everything = list(app_gh.rest.paginate(app_gh.rest.apps.list_webhook_deliveries, per_page=2))
    assert len(everything) == 4 and everything[-1].id == failed["id"]
    resp = app_gh.rest.apps.redeliver_webhook_delivery(failed["id"])
    assert resp.status_code == 202
    again = emulator.deliveries()[-1]
    assert again["guid"] == failed["guid"] and again["redelivery"] is True
    assert again["id"] != failed["id"]
    detail = app_gh.rest.apps.get_webhook_delivery(failed["id"]).parsed_data
    assert detail.guid == failed["guid"]


def test_held_deliveries_wait_and_are_released_together(
    emulator: Emulator, receiver: Receiver
) -> None:
    emulator.create_repo("acme", "svc", {"app.py": "x\n"})
    before = len(receiver.received)
    emulator.control("POST", "/deliveries/hold")
    for i in range(5):
        emulator.open_pull("acme", "svc", f"feat-{i}", {"app.py": f"{i}\n"}, user="alice")
    assert len(receiver.received) == before  # recorded, not sent
    assert {d["status"] for d in emulator.deliveries()[-5:]} == {"pending"}
    assert emulator.control("POST", "/deliveries/release") == {"released": 5}
    opened = [r for r in receiver.received[before:] if r["payload"].get("action") == "opened"]
    assert sorted(r["payload"]["number"] for r in opened) == [1, 2, 3, 4, 5]
    assert {d["status_code"] for d in emulator.deliveries()[-5:]} == {202}
    assert emulator.control("POST", "/deliveries/release") == {"released": 0}

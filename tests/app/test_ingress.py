"""Signed deliveries through the real ASGI app into real Redis/RQ."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import redis
from rq import Queue
from starlette.testclient import TestClient

from app.main import create_app, redis_from_url
from app.queue import QUEUE_ORDER
from app.settings import Settings
from app.webhooks import MAX_BODY_BYTES, sign
from tests.conftest import FIXTURES, WEBHOOK_SECRET

WEBHOOK_FIXTURES = sorted((FIXTURES / "webhooks").glob("*/*.json"))
# (event, action) pairs that must plan work; every other real payload is accepted and ignored.
PLANNED = {("pull_request", a) for a in ("opened", "reopened", "synchronize", "ready_for_review")}
Expected = list[tuple[str, str, str, dict]]  # (job name, function, queue, kwargs)


def _base(payload: dict, delivery: str) -> dict:
    return {"installation_id": payload["installation"]["id"],
            "repo": payload["repository"]["full_name"], "delivery_id": delivery}


def _ref(ref: dict) -> dict:
    repo = ref.get("repo")
    return {"sha": ref["sha"], "ref": ref["ref"], "repo": repo and {
        "full_name": repo["full_name"], "default_branch": repo.get("default_branch")}}


def _hook(pr: dict) -> dict:
    """What the plan is handed of the webhook's PR (app.handoff), as JSON."""
    user = pr.get("user")
    return {"number": pr["number"], "head": _ref(pr["head"]), "base": _ref(pr["base"]),
            "state": pr["state"], "draft": pr.get("draft", False),
            "user": user and {"login": user["login"], "type": user.get("type")},
            "labels": [{"name": lb["name"]} for lb in pr.get("labels") or []],
            "created_at": pr.get("created_at"), "updated_at": pr.get("updated_at")}


def _plan(payload: dict, delivery: str) -> Expected:
    pr = payload["pull_request"]
    if pr["state"] != "open":
        return []
    kwargs = {**_base(payload, delivery), "number": pr["number"], "head_sha": pr["head"]["sha"],
              "hook_pull": _hook(pr)}
    if payload["action"] == "ready_for_review":
        return [("plan", "jobs.planner.plan_pull_request", "shipcrew-default", kwargs)]
    # A new head: one urgent job records who made it and when (issue 10: the sender and
    # GitHub's timestamp), opens its check runs and then enqueues the plan (issue 16).
    fork = pr["head"]["repo"] is None or pr["head"]["repo"]["full_name"] != \
        pr["base"]["repo"]["full_name"]
    pushed = {"by": payload["sender"]["login"], "at": pr.get("updated_at") or pr["created_at"]}
    return [("open-checks", "jobs.planner.open_checks", "shipcrew-urgent",
             {**kwargs, "fork": fork, "pushed": pushed})]


def _closed(payload: dict, delivery: str) -> Expected:
    pr = payload["pull_request"]
    return [("closed", "jobs.planner.pull_closed", "shipcrew-urgent",
             {**_base(payload, delivery), "number": pr["number"], "at": pr["updated_at"]})]


def _command(payload: dict, delivery: str) -> Expected:
    issue, comment = payload["issue"], payload["comment"]
    if not issue.get("pull_request") or payload["sender"]["type"] == "Bot":
        return []
    kwargs = {**_base(payload, delivery), "number": issue["number"], "comment_id": comment["id"],
              "body": comment["body"], "author": comment["user"]["login"],
              "created_at": comment.get("created_at")}
    return [("command", "jobs.command_runner.handle_comment", "shipcrew-urgent", kwargs)]


def _deployment(payload: dict, delivery: str) -> Expected:
    d, s = payload["deployment"], payload["deployment_status"]
    kwargs = {**_base(payload, delivery), "deployment_id": d["id"],
              "environment": s["environment"], "sha": d["sha"], "ref": d["ref"],
              "state": s["state"], "creator": s["creator"]["login"],
              "workflow_run_id": (payload.get("workflow_run") or {}).get("id")}
    return [("deployment", "jobs.release.on_deployment_status", "shipcrew-urgent", kwargs)]


def _reevaluate(payload: dict, delivery: str) -> Expected:
    run = payload.get("check_run") or payload["workflow_run"]
    kwargs = {**_base(payload, delivery), "sha": run["head_sha"]}
    return [("reevaluate", "jobs.release.reevaluate", "shipcrew-urgent", kwargs)]


def _check_action(payload: dict, delivery: str) -> Expected:
    run = payload["check_run"]
    if not run["name"].startswith("shipcrew / "):  # only our own check runs
        return []
    kwargs = {**_base(payload, delivery), "check_run_id": run["id"],
              "head_sha": run["head_sha"], "identifier": payload["requested_action"]["identifier"],
              "requester": payload["sender"]["login"]}
    return [("check-action", "jobs.auditor.on_check_run_action", "shipcrew-urgent", kwargs)]


def _rerun(payload: dict, delivery: str) -> Expected:
    run = payload.get("check_run")
    if run is not None and not run["name"].startswith("shipcrew / "):
        return []
    head_sha = (run or payload["check_suite"])["head_sha"]
    return [("rerun", "jobs.auditor.rerun", "shipcrew-default",
             {**_base(payload, delivery), "head_sha": head_sha})]


def _push(payload: dict, delivery: str) -> Expected:
    if not payload["ref"].startswith("refs/heads/") or payload["deleted"]:
        return []
    kwargs = {**_base(payload, delivery), "ref": payload["ref"], "before": payload["before"],
              "after": payload["after"], "pusher": payload["sender"]["login"]}
    return [("audit-push", "jobs.auditor.audit_push", "shipcrew-default", kwargs)]


EXPECTED = {
    **{key: _plan for key in PLANNED},
    ("pull_request", "closed"): _closed,
    ("push", None): _push,
    ("issue_comment", "created"): _command,
    ("deployment_status", "created"): _deployment,
    ("check_run", "completed"): _reevaluate,
    ("workflow_run", "completed"): _reevaluate,
    ("check_run", "requested_action"): _check_action,
    ("check_run", "rerequested"): _rerun,
    ("check_suite", "rerequested"): _rerun,
}


@pytest.fixture
def client(settings: Settings, redis_conn: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(settings, redis_conn), raise_server_exceptions=False) as c:
        yield c


def post(client: TestClient, event: str, body: bytes, delivery: str | None = None,
         secret: str = WEBHOOK_SECRET, **headers: str):
    h = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
         "X-Hub-Signature-256": sign(body, secret), "Content-Type": "application/json"}
    h.update(headers)
    return client.post("/webhooks", content=body, headers=h)


def queued_jobs(conn: redis.Redis) -> list[str]:
    return [jid for q in QUEUE_ORDER for jid in Queue(q.value, connection=conn).job_ids]


def test_fixtures_are_present() -> None:
    with_installation = [p for p in WEBHOOK_FIXTURES if '"installation"' in p.read_text()]
    assert any(p.parent.name == "pull_request" for p in with_installation)
    events = {p.parent.name for p in WEBHOOK_FIXTURES}
    assert {"pull_request", "issue_comment", "check_run", "deployment_status", "installation",
            "push", "ping", "workflow_run"} <= events
    assert len(WEBHOOK_FIXTURES) > 100


@pytest.mark.parametrize("path", WEBHOOK_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_real_payload_is_accepted(client: TestClient, redis_conn: redis.Redis,
                                        path: Path) -> None:
    body = path.read_bytes()
    payload = json.loads(body)
    event, action = path.parent.name, payload.get("action")
    delivery = str(uuid.uuid4())
    resp = post(client, event, body, delivery)
    assert resp.status_code == 202, resp.text
    jobs = queued_jobs(redis_conn)
    # Repository-hook examples carry no installation: an App cannot act on those.
    planner = EXPECTED.get((event, action))
    expected = planner(payload, delivery) if planner and "installation" in payload else []
    assert jobs == [f"{delivery}--{name}" for name, _, _, _ in expected]
    for job_id, (_, func, queue, kwargs) in zip(jobs, expected, strict=True):
        job = Queue(queue, connection=redis_conn).fetch_job(job_id)
        assert job is not None and job.func_name == func
        hook = job.kwargs.get("hook_pull")
        assert {**job.kwargs, **({"hook_pull": msgspec.json.decode(hook)} if hook else {})
                } == kwargs
    assert resp.json()["status"] == ("enqueued" if expected else "ignored")


def _opened() -> bytes:
    return (FIXTURES / "webhooks/pull_request/opened-2.json").read_bytes()


def test_redelivery_is_accepted_and_not_run_twice(client: TestClient,
                                                   redis_conn: redis.Redis) -> None:
    first = post(client, "pull_request", _opened(), "same-id")
    again = post(client, "pull_request", _opened(), "same-id")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["status"] == "duplicate"
    assert queued_jobs(redis_conn) == ["same-id--open-checks"]


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda h, b: (h.pop("X-Hub-Signature-256"), b)[1], 401),
        (lambda h, b: (h.update({"X-Hub-Signature-256": sign(b, "wrong")}), b)[1], 401),
        (lambda h, b: (h.update({"X-Hub-Signature-256": h["X-Hub-Signature-256"][:-1]}), b)[1],
         401),
        (lambda h, b: (h.update({"X-Hub-Signature-256": "sha1=" + "0" * 40}), b)[1], 401),
        (lambda h, b: (h.pop("X-GitHub-Event"), b)[1], 400),
        (lambda h, b: (h.pop("X-GitHub-Delivery"), b)[1], 400),
    ],
    ids=["no-signature", "wrong-secret", "truncated", "wrong-algorithm", "no-event",
         "no-delivery"],
)
def test_bad_headers(client: TestClient, redis_conn: redis.Redis, mutate, status: int) -> None:
    body = _opened()
    h = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d",
         "X-Hub-Signature-256": sign(body, WEBHOOK_SECRET)}
    body = mutate(h, body)
    resp = client.post("/webhooks", content=body, headers=h)
    assert resp.status_code == status, resp.text
    assert "error" in resp.json()
    assert queued_jobs(redis_conn) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"", 400), (b"{oops", 400), (b"[]", 400), (b"42", 400),
     (b'{"pull_request": {"number": "x"}}', 400)],
    ids=["empty", "invalid-json", "array", "number", "wrong-field-type"],
)
def test_bad_bodies(client: TestClient, redis_conn: redis.Redis, body: bytes, status: int) -> None:
    resp = post(client, "pull_request", body)
    assert resp.status_code == status, resp.text
    assert queued_jobs(redis_conn) == []


def test_oversize_body_is_413(client: TestClient) -> None:
    body = b'{"a": "' + b"x" * MAX_BODY_BYTES + b'"}'
    assert post(client, "push", body).status_code == 413


def test_redis_down_is_503_and_nothing_is_lost(settings: Settings,
                                               redis_conn: redis.Redis) -> None:
    down = redis_from_url("redis://127.0.0.1:1")
    with TestClient(create_app(settings, down), raise_server_exceptions=False) as dead:
        resp = post(dead, "pull_request", _opened(), "lost?")
        assert resp.status_code == 503
        assert dead.get("/readyz").status_code == 503
        assert dead.get("/healthz").status_code == 200
    # GitHub shows the delivery as failed; its redelivery (same id) is then accepted.
    with TestClient(create_app(settings, redis_conn)) as live:
        assert post(live, "pull_request", _opened(), "lost?").json()["status"] == "enqueued"
    assert queued_jobs(redis_conn) == ["lost_--open-checks"]


def test_own_bot_events_trigger_nothing(client: TestClient, redis_conn: redis.Redis,
                                        settings: Settings) -> None:
    payload = json.loads(_opened())
    payload["sender"] = {"login": settings.bot_login, "id": 1, "type": "Bot"}
    resp = post(client, "pull_request", json.dumps(payload).encode())
    assert resp.json()["status"] == "ignored"
    assert queued_jobs(redis_conn) == []


def test_own_push_is_audited_not_regenerated(client: TestClient, redis_conn: redis.Redis,
                                             settings: Settings) -> None:
    payload = json.loads((FIXTURES / "webhooks/pull_request/synchronize.json").read_bytes())
    payload["sender"] = {"login": settings.bot_login, "id": 1, "type": "Bot"}
    resp = post(client, "pull_request", json.dumps(payload).encode(), "own-push")
    assert resp.json()["status"] == "enqueued"
    assert queued_jobs(redis_conn) == ["own-push--push", "own-push--audit"]


def test_health_ready_and_metrics(client: TestClient) -> None:
    post(client, "pull_request", _opened())
    post(client, "ping", (FIXTURES / "webhooks/ping/ping.json").read_bytes()
         if (FIXTURES / "webhooks/ping/ping.json").exists()
         else next((FIXTURES / "webhooks/ping").glob("*.json")).read_bytes())
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    text = client.get("/metrics").text
    assert 'shipcrew_deliveries_total{event="pull_request",action="opened",outcome="enqueued"} 1' \
        in text
    assert 'shipcrew_deliveries_total{event="ping",action="",outcome="ignored"} 1' in text
    assert 'shipcrew_queue_depth{queue="shipcrew-urgent"} 1' in text  # the first look


@pytest.mark.parametrize("name", ["check_run/requested_action", "check_run/rerequested"])
def test_our_check_run_buttons_and_reruns_reach_the_auditor(
        client: TestClient, redis_conn: redis.Redis, name: str) -> None:
    payload = json.loads((FIXTURES / "webhooks" / f"{name}.json").read_text())
    payload["check_run"]["name"] = "shipcrew / policy"
    delivery = str(uuid.uuid4())
    assert post(client, "check_run", json.dumps(payload).encode(), delivery).status_code == 202
    handler = EXPECTED[("check_run", payload["action"])]
    ((job_name, func, queue, kwargs),) = handler(payload, delivery)
    job = Queue(queue, connection=redis_conn).fetch_job(f"{delivery}--{job_name}")
    assert job is not None and (job.func_name, job.kwargs) == (func, kwargs)

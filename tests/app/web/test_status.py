"""The status page as an operator sees it: a live PR flow through the real App, the emulator
and real RQ workers, read in headless chromium (screenshot in test-artifacts/)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr
from rq import SimpleWorker
from starlette.testclient import TestClient

from app.main import create_app
from app.queue import JobSpec, Urgency, enqueue, queues
from app.settings import Settings
from tests.browser import browser, click, screenshot, wait_text  # noqa: F401 - fixture
from tests.e2e.conftest import Crew, crew  # noqa: F401 - pytest fixture
from tests.e2e.test_release import Clock, deploy, green, open_pr, setup_repo, status
from tests.emulator.fixture import emulator  # noqa: F401 - pytest fixture


def _fail_a_job(crew: Crew, repo: str = "octo/shop") -> str:  # noqa: F811
    """A real job that fails for good: planning a pull request GitHub does not have."""
    spec = JobSpec(name="plan", func="jobs.planner.plan_pull_request", urgency=Urgency.DEFAULT,
                   kwargs={"installation_id": 1, "repo": repo, "delivery_id": "d-missing",
                           "number": 999, "head_sha": "0" * 40})
    job = enqueue(crew.conn, "d-missing", spec)
    SimpleWorker(queues(crew.conn), connection=crew.conn).work(burst=True,
                                                               logging_level="CRITICAL")
    return job


@pytest.mark.slow
def test_status_page_shows_a_live_pull_request_flow(crew: Crew, browser: object,  # noqa: F811
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    inst = setup_repo(crew, alice="maintain")
    pr = open_pr(crew, {"migrations/0002_add_email.sql": "ALTER TABLE users ADD email text;\n"})
    green(crew, inst, pr["head_sha"])
    staging = deploy(crew, "staging", pr["head_sha"], "feature")
    status(crew, staging["deployment_id"], "success")
    clock.advance(minutes=5)
    deploy(crew, "production", pr["head_sha"], "feature")
    failed = _fail_a_job(crew)

    browser.get(crew.url + "/")  # type: ignore[attr-defined]
    text = wait_text(browser, "Pending deployment gates")
    path = screenshot(browser, "status-page.png")
    assert path.stat().st_size > 10_000
    # deliveries by event and outcome
    assert "pull_request.opened 1" in text
    assert "deployment_protection_rule.requested 2" in text
    # the pending production gate and what it waits for
    assert "octo/shop production" in text and f"#{pr['number']}" in text
    assert "approval: 0 of 1, awaiting `/crew approve production`" in text
    # recent decisions with reasons
    assert "staging: approved" in text and "production: pending" in text
    assert "policy pass" in text or "tier high" in text
    # the failed job, its error, and the redeliver action
    assert "jobs.planner.plan_pull_request" in text and "Not Found" in text
    assert "shipcrew-default 0 0 failed 1" in text

    click(browser, "#failed button")
    wait_text(browser, f"Requeued {failed}")
    assert queues(crew.conn)[1].count == 1
    assert [e["job"] for e in crew.audit("requeue")] == [failed]


def test_off_loopback_or_rebound_host_is_refused(crew: Crew) -> None:  # noqa: F811
    assert httpx.get(crew.url + "/").status_code == 200
    rebound = httpx.get(crew.url + "/", headers={"Host": "attacker.example"})
    assert rebound.status_code == 403
    assert "loopback only" in rebound.text
    setup = httpx.get(crew.url + "/setup")
    assert f"{crew.emulator.url}/apps/shipcrew-test/installations/new" in setup.text


def test_token_mode_and_escaping_and_csrf(settings: Settings, redis_conn,  # noqa: F811
                                          emulator) -> None:  # noqa: F811
    s = settings.model_copy(update={"status_token": SecretStr("s3cret")})
    crew_like = type("C", (), {"conn": redis_conn})()
    job = _fail_a_job(crew_like, repo="octo/<img src=x onerror=alert(1)>")  # type: ignore[arg-type]
    client = TestClient(create_app(s, redis_conn))  # its client is not loopback
    assert client.get("/").status_code == 403
    assert client.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 403
    page = client.get("/", headers={"Authorization": "Bearer s3cret"})
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    forged = client.post("/status/requeue", data={"job": job, "csrf": "0" * 64, "token": "s3cret"})
    assert forged.status_code == 400
    assert queues(redis_conn)[1].count == 0

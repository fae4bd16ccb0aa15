"""The workers' container probes (app/probe.py) against a real Redis and a real RQ worker."""

from __future__ import annotations

import socket

import pytest
import redis
from rq import SimpleWorker

from app.probe import check, main
from app.queue import queues


def test_worker_probe_follows_the_workers_registration(redis_conn: redis.Redis) -> None:
    host = socket.gethostname()
    assert check(redis_conn, "redis", host) is None
    assert check(redis_conn, "worker", host) == f"no live RQ worker registered for host {host}"
    worker = SimpleWorker(queues(redis_conn), connection=redis_conn)
    worker.register_birth()
    assert check(redis_conn, "worker", host) is None
    assert check(redis_conn, "worker", "another-pod") is not None
    worker.register_death()
    assert check(redis_conn, "worker", host) is not None


def test_cli_exit_codes(redis_url: str, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["redis"]) == 0
    assert main(["bogus"]) == 2
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert main(["redis"]) == 1
    assert "redis:" in capsys.readouterr().err

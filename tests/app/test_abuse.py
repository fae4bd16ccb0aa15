"""The webhook endpoint under abuse from an unauthenticated peer (issue 15).

The first tests go through the ASGI app; the others through a real uvicorn server with the
protocol `shipcrew web` uses (app.server), in this process, on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
import uvicorn
from starlette.testclient import TestClient

from app import main, metrics
from app.main import create_app
from app.server import GuardedHttpTools
from app.settings import Settings
from app.webhooks import sign
from tests.app.test_ingress import post, queued_jobs
from tests.conftest import FIXTURES, WEBHOOK_SECRET

HEADERS = {"X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": "sha256=" + "0" * 64}


@pytest.fixture
def client(settings: Settings, redis_conn: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(settings, redis_conn), raise_server_exceptions=False) as c:
        yield c


def _series(text: str) -> set[str]:
    """Every series (name and labels) the page shows; label-less ones too."""
    return {line.rsplit(" ", 1)[0] for line in text.splitlines()
            if line and not line.startswith("#")}


@pytest.mark.parametrize("signed", [True, False])
def test_a_pipe_in_the_event_name_is_refused_and_metrics_stay_up(
        client: TestClient, signed: bool) -> None:
    body = b'{"action": "opened"}'
    secret = WEBHOOK_SECRET if signed else "not-the-secret"
    resp = post(client, "push|x", body, secret=secret)
    assert resp.status_code == 400  # refused on its headers, before the body is read
    page = client.get("/metrics")
    assert page.status_code == 200
    assert "push|x" not in page.text


def test_unsigned_requests_add_no_series(client: TestClient) -> None:
    before = _series(client.get("/metrics").text)
    for i in range(30):
        event = f"evil_{i}_{uuid.uuid4().hex}"
        client.post("/webhooks", content=b"{}", headers={"X-GitHub-Event": event, **HEADERS})
        client.post("/webhooks", content=b"{}", headers={"X-GitHub-Event": event})
    page = client.get("/metrics").text
    assert _series(page) == before
    assert 'shipcrew_webhook_rejections_total{reason="signature"} 30' in page
    assert 'shipcrew_webhook_rejections_total{reason="unsigned"} 30' in page


def test_metrics_survive_fields_an_older_version_wrote(client: TestClient,
                                                       redis_conn: redis.Redis) -> None:
    redis_conn.hincrby(metrics.DELIVERIES, "push|x||rejected", 1)
    redis_conn.hincrby(metrics.JOBS, "nonsense", 1)
    assert client.get("/metrics").status_code == 200


def test_a_signed_100k_deep_body_is_400(client: TestClient, redis_conn: redis.Redis) -> None:
    body = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    resp = post(client, "push", body)
    assert resp.status_code == 400 and "JSON" in resp.json()["error"]
    assert queued_jobs(redis_conn) == []


def test_a_body_without_content_length_is_411(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"{}"
    resp = client.post("/webhooks", content=chunks(), headers={"X-GitHub-Event": "push",
                                                                **HEADERS})
    assert resp.status_code == 411


def test_only_post_is_taken(client: TestClient) -> None:
    resp = client.get("/webhooks")
    assert resp.status_code == 405 and resp.headers["allow"] == "POST"


def test_real_deliveries_still_work(client: TestClient, redis_conn: redis.Redis) -> None:
    body = (FIXTURES / "webhooks/pull_request/opened-2.json").read_bytes()
    assert post(client, "pull_request", body, "ok-1").json()["status"] == "enqueued"
    assert queued_jobs(redis_conn) == ["ok-1--open-checks"]  # pusher record, check runs, plan


# --- a real server ---------------------------------------------------------------------------

class _Quick(GuardedHttpTools):
    header_timeout = 1.0
    writes: list[int] = []  # the size of each write to a connection, in order

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        write = transport.write

        def recorded(data: bytes | bytearray | memoryview) -> None:
            _Quick.writes.append(len(data))
            write(data)

        transport.write = recorded  # type: ignore[method-assign]
        super().connection_made(transport)


@pytest.fixture
def server(settings: Settings, redis_conn: redis.Redis,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(main, "BODY_TIMEOUT", 1.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(settings, redis_conn), host="127.0.0.1", port=port,
                            http=_Quick, log_config=None, access_log=False,
                            limit_concurrency=512, timeout_keep_alive=5, loop="asyncio")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    _Quick.writes = []
    yield port
    srv.should_exit = True
    thread.join(10)


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_headers_sent_a_byte_at_a_time_are_cut_off(server: int) -> None:
    t0 = time.monotonic()
    request = b"POST /webhooks HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n"
    with _connect(server) as sock:
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
        except OSError:
            pass  # closed on us: that is the point
        reply = _answer(sock)
    assert reply.startswith(b"HTTP/1.1 408") and time.monotonic() - t0 < 4


def test_a_connection_that_sends_nothing_is_closed(server: int) -> None:
    t0 = time.monotonic()
    with _connect(server) as sock:
        assert _answer(sock).startswith(b"HTTP/1.1 408")
    assert time.monotonic() - t0 < 3


def test_a_4mb_header_is_431(server: int) -> None:
    with _connect(server) as sock:
        try:
            sock.sendall(b"POST /webhooks HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (4 << 20))
        except OSError:
            pass
        assert _answer(sock).startswith(b"HTTP/1.1 431")


def test_a_body_sent_a_byte_at_a_time_is_408(server: int) -> None:
    head = (b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
            b"X-GitHub-Event: push\r\nX-GitHub-Delivery: d\r\nX-Hub-Signature-256: sha256="
            + b"0" * 64 + b"\r\n\r\n")
    with _connect(server) as sock:
        sock.sendall(head)
        t0 = time.monotonic()
        try:
            for _ in range(60):
                sock.sendall(b"x")
                time.sleep(0.05)
        except OSError:
            pass
        reply = _answer(sock)
    assert b" 408 " in reply.split(b"\r\n", 1)[0] and time.monotonic() - t0 < 4


def test_ten_concurrent_23mb_unsigned_bodies_are_not_all_buffered(server: int) -> None:
    size = 23 * 1024 * 1024
    head = (b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
            b"X-GitHub-Event: push\r\nX-GitHub-Delivery: d\r\nX-Hub-Signature-256: sha256="
            % size + b"0" * 64 + b"\r\n\r\n")
    socks = [_connect(server) for _ in range(10)]
    for s in socks:
        s.sendall(head)
    time.sleep(0.5)
    # Only what fits in MAX_BUFFERED is read; every other request is answered at once.
    busy = []
    for s in socks:
        s.settimeout(0.5)
        try:
            busy.append(s.recv(200).startswith(b"HTTP/1.1 503"))
        except TimeoutError:
            busy.append(False)
    assert sum(busy) >= 10 - main.MAX_BUFFERED // size
    for s in socks:
        s.close()


def test_the_real_server_still_takes_a_signed_delivery(server: int,
                                                       redis_conn: redis.Redis) -> None:
    body = (FIXTURES / "webhooks/pull_request/opened-2.json").read_bytes()
    with _connect(server) as sock:
        sock.sendall(b"POST /webhooks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\nX-GitHub-Event: pull_request\r\n"
                     b"X-GitHub-Delivery: real-1\r\nX-Hub-Signature-256: %s\r\n\r\n"
                     % (len(body), sign(body, WEBHOOK_SECRET).encode()) + body)
        assert _answer(sock).startswith(b"HTTP/1.1 202")
    assert queued_jobs(redis_conn) == ["real-1--open-checks"]


def test_slow_bodies_started_apart_each_time_out_and_others_pass(
        server: int, redis_conn: redis.Redis) -> None:
    head = (b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
            b"X-GitHub-Event: push\r\nX-GitHub-Delivery: d\r\nX-Hub-Signature-256: sha256="
            + b"0" * 64 + b"\r\n\r\n")
    slow = []
    for _ in range(2):  # one shared timer serves both deadlines (app.main._Deadlines)
        sock = _connect(server)
        sock.sendall(head + b"x")
        slow.append(sock)
        time.sleep(0.4)
    body = (FIXTURES / "webhooks/pull_request/opened-2.json").read_bytes()
    with _connect(server) as sock:
        sock.sendall(b"POST /webhooks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\nX-GitHub-Event: pull_request\r\n"
                     b"X-GitHub-Delivery: between-1\r\nX-Hub-Signature-256: %s\r\n\r\n"
                     % (len(body), sign(body, WEBHOOK_SECRET).encode()) + body)
        assert _answer(sock).startswith(b"HTTP/1.1 202")
    for sock in slow:
        with sock:
            assert _answer(sock).startswith(b"HTTP/1.1 408")
    assert queued_jobs(redis_conn) == ["between-1--open-checks"]


def _signed(delivery: str, body: bytes, close: bool = False) -> bytes:
    return (b"POST /webhooks HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n"
            b"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: %s\r\n"
            b"X-Hub-Signature-256: %s\r\n\r\n"
            % (b"Connection: close\r\n" if close else b"", len(body), delivery.encode(),
               sign(body, WEBHOOK_SECRET).encode()) + body)


def test_each_answer_leaves_in_one_write(server: int, redis_conn: redis.Redis) -> None:
    body = (FIXTURES / "webhooks/pull_request/opened-2.json").read_bytes()
    with _connect(server) as sock:  # two deliveries on one keep-alive connection
        sock.sendall(_signed("one-write-1", body))
        first = sock.recv(65536)
        sock.sendall(_signed("one-write-2", body, close=True))
        second = _answer(sock)
    assert first.startswith(b"HTTP/1.1 202") and b'"status":"enqueued"' in first
    assert second.startswith(b"HTTP/1.1 202") and b"one-write-2" in second
    assert _Quick.writes == [len(first), len(second)]  # status line, headers and body at once
    assert queued_jobs(redis_conn) == ["one-write-1--open-checks", "one-write-2--open-checks"]


def test_headers_over_the_limit_in_one_read_are_431(server: int) -> None:
    # Complete within one read, so counted once they are (not by what arrived before).
    lines = [b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(80)]  # 80 KB
    with _connect(server) as sock:
        sock.sendall(b"POST /webhooks HTTP/1.1\r\nHost: x\r\n" + b"".join(lines) + b"\r\n")
        assert _answer(sock).startswith(b"HTTP/1.1 431")
    with _connect(server) as sock:  # under the limit: on to the app, which wants a signature
        sock.sendall(b"POST /webhooks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     + b"".join(lines[:50]) + b"\r\n")
        assert _answer(sock).startswith(b"HTTP/1.1 401")

"""The web process: Starlette app factory.

`POST /webhooks` answers first and works afterwards: verify, dedupe, record, enqueue,
202. No GitHub call on this path, and one Redis round trip (app.intake).

An unauthenticated peer can reach this endpoint, so before the signature can be checked:
headers are refused on their own (no signature, bad names, no Content-Length, over 25 MB),
at most `MAX_READS` bodies are read at once and at most `MAX_BUFFERED` bytes are held, and a
body must arrive within `BODY_TIMEOUT` seconds. Header size and header read time are bounded
by the HTTP protocol (app.server).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app import metrics
from app.audit import AuditTrail
from app.handlers import router as default_router
from app.intake import Intake, job_args
from app.logs import delivery_id
from app.routing import Router
from app.settings import Settings
from app.web import routes as web_routes
from app.webhooks import READ_HEADERS, Delivery, Rejection, parse_delivery, precheck

log = logging.getLogger("shipcrew.web")
MAX_READS = 32  # bodies being read at once
MAX_BUFFERED = 64 * 1024 * 1024  # bytes of bodies held at once (by their Content-Length)
BODY_TIMEOUT = 10.0  # seconds; GitHub itself gives a delivery 10 s


class _Budget:
    """Bodies being read and the bytes they reserve. One event loop: no lock needed."""

    def __init__(self, reads: int, size: int) -> None:
        self.reads, self.size = reads, size

    def take(self, size: int) -> bool:
        if self.reads <= 0 or size > self.size:
            return False
        self.reads, self.size = self.reads - 1, self.size - size
        return True

    def give(self, size: int) -> None:
        self.reads, self.size = self.reads + 1, self.size + size


class _Deadlines:
    """When the body reads in progress must end, checked by one timer: `asyncio.timeout`
    per delivery (a timer scheduled and cancelled each time) costs more CPU than reading a
    body that has already arrived. Over its time a read is cancelled; `stop` tells."""

    def __init__(self) -> None:
        self.due: dict[asyncio.Task[Any], float] = {}
        self.expired: set[asyncio.Task[Any]] = set()
        self.timer: asyncio.TimerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, seconds: float) -> asyncio.Task[Any]:
        task = asyncio.current_task()
        assert task is not None
        loop = task.get_loop()
        if loop is not self.loop:  # a new event loop (tests start one per client)
            self.due.clear()
            self.expired.clear()
            self.loop, self.timer = loop, None
        self.due[task] = loop.time() + seconds
        if self.timer is None:
            self.timer = loop.call_later(seconds, self._check)
        return task

    def stop(self, task: asyncio.Task[Any]) -> bool:
        """True when `task` ran out of time (its cancellation is then undone)."""
        self.due.pop(task, None)
        if task not in self.expired:
            return False
        self.expired.discard(task)
        task.uncancel()
        return True

    def _check(self) -> None:
        assert self.loop is not None
        self.timer, now = None, self.loop.time()
        for task, at in list(self.due.items()):
            if at <= now:
                del self.due[task]
                self.expired.add(task)
                task.cancel()
        if self.due:
            self.timer = self.loop.call_at(min(self.due.values()), self._check)


class _Gone(Exception):
    """The peer disconnected before its body arrived: there is no one to answer."""


async def _read_body(receive: Receive, declared: int) -> bytes | None:
    """The body, or None when it is longer than it said."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > declared:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send_json(send: Send, status: int, content: dict[str, Any], close: bool = False) -> None:
    """A JSON answer rendered by orjson, as raw ASGI messages."""
    body = orjson.dumps(content)
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _App(Starlette):
    """Starlette for every route but `POST /webhooks`, which a plain ASGI callable answers:
    Starlette's routing, middleware, Request and Response cost about as much CPU as the
    delivery's own work."""

    webhooks: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/webhooks" and (
                scope["method"] == "POST"):
            scope["app"] = self
            await self.webhooks(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def redis_from_url(url: str) -> redis.Redis:
    # Fail fast: GitHub gives a delivery 10 s, and a 503 it can redeliver beats a timeout.
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2)
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, retry=retry)


def create_app(
    settings: Settings, conn: redis.Redis | None = None, router: Router | None = None
) -> Starlette:
    if settings.webhook_secret is None:
        raise ValueError("WEBHOOK_SECRET: not set")
    secret = settings.webhook_secret.get_secret_value()
    if conn is None:
        if not settings.redis_url:
            raise ValueError("REDIS_URL: not set")
        conn = redis_from_url(settings.redis_url)
    routes = router or default_router
    audit = AuditTrail(conn)
    intake = Intake(conn)
    budget = _Budget(MAX_READS, MAX_BUFFERED)
    deadlines = _Deadlines()

    Answer = tuple[int, dict[str, Any]]

    def _refuse(rejection: Rejection) -> Answer:
        try:
            metrics.record_rejection(conn, rejection.label)
        except redis.RedisError:
            pass  # a metric is not worth failing an answer for
        return rejection.status, {"error": rejection.reason}

    def _accept(delivery: Delivery) -> Answer:
        event = delivery.fields
        jobs = routes.dispatch(delivery, event, settings.bot_login)
        outcome = "enqueued" if jobs else "ignored"
        job_ids, job_argv = [], []
        for spec in jobs:
            job_id, args = job_args(delivery.id, spec)
            job_ids.append(job_id)
            job_argv.append(args)
        # Run by the script only for a fresh delivery, in its one round trip.
        records = [audit.command(
            "delivery", delivery=delivery.id, event=delivery.event, action=delivery.action,
            outcome=outcome, jobs=job_ids,
            repo=event.repository.full_name if event.repository else None,
            sender=event.sender.login if event.sender else None,
        ), metrics.delivery_command(delivery.event, delivery.action, outcome)]
        try:
            if not intake.submit(delivery.id, job_argv, records):
                metrics.record_delivery(conn, delivery.event, delivery.action, "duplicate")
                return 202, {"delivery": delivery.id, "status": "duplicate"}
        except redis.RedisError as exc:
            log.error("redis unavailable, delivery refused for redelivery: %s", exc)
            return 503, {"error": "queue unavailable; redeliver later"}
        log.info("delivery %s", outcome, extra={"event": delivery.event,
                                                 "action": delivery.action, "outcome": outcome})
        return 202, {"delivery": delivery.id, "status": outcome, "jobs": job_ids}

    async def deliver(headers: dict[str, str], receive: Receive) -> tuple[int, dict[str, Any],
                                                                          bool]:
        """The answer to a delivery and whether to close the connection after it."""
        early = precheck(headers)
        if early is not None:
            return *_refuse(early), early.status in (411, 413)
        declared = int(headers["content-length"])
        if not budget.take(declared):
            return *_refuse(Rejection(503, "too many deliveries being read; retry", "busy")), True
        try:
            task = deadlines.start(BODY_TIMEOUT)
            try:
                body = await _read_body(receive, declared)
            except asyncio.CancelledError:
                if not deadlines.stop(task):
                    raise  # not ours: the server is stopping
                return *_refuse(Rejection(408, f"body not received within {BODY_TIMEOUT:g} s",
                                          "timeout")), True
            finally:
                deadlines.stop(task)
            if body is None:
                return *_refuse(Rejection(400, "body longer than Content-Length", "header")), True
            result = parse_delivery(headers, body, secret)
            if isinstance(result, Rejection):
                return *_refuse(result), False
            token = delivery_id.set(result.id)  # bound_delivery, without a generator's cost
            try:
                return *_accept(result), False
            finally:
                delivery_id.reset(token)
        finally:
            budget.give(declared)

    async def webhooks(scope: Scope, receive: Receive, send: Send) -> None:
        # The few we read, decoded once into a dict; the first of repeated names counts, as
        # with Starlette's Headers. ASGI servers send names lowercased.
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            if name in READ_HEADERS:
                headers.setdefault(name.decode(), value.decode("latin-1"))
        try:
            status, content, close = await deliver(headers, receive)
        except _Gone:
            return
        await _send_json(send, status, content, close)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            conn.ping()
        except redis.RedisError as exc:
            return JSONResponse({"status": "unavailable", "redis": str(exc)}, 503)
        return JSONResponse({"status": "ready"})

    async def metrics_endpoint(request: Request) -> Response:
        try:
            text = metrics.render(conn)
        except redis.RedisError:
            return _error(503, "metrics unavailable: redis unreachable")
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    async def wrong_method(request: Request) -> Response:
        # POST itself never reaches the router (_App)
        return JSONResponse({"error": "POST only"}, 405, headers={"allow": "POST"})

    app = _App(routes=[
        Route("/webhooks", wrong_method),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        *web_routes(settings, conn),  # the status page at / and /setup (app/web)
    ])
    app.webhooks = webhooks
    app.state.redis = conn
    app.state.settings = settings
    return app


def asgi() -> Any:
    """Entry for `uvicorn --factory app.main:asgi`."""
    from app.settings import get_settings

    return create_app(get_settings())

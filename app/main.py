"""The web process: Starlette app factory.

`POST /webhooks` answers first and works afterwards: verify, dedupe, record, enqueue,
202. No GitHub call on this path.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from pydantic import ValidationError
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app import metrics
from app.audit import AuditTrail
from app.events import Event
from app.handlers import router as default_router
from app.logs import bound_delivery
from app.queue import enqueue
from app.routing import Router
from app.settings import Settings
from app.web import routes as web_routes
from app.webhooks import MAX_BODY_BYTES, Delivery, Rejection, parse_delivery

log = logging.getLogger("shipcrew.web")
DEDUPE_TTL = 7 * 24 * 3600  # GitHub lets a delivery be redelivered for days


class _TooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


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

    def _count(event: str, action: str | None, outcome: str) -> None:
        try:
            metrics.record_delivery(conn, event, action, outcome)
        except redis.RedisError:
            pass  # a metric is not worth failing an answer for

    def _accept(delivery: Delivery) -> Response:
        try:
            event = Event.model_validate(delivery.payload)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            _count(delivery.event, delivery.action, "invalid")
            return _error(400, f"payload field {where}: {err['msg']}")
        jobs = routes.dispatch(delivery, event, settings.bot_login)
        key = f"shipcrew:delivery:{delivery.id}"
        try:
            if not conn.set(key, 1, nx=True, ex=DEDUPE_TTL):
                _count(delivery.event, delivery.action, "duplicate")
                return JSONResponse({"delivery": delivery.id, "status": "duplicate"}, 202)
            outcome = "enqueued" if jobs else "ignored"
            with conn.pipeline(transaction=True) as pipe:
                job_ids = [enqueue(conn, delivery.id, spec, pipeline=pipe) for spec in jobs]
                audit.record(
                    "delivery", pipeline=pipe, delivery=delivery.id, event=delivery.event,
                    action=delivery.action, outcome=outcome, jobs=job_ids,
                    repo=event.repository.full_name if event.repository else None,
                    sender=event.sender.login if event.sender else None,
                )
                metrics.record_delivery(pipe, delivery.event, delivery.action, outcome)
                pipe.execute()
        except redis.RedisError as exc:
            log.error("redis unavailable, delivery refused for redelivery: %s", exc)
            try:
                conn.delete(key)
            except redis.RedisError:
                pass
            return _error(503, "queue unavailable; redeliver later")
        log.info("delivery %s", outcome, extra={"event": delivery.event,
                                                 "action": delivery.action, "outcome": outcome})
        return JSONResponse({"delivery": delivery.id, "status": outcome, "jobs": job_ids}, 202)

    async def webhooks(request: Request) -> Response:
        event_name = request.headers.get("x-github-event", "")
        try:
            body = await _read_body(request)
        except _TooLarge:
            _count(event_name, None, "rejected")
            return _error(413, "payload over 25 MB")
        result = parse_delivery(request.headers, body, secret)
        if isinstance(result, Rejection):
            _count(event_name[:100], None, "rejected")
            return _error(result.status, result.reason)
        with bound_delivery(result.id):
            return _accept(result)

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

    app = Starlette(routes=[
        Route("/webhooks", webhooks, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        *web_routes(settings, conn),  # the status page at / and /setup (app/web)
    ])
    app.state.redis = conn
    app.state.settings = settings
    return app


def asgi() -> Any:
    """Entry for `uvicorn --factory app.main:asgi`."""
    from app.settings import get_settings

    return create_app(get_settings())

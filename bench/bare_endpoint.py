"""The practical limit of this stack: check the HMAC, RPUSH the body to Redis, 202."""

from __future__ import annotations

import os

import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.webhooks import verify_signature

SECRET = os.environ["WEBHOOK_SECRET"]
conn = redis.Redis.from_url(os.environ["REDIS_URL"])


async def webhooks(request: Request) -> Response:
    body = await request.body()
    if not verify_signature(body, request.headers.get("x-hub-signature-256"), SECRET):
        return Response(status_code=401)
    conn.rpush("bare:deliveries", body)
    return Response(status_code=202)


app = Starlette(routes=[Route("/webhooks", webhooks, methods=["POST"])])

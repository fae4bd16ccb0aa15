"""The webhook core, without I/O: verify a delivery and parse the envelope.

`parse_delivery` takes the raw headers and body and returns either a `Delivery` or a
`Rejection` carrying the HTTP status the endpoint must answer with.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
_PREFIX = "sha256="


@dataclass(frozen=True)
class Delivery:
    id: str
    event: str
    action: str | None
    payload: dict[str, Any]
    installation_id: int | None
    hook_id: str | None = None


@dataclass(frozen=True)
class Rejection:
    status: int
    reason: str


def sign(body: bytes, secret: str) -> str:
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, signature: str | None, secret: str) -> bool:
    """Constant-time check of `X-Hub-Signature-256` against the raw body."""
    if not signature or not signature.startswith(_PREFIX):
        return False
    return hmac.compare_digest(sign(body, secret).encode(), signature.strip().encode())


def parse_delivery(headers: Mapping[str, str], body: bytes, secret: str) -> Delivery | Rejection:
    if len(body) > MAX_BODY_BYTES:
        return Rejection(413, "payload over 25 MB")
    # The signature comes first: nothing about an unauthenticated body is worth telling.
    if not verify_signature(body, headers.get("x-hub-signature-256"), secret):
        return Rejection(401, "missing or invalid X-Hub-Signature-256")
    event = headers.get("x-github-event", "").strip()
    delivery_id = headers.get("x-github-delivery", "").strip()
    if not event or not delivery_id:
        return Rejection(400, "missing X-GitHub-Event or X-GitHub-Delivery header")
    if len(delivery_id) > 100 or len(event) > 100:
        return Rejection(400, "malformed X-GitHub-Event or X-GitHub-Delivery header")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Rejection(400, f"body is not valid JSON: {exc}")
    if not isinstance(payload, dict):
        return Rejection(400, "body is not a JSON object")
    action = payload.get("action")
    installation = payload.get("installation")
    inst_id = installation.get("id") if isinstance(installation, dict) else None
    return Delivery(
        id=delivery_id,
        event=event,
        action=action if isinstance(action, str) else None,
        payload=payload,
        installation_id=inst_id if isinstance(inst_id, int) else None,
        hook_id=headers.get("x-github-hook-id"),
    )

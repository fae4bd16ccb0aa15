"""The webhook core, without I/O: verify a delivery and parse the envelope.

`parse_delivery` takes the raw headers and body and returns either a `Delivery` or a
`Rejection` carrying the HTTP status the endpoint must answer with.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from app.events import Event, EventError, decode_event

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
_PREFIX = "sha256="
# GitHub's event and action names: lowercase words joined by underscores. Anything else is
# refused before it can become a metric label, a log field or a Redis hash field.
NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")
_DELIVERY = re.compile(r"[\x21-\x7e]{1,100}")  # printable ASCII, no spaces or controls
# Every request header read here (lowercase, as ASGI sends them): app.main decodes only these.
READ_HEADERS = frozenset({b"content-length", b"x-hub-signature-256", b"x-github-event",
                          b"x-github-delivery", b"x-github-hook-id"})


@dataclass(frozen=True)
class Delivery:
    id: str
    event: str
    action: str | None
    fields: Event  # the payload fields handlers route on, validated
    installation_id: int | None
    hook_id: str | None = None
    body: bytes = field(default=b"{}", repr=False)

    @cached_property
    def payload(self) -> dict[str, Any]:
        """The whole payload, parsed on first use (most deliveries never need it)."""
        data = orjson.loads(self.body)
        return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Rejection:
    status: int
    reason: str
    label: str = "invalid"  # one of a fixed set: the metric label of this rejection


def _names(headers: Mapping[str, str]) -> tuple[str, str] | Rejection:
    """The event name and delivery id, checked against GitHub's shapes."""
    event = headers.get("x-github-event", "").strip()
    delivery_id = headers.get("x-github-delivery", "").strip()
    if not event or not delivery_id:
        return Rejection(400, "missing X-GitHub-Event or X-GitHub-Delivery header", "header")
    if not NAME.fullmatch(event) or not _DELIVERY.fullmatch(delivery_id):
        return Rejection(400, "malformed X-GitHub-Event or X-GitHub-Delivery header", "header")
    return event, delivery_id


def precheck(headers: Mapping[str, str]) -> Rejection | None:
    """What can be refused from the headers alone, before a byte of the body is read."""
    if not _SIGNATURE.fullmatch(headers.get("x-hub-signature-256", "").strip()):
        return Rejection(401, "missing or invalid X-Hub-Signature-256", "unsigned")
    names = _names(headers)
    if isinstance(names, Rejection):
        return names
    declared = headers.get("content-length", "")
    if not declared.isdigit():
        return Rejection(411, "Content-Length required", "header")
    if int(declared) > MAX_BODY_BYTES:
        return Rejection(413, "payload over 25 MB", "too_large")
    return None


def sign(body: bytes, secret: str) -> str:
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, signature: str | None, secret: str) -> bool:
    """Constant-time check of `X-Hub-Signature-256` against the raw body."""
    if not signature or not signature.startswith(_PREFIX):
        return False
    return hmac.compare_digest(sign(body, secret).encode(), signature.strip().encode())


def parse_delivery(headers: Mapping[str, str], body: bytes, secret: str) -> Delivery | Rejection:
    if len(body) > MAX_BODY_BYTES:
        return Rejection(413, "payload over 25 MB", "too_large")
    # The signature comes first: nothing about an unauthenticated body is worth telling.
    if not verify_signature(body, headers.get("x-hub-signature-256"), secret):
        return Rejection(401, "missing or invalid X-Hub-Signature-256", "signature")
    names = _names(headers)
    if isinstance(names, Rejection):
        return names
    event, delivery_id = names
    try:
        fields = decode_event(body)  # parsed once, into only the fields we route on
    except EventError as exc:
        return Rejection(400, str(exc), exc.label)
    action = fields.action
    return Delivery(
        id=delivery_id,
        event=event,
        action=action if action is not None and NAME.fullmatch(action) else None,
        fields=fields,
        installation_id=fields.installation.id if fields.installation else None,
        hook_id=headers.get("x-github-hook-id"),
        body=body,
    )

"""Signed webhook deliveries to the App, recorded like GitHub's delivery log.

All deliveries go through one worker thread so they arrive in order. The control API
waits for the queue to drain before answering (a human's change has reached the App when
the call returns); events caused by the App's own API calls are sent in the background,
as GitHub never holds an API answer until its webhook is delivered.

`hold()` parks every new delivery instead of sending it; `release()` sends all parked ones
at once, concurrently (so a load test can put a burst on the App that the one-by-one hook
thread would otherwise pace). A parked delivery's body is rendered and signed when it is
parked: GitHub renders payloads on its own machines, so a burst's release should not spend
the CPU of the machine under test (bench/e2e.py runs the emulator beside the App) on it.
For the same reason each payload is checked against GitHub's webhook schema (a check of the
emulator, which GitHub does not make) only when `schema_errors` is read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.emulator import render, sender
from tests.emulator.state import Delivery, Repo, Store
from tests.emulator.webhook_schema import validate_webhook

HOOK_ID = 109948940
USER_AGENT = "GitHub-Hookshot/a1b2c3d"
log = logging.getLogger(__name__)


def sign(secret: str, body: bytes, algo: str = "sha256") -> str:
    return f"{algo}=" + hmac.new(secret.encode(), body, getattr(hashlib, algo)).hexdigest()


def _validate(event: str, payload: dict) -> str | None:
    return validate_webhook(event, payload, app_delivery=True)


class Hooks:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emulator-hooks")
        self._schema_errors: list[str] = []
        self._unchecked: list[Delivery] = []  # emitted, not yet checked against the schema
        self._checking = threading.Lock()
        self.held: list[Delivery] | None = None  # parked deliveries while holding
        self._rendered: dict[int, tuple[bytes, dict[str, str]]] = {}  # parked: body, headers

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def envelope(self, repo: Repo | None, sender: str, **fields: object) -> dict:
        """A payload with the common keys GitHub adds to every repository event."""
        s = self.store
        payload = dict(fields)
        if repo is not None:
            payload["repository"] = render.repository(s, repo, full=False)
            if repo.owner in s.orgs:
                payload["organization"] = render.organization(s, repo.owner)
            inst = s.installation_for(repo.full_name)
            if inst is not None:
                payload["installation"] = {
                    "id": inst.id,
                    "node_id": render.node_id("Installation", inst.id),
                }
        payload["sender"] = render.user(s, sender)
        return payload

    def emit(self, event: str, payload: dict) -> Delivery:
        """Record a delivery (caller holds the lock) and queue it for the hook thread.

        Never wait here: the hook thread takes the lock to record the App's answer."""
        s = self.store
        repo = payload.get("repository") or {}
        d = Delivery(
            id=s.next_id() * 1000 + 7,
            guid=str(uuid.uuid4()),
            event=event,
            action=payload.get("action"),
            payload=payload,
            installation_id=(payload.get("installation") or {}).get("id"),
            repository_id=repo.get("id"),
        )
        s.deliveries.append(d)
        with self._checking:
            self._unchecked.append(d)
        if self.held is not None:
            self.held.append(d)
            self._rendered[d.id] = self._request(d)
        else:
            self.pool.submit(self._send, d)
        return d

    @property
    def schema_errors(self) -> list[str]:
        """How each delivery emitted so far departs from GitHub's webhook schema."""
        with self._checking:
            unchecked, self._unchecked = self._unchecked, []
            for d in unchecked:
                error = _validate(d.event, d.payload)
                if error:
                    self._schema_errors.append(f"{d.event}.{d.action}: {error}")
            return list(self._schema_errors)

    def hold(self) -> None:
        """Park deliveries from now on (caller holds the store lock)."""
        if self.held is None:
            self.held = []

    def release(self) -> int:
        """Stop holding and send every parked delivery at once (caller holds the store
        lock; `drain()` waits until they all landed). Returns how many were parked."""
        held, self.held = self.held or [], None
        if held:
            self.pool.submit(self._burst, held)
        return len(held)

    def _burst(self, held: list[Delivery]) -> None:
        self._send(*held)

    def redeliver(self, original: Delivery) -> Delivery:
        s = self.store
        d = Delivery(
            id=s.next_id() * 1000 + 7,
            guid=original.guid,
            event=original.event,
            action=original.action,
            payload=original.payload,
            installation_id=original.installation_id,
            repository_id=original.repository_id,
            redelivery=True,
        )
        s.deliveries.append(d)
        self.pool.submit(self._send, d)
        return d

    def drain(self) -> None:
        """Wait for every delivery queued so far."""
        self.pool.submit(lambda: None).result(timeout=60)

    def _request(self, d: Delivery) -> tuple[bytes, dict[str, str]]:
        """The delivery's body and headers, signed with the App's webhook secret."""
        s = self.store
        body = json.dumps(d.payload).encode()
        return body, {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-GitHub-Event": d.event,
            "X-GitHub-Delivery": d.guid,
            "X-GitHub-Hook-ID": str(HOOK_ID),
            "X-GitHub-Hook-Installation-Target-ID": str(s.app.id),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-Hub-Signature": sign(s.app.webhook_secret, body, "sha1"),
            "X-Hub-Signature-256": sign(s.app.webhook_secret, body),
        }

    def _send(self, *ds: Delivery) -> None:
        """POST the deliveries, all at once (tests.emulator.sender), and record the answers."""
        s = self.store
        url = s.webhook_url
        with s.lock:
            rendered = [self._rendered.pop(d.id, None) for d in ds]
        requests = [r or self._request(d) for d, r in zip(ds, rendered, strict=True)]
        for d in ds:
            d.sent_at = time.time()
        if url:
            answers = sender.post_all(url, requests, timeout=30.0)
        else:
            answers = [((0, "no webhook URL configured"), 0.0)] * len(ds)
        with s.lock:
            for d, ((code, text), took) in zip(ds, answers, strict=True):
                d.duration = round(took, 3)
                d.status_code = code
                d.status = "OK" if 200 <= code < 300 else f"Invalid HTTP Response: {code}"
                d.response = text[:2000]

"""The audit trail: an append-only Redis stream of what happened and why."""

from __future__ import annotations

import json
import time
from typing import Any

import orjson
import redis

STREAM = "shipcrew:audit"
MAXLEN = 1_000_000


class AuditTrail:
    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    def record(self, kind: str, pipeline: Any = None, **fields: Any) -> None:
        entry = {"kind": kind, "at": time.time(), **fields}
        target = pipeline if pipeline is not None else self.conn
        target.xadd(STREAM, {"entry": json.dumps(entry, default=str)}, maxlen=MAXLEN,
                    approximate=True)

    @staticmethod
    def command(kind: str, **fields: Any) -> tuple[Any, ...]:
        """`record` as the raw XADD command, for a caller that sends it itself (app.intake's
        script); fields must be JSON values."""
        entry = {"kind": kind, "at": time.time(), **fields}
        return ("XADD", STREAM, "MAXLEN", "~", MAXLEN, "*", "entry", orjson.dumps(entry))

    def entries(self, *, kind: str | None = None, repo: str | None = None,
                count: int = 100) -> list[dict[str, Any]]:
        """Newest first, filtered; scans at most 50x `count` entries."""
        out: list[dict[str, Any]] = []
        rows: list[tuple[bytes, dict[bytes, bytes]]] = self.conn.xrevrange(  # type: ignore[assignment]
            STREAM, count=count * 50)
        for _id, data in rows:
            entry = json.loads(data[b"entry"])
            if (kind is None or entry.get("kind") == kind) and (
                repo is None or entry.get("repo") == repo
            ):
                out.append(entry)
                if len(out) >= count:
                    break
        return out

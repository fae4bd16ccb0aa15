"""Release state in Redis: pending gates, approvals, waivers, decisions, deployment history.

One `GateStore` per repository. Values are pydantic models stored as JSON, so what the
release manager reads back is exactly what it wrote. Keys lower-case the repository name
(GitHub names are case-insensitive). GitHub waits up to 30 days on a protection rule, so a
pending gate lives that long; approvals, waivers and decisions a little longer, so `/crew why`
can still explain a release decided at the end of that window.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

import redis
from pydantic import AwareDatetime, BaseModel

from jobs.release.gates import Approval, Waiver
from jobs.release.history import DeploymentRecord

PREFIX = "shipcrew"
GATE_TTL = 30 * 24 * 3600
RECORD_TTL = 90 * 24 * 3600
HISTORY_MAX = 500  # deployments kept per repository
DECISIONS_MAX = 50  # decisions kept per pull request
MAX_REPORTS = 10  # GitHub's limit on status reports per deployment


def clock() -> datetime:
    """The release manager's idea of now; end-to-end tests replace this one function."""
    return datetime.now(UTC)


class PendingGate(BaseModel):
    """A deployment GitHub asked us about and we have not answered yet."""

    installation_id: int
    repo: str
    run_id: int
    environment: str
    sha: str
    ref: str = ""
    pull_numbers: list[int] = []
    deployment_id: int | None = None  # the deployment GitHub created for this run
    created_at: AwareDatetime
    reports: int = 0  # status reports posted so far (GitHub allows MAX_REPORTS)
    last_report: str = ""  # the last report's text: an identical one is not posted again


class Push(BaseModel):
    """A head of a pull request, from `pull_request.opened|reopened|synchronize`: who made it
    the head (the event's sender, not commit metadata, which anyone can write) and when
    (GitHub's `pull_request.updated_at` at that event)."""

    sha: str
    by: str
    at: AwareDatetime


class GatedDeployment(BaseModel):
    """A deployment our gate approved: only its statuses from the deploying workflow count."""

    deployment_id: int
    run_id: int
    environment: str
    sha: str


class DecisionRecord(BaseModel):
    environment: str
    sha: str
    state: Literal["approved", "rejected", "pending"]
    reasons: list[str]
    at: AwareDatetime
    run_id: int | None = None
    trigger: str = ""


class GateStore:
    def __init__(self, conn: redis.Redis, repo: str) -> None:
        self.conn = conn
        self.full_name = repo
        self.repo = repo.lower()

    def _key(self, *parts: object) -> str:
        return ":".join([PREFIX, str(parts[0]), self.repo, *(str(p) for p in parts[1:])])

    # --- pending gates ------------------------------------------------------------------------

    def _gate_key(self, run_id: int, environment: str) -> str:
        return self._key("gate", run_id, environment.lower())

    def save_gate(self, gate: PendingGate) -> None:
        key, index = self._gate_key(gate.run_id, gate.environment), self._key("gates")
        with self.conn.pipeline() as pipe:
            pipe.set(key, gate.model_dump_json(), ex=GATE_TTL)
            pipe.sadd(index, key)
            pipe.expire(index, GATE_TTL)
            pipe.execute()

    def gate(self, run_id: int, environment: str) -> PendingGate | None:
        raw = self.conn.get(self._gate_key(run_id, environment))
        return PendingGate.model_validate_json(raw) if raw else None

    def gates(self, sha: str | None = None, environment: str | None = None) -> list[PendingGate]:
        """Pending gates of the repository, optionally for one SHA and/or environment."""
        index = self._key("gates")
        keys = sorted(k.decode() if isinstance(k, bytes) else str(k)
                      for k in self.conn.smembers(index))
        out: list[PendingGate] = []
        for key, raw in zip(keys, self.conn.mget(keys) if keys else [], strict=True):
            if raw is None:  # expired: GitHub has given up on it too
                self.conn.srem(index, key)
                continue
            gate = PendingGate.model_validate_json(raw)
            if (sha is None or gate.sha == sha) and (
                environment is None or gate.environment.lower() == environment.lower()
            ):
                out.append(gate)
        return out

    def drop_gate(self, gate: PendingGate) -> None:
        key = self._gate_key(gate.run_id, gate.environment)
        with self.conn.pipeline() as pipe:
            pipe.delete(key)
            pipe.srem(self._key("gates"), key)
            pipe.execute()

    # --- approvals and waivers, per pull request ----------------------------------------------

    def _append(self, key: str, value: BaseModel, keep: int | None = None) -> None:
        with self.conn.pipeline() as pipe:
            pipe.rpush(key, value.model_dump_json())
            if keep:
                pipe.ltrim(key, -keep, -1)
            pipe.expire(key, RECORD_TTL)
            pipe.execute()

    def _read(self, keys: Iterable[str]) -> list[Any]:
        out: list[Any] = []
        for key in keys:
            out.extend(self.conn.lrange(key, 0, -1))
        return out

    def add_approval(self, number: int, approval: Approval) -> None:
        self._append(self._key("approvals", number), approval)

    def approvals(self, numbers: Iterable[int]) -> list[Approval]:
        raw = self._read(self._key("approvals", n) for n in set(numbers))
        return [Approval.model_validate_json(r) for r in raw]

    def add_waiver(self, number: int, waiver: Waiver) -> None:
        self._append(self._key("waivers", number), waiver)

    def waivers(self, numbers: Iterable[int]) -> list[Waiver]:
        raw = self._read(self._key("waivers", n) for n in set(numbers))
        return [Waiver.model_validate_json(r) for r in raw]

    def add_push(self, number: int, push: Push) -> None:
        self._append(self._key("pushes", number), push, keep=HISTORY_MAX)

    def pushes(self, numbers: Iterable[int]) -> list[Push]:
        raw = self._read(self._key("pushes", n) for n in set(numbers))
        return sorted((Push.model_validate_json(r) for r in raw), key=lambda p: p.at)

    def claim_comment(self, comment_id: int, delivery_id: str) -> bool:
        """True for the first delivery of a comment (and that delivery's retries): a comment
        is acted on once, whatever delivery id it arrives under again."""
        key = self._key("comment", comment_id)
        if self.conn.set(key, delivery_id, nx=True, ex=RECORD_TTL):
            return True
        held = self.conn.get(key)
        return (held.decode() if isinstance(held, bytes) else str(held)) == delivery_id

    # --- decisions ----------------------------------------------------------------------------

    def add_decision(self, numbers: Iterable[int], decision: DecisionRecord) -> None:
        for number in set(numbers):
            self._append(self._key("decisions", number), decision, keep=DECISIONS_MAX)
        self.conn.set(self._key("decision", decision.environment.lower(), decision.sha),
                      decision.model_dump_json(), ex=RECORD_TTL)

    def decisions(self, number: int) -> list[DecisionRecord]:
        """Oldest first."""
        return [DecisionRecord.model_validate_json(r)
                for r in self._read([self._key("decisions", number)])]

    def last_decision(self, environment: str, sha: str) -> DecisionRecord | None:
        raw = self.conn.get(self._key("decision", environment.lower(), sha))
        return DecisionRecord.model_validate_json(raw) if raw else None

    # --- deployment history -------------------------------------------------------------------

    def add_gated(self, gated: GatedDeployment) -> None:
        self.conn.set(self._key("gated", gated.deployment_id), gated.model_dump_json(),
                      ex=RECORD_TTL)

    def gated(self, deployment_id: int) -> GatedDeployment | None:
        raw = self.conn.get(self._key("gated", deployment_id))
        return GatedDeployment.model_validate_json(raw) if raw else None

    def add_deployment(self, record: DeploymentRecord) -> None:
        key = self._key("deployments")
        with self.conn.pipeline() as pipe:
            pipe.rpush(key, record.model_dump_json())
            pipe.ltrim(key, -HISTORY_MAX, -1)
            pipe.execute()

    def history(self) -> list[DeploymentRecord]:
        return [DeploymentRecord.model_validate_json(r)
                for r in self._read([self._key("deployments")])]

    # --- odds and ends ------------------------------------------------------------------------

    def policy_verdict(self, sha: str) -> dict[str, Any] | None:
        """What the auditor recorded for `sha`: {"verdict", "failures": [rule ids]}."""
        # The auditor keys by the name as GitHub spells it; accept the lower-cased one too.
        raw = self.conn.get(f"{PREFIX}:verdict:{self.full_name}:{sha}") or self.conn.get(
            f"{PREFIX}:verdict:{self.repo}:{sha}")
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def reply_id(self, comment_id: int, line: int) -> int | None:
        raw = self.conn.get(self._key("reply", comment_id, line))
        return int(raw) if raw else None

    def set_reply_id(self, comment_id: int, line: int, reply_id: int) -> None:
        self.conn.set(self._key("reply", comment_id, line), reply_id, ex=RECORD_TTL)

    def once(self, *parts: object, ttl: int = RECORD_TTL, holder: str | None = None) -> bool:
        """True the first time it is called with these parts: guards actions that must not
        repeat (a rollback for one failed deployment), whatever redelivers the event. With
        `holder` (a job id) also true again for that holder: a retry of the job that claimed
        the action carries on with it (its own steps must then be idempotent)."""
        key = self._key("once", *parts)
        if self.conn.set(key, holder or "", nx=True, ex=ttl):
            return True
        return bool(holder) and self.conn.get(key) == str(holder).encode()

"""GateStore against a real Redis: what is written is read back, scoped and bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from jobs.release.gates import Approval, Waiver
from jobs.release.history import DeploymentRecord
from jobs.release.store import (
    GATE_TTL,
    HISTORY_MAX,
    DecisionRecord,
    GateStore,
    PendingGate,
)

T = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def gate(run_id: int, env: str, sha: str = "a" * 40) -> PendingGate:
    return PendingGate(installation_id=1, repo="Octo/Shop", run_id=run_id, environment=env,
                       sha=sha, created_at=T)


def test_pending_gates_by_sha_and_environment(redis_conn: redis.Redis) -> None:
    store = GateStore(redis_conn, "Octo/Shop")
    store.save_gate(gate(1, "staging"))
    store.save_gate(gate(2, "Production"))
    store.save_gate(gate(3, "production", sha="b" * 40))
    assert [g.run_id for g in store.gates(sha="a" * 40)] == [1, 2]
    assert [g.run_id for g in store.gates(environment="PRODUCTION")] == [2, 3]
    assert store.gate(2, "production") == gate(2, "Production")
    assert 0 < redis_conn.ttl("shipcrew:gate:octo/shop:1:staging") <= GATE_TTL
    # Another repository sees none of them; the same one in other case sees all.
    assert GateStore(redis_conn, "octo/other").gates() == []
    assert len(GateStore(redis_conn, "octo/shop").gates()) == 3
    store.drop_gate(gate(1, "staging"))
    assert [g.run_id for g in store.gates()] == [2, 3]


def test_expired_gates_leave_the_index(redis_conn: redis.Redis) -> None:
    store = GateStore(redis_conn, "o/r")
    store.save_gate(gate(1, "staging"))
    redis_conn.delete("shipcrew:gate:o/r:1:staging")  # what the TTL does after 30 days
    assert store.gates() == []
    assert redis_conn.smembers("shipcrew:gates:o/r") == set()


def test_approvals_waivers_decisions_per_pull_request(redis_conn: redis.Redis) -> None:
    store = GateStore(redis_conn, "o/r")
    a = Approval(user="maya", environment="production", permission="maintain", at=T, sha="a")
    store.add_approval(7, a)
    store.add_waiver(7, Waiver(rule="GHA001", user="maya", reason="legacy", at=T))
    assert store.approvals([7, 8]) == [a] and store.approvals([8]) == []
    assert [w.rule for w in store.waivers([7])] == ["GHA001"]
    for i, state in enumerate(("pending", "approved")):
        store.add_decision([7, 9], DecisionRecord(environment="production", sha="a", state=state,
                                                  reasons=[], at=T + timedelta(minutes=i)))
    assert [d.state for d in store.decisions(7)] == ["pending", "approved"]
    assert [d.state for d in store.decisions(9)] == ["pending", "approved"]
    last = store.last_decision("PRODUCTION", "a")
    assert last is not None and last.state == "approved"
    assert store.last_decision("staging", "a") is None


def test_history_is_bounded_and_ordered(redis_conn: redis.Redis) -> None:
    store = GateStore(redis_conn, "o/r")
    for i in range(HISTORY_MAX + 5):
        store.add_deployment(DeploymentRecord(environment="staging", sha=f"{i:040d}",
                                              state="success", at=T + timedelta(minutes=i)))
    history = store.history()
    assert len(history) == HISTORY_MAX
    assert history[0].sha == f"{5:040d}" and history[-1].sha == f"{HISTORY_MAX + 4:040d}"


def test_policy_verdict_reads_the_auditor_record(redis_conn: redis.Redis) -> None:
    store = GateStore(redis_conn, "Octo/Shop")
    assert store.policy_verdict("s") is None
    redis_conn.set("shipcrew:verdict:Octo/Shop:s", '{"verdict": "fail", "failures": ["K8S001"]}')
    assert store.policy_verdict("s") == {"verdict": "fail", "failures": ["K8S001"]}
    redis_conn.set("shipcrew:verdict:Octo/Shop:t", "not json")
    assert store.policy_verdict("t") is None


def test_once_and_reply_ids(redis_conn: redis.Redis) -> None:
    store = GateStore(redis_conn, "o/r")
    assert store.once("rollback", 42) and not store.once("rollback", 42)
    assert store.once("rollback", 43)
    # the job that claimed an action may carry on with it when retried; nobody else may
    assert store.once("rollback", 44, holder="job-a") and store.once("rollback", 44, holder="job-a")
    assert not store.once("rollback", 44, holder="job-b") and not store.once("rollback", 44)
    assert not store.once("rollback", 42, holder="1") and not store.once("rollback", 42, holder="")
    assert store.reply_id(5, 1) is None
    store.set_reply_id(5, 1, 99)
    assert store.reply_id(5, 1) == 99 and store.reply_id(5, 2) is None

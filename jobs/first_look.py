"""Many first looks at once (issue 16): a first-look job (`jobs.planner.open_checks`) also does
the first looks still waiting on the urgent queue, a few at a time, concurrently.

Nothing is taken off the queue. A first look is claimed (`CLAIM`, naming the claiming job and
its worker) before anyone does it, by its own job or by another first-look job (the leader);
the leader does it as that job (same job id: the check runs' idempotency in app.checks is the
job's), then leaves the claim as a marker that it is done (`mark_done`: no other leader takes
it up again). When the job itself runs later it finds its plan enqueued and returns at once.
A job whose first look is claimed by another waits until the claim is released (or its
holder's worker is no longer alive: killed), then does whatever is left (a run that landed is
found by its external_id, not opened twice). A first look that fails in the leader is
released untouched: its own job does it, with its own retries. A leader keeps `CONCURRENCY`
first looks under way, filling slots as they free (no batch waits for its slowest).
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import redis
from redis.client import Pipeline
from rq.job import Job, _current_job

from app.maintenance import ALIVE
from app.queue import Urgency, job_id_for

log = logging.getLogger(__name__)
SUFFIX = job_id_for("", "open-checks")  # "--open-checks"
CLAIM = "shipcrew:first-look:{job}"
CLAIM_TTL = 600  # a leader's first look is bounded by GitHub's timeouts, far below this
CONCURRENCY = 6  # first looks of others one leader does at once (each one POST or two)
REFILL = 2  # free slots a leader fills again at once (each fill: three Redis round trips)
MAX_PER_JOB = 60  # then the leader's own job ends; another first look leads on
DONE_TTL = 300  # a done first look's marker; its job finds the plan enqueued before that
WAIT_STEP = 0.01
SCAN = 400  # newest urgent-queue entries a leader looks through for waiting first looks
# KEYS[1]: the urgent queue. ARGV: job id suffix, leader's job id, its holder value, TTL,
# limit, scan, claim key prefix, then the ids the leader tried already.
_CLAIM_WAITING = """
local suffix, leader, holder, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local limit, prefix = tonumber(ARGV[5]), ARGV[7]
local skip = {}
for i = 8, #ARGV do skip[ARGV[i]] = true end
local ids = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[6]), -1)
local got = {}
for i = #ids, 1, -1 do
  if #got >= limit then break end
  local id = ids[i]
  if id ~= leader and not skip[id] and string.sub(id, -string.len(suffix)) == suffix then
    if redis.call('SET', prefix .. id, holder, 'NX', 'EX', ttl) then got[#got + 1] = id end
  end
end
return got
"""
_CLAIM_WAITING_SHA = hashlib.sha1(_CLAIM_WAITING.encode()).hexdigest()
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()

FirstLook = Callable[[dict[str, Any]], dict[str, Any]]


def _holder(job: Job) -> str:
    return f"{job.id}|{job.worker_name or ''}"


def claim(conn: redis.Redis, job_id: str, by: Job) -> bool:
    """Claim the first look of `job_id` for the job `by`; True also when `by` holds it (a
    retry of the job that claimed it)."""
    key = CLAIM.format(job=job_id)
    if conn.set(key, _holder(by), nx=True, ex=CLAIM_TTL):
        return True
    raw = conn.get(key)
    held = raw.decode() if isinstance(raw, bytes) else (raw or "")
    if held.partition("|")[0] == by.id:
        conn.set(key, _holder(by), ex=CLAIM_TTL)
        return True
    return False


def release(conn: redis.Redis, job_id: str, by: Job) -> None:
    conn.eval(_RELEASE, 1, CLAIM.format(job=job_id), _holder(by))


def _holder_alive(conn: redis.Redis, held: str) -> bool:
    worker = held.partition("|")[2]
    return bool(worker) and bool(conn.exists(ALIVE.format(name=worker)))


def wait_for_claim(conn: redis.Redis, job: Job, done: Callable[[], bool],
                   meanwhile: Callable[[], int]) -> bool:
    """Until this job's first look is no longer claimed by another: False when it was done
    meanwhile (`done()`), True once this job holds the claim. A claim whose holder's worker
    is no longer alive is taken over. While it waits it does other first looks
    (`meanwhile()`, how many it did), and sleeps only when there are none."""
    key = CLAIM.format(job=job.id)
    while True:
        if done():
            return False
        if claim(conn, job.id, job):
            return True
        raw = conn.get(key)
        held = raw.decode() if isinstance(raw, bytes) else (raw or "")
        if held and not _holder_alive(conn, held):
            conn.eval(_RELEASE, 1, key, held)  # its leader was killed: this job does it
            continue
        if not meanwhile():
            time.sleep(WAIT_STEP)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=CONCURRENCY,
                                       thread_name_prefix="shipcrew-first-look")
        return _pool


def _as(peer: Job, first_look: FirstLook) -> dict[str, Any]:
    """Run inside a copy of the leader's context (its open GitHub clients) as `peer`, so
    app.checks records the peer's runs under the peer's job id."""
    token = _current_job.set(peer)
    try:
        return first_look(dict(peer.kwargs))
    finally:
        _current_job.reset(token)


def _candidates(conn: redis.Redis, leader: Job, limit: int, tried: set[str]) -> list[str]:
    """Up to `limit` first looks waiting on the urgent queue, newest first, that no one has
    claimed (done ones keep their marker) and `leader` has not `tried` (one that failed here
    is left to its own job), claimed for `leader`: one round trip (`_CLAIM_WAITING`) over the
    newest `SCAN` entries of the queue."""
    key = f"rq:queue:{Urgency.URGENT.value}"
    args: list[str | int] = [SUFFIX, leader.id, _holder(leader), CLAIM_TTL, limit, SCAN,
                             CLAIM.format(job=""), *sorted(tried)]
    try:
        got = conn.evalsha(_CLAIM_WAITING_SHA, 1, key, *args)
    except redis.exceptions.NoScriptError:
        got = conn.eval(_CLAIM_WAITING, 1, key, *args)
    return [g.decode() if isinstance(g, bytes) else str(g) for g in got or []]


def mark_done(conn: redis.Redis | Pipeline, job_id: str, by: Job) -> None:
    """The leader did `job_id`'s first look: its claim becomes a marker no other leader takes
    (it would only find the plan enqueued), held by no worker, so that should the job itself
    find it (its plan gone already) it takes it over at once."""
    conn.set(CLAIM.format(job=job_id), f"{by.id}|", ex=DONE_TTL)


def lead(conn: redis.Redis, leader: Job, first_look: FirstLook,
         warm: Callable[[int], Any], tried: set[str]) -> int:
    """Do the waiting first looks of other deliveries, up to `CONCURRENCY` at a time (a slot
    that frees is filled again, a few at once), until none is left (or `MAX_PER_JOB` were
    `tried`, which it adds to); returns how many were done. `warm(installation)` opens the
    installation's client in this thread first, so the peers share it. Never raises."""
    running: dict[Future[dict[str, Any]], str] = {}
    warmed: set[int] = set()
    count = 0
    try:
        while True:
            free, left = CONCURRENCY - len(running), MAX_PER_JOB - len(tried)
            if left > 0 and free >= (1 if not running else REFILL):
                ids = _candidates(conn, leader, min(free, left), tried)
                tried.update(ids)
                running.update(_start(conn, leader, ids, first_look, warm, warmed))
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            count += _settle(conn, leader, {f: running.pop(f) for f in finished})
    except Exception as exc:  # noqa: BLE001 - the leader's own first look is done already
        log.warning("could not do the waiting first looks: %s", exc)
    if running:  # after an error: those under way end first, then their claims are settled
        wait(running)
        try:
            count += _settle(conn, leader, running)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not settle the first looks under way: %s", exc)
    return count


def _start(conn: redis.Redis, leader: Job, ids: list[str], first_look: FirstLook,
           warm: Callable[[int], Any], warmed: set[int]) -> dict[Future[dict[str, Any]], str]:
    """Submit the claimed first looks `ids`; those it cannot (their job is gone, or their
    installation's client could not be opened) are released."""
    if not ids:
        return {}
    try:
        peers = [j for j in Job.fetch_many(ids, connection=conn) if j is not None]
        for inst in {int(p.kwargs["installation_id"]) for p in peers} - warmed:
            warm(inst)
            warmed.add(inst)
    except Exception:
        for job_id in ids:
            release(conn, job_id, leader)
        raise
    for gone in set(ids) - {p.id for p in peers}:
        release(conn, gone, leader)
    return {_executor().submit(contextvars.copy_context().run, _as, p, first_look): p.id
            for p in peers}


def _settle(conn: redis.Redis, leader: Job, finished: dict[Future[dict[str, Any]], str]) -> int:
    """Mark the finished first looks done, or release those that failed (their own job does
    them, with its own retries); how many were done."""
    ok = []
    for future, job_id in finished.items():
        exc = future.exception()
        if exc is None:
            ok.append(job_id)
        else:
            log.info("first look of %s left to its own job: %s", job_id, exc)
            release(conn, job_id, leader)
    if ok:
        with conn.pipeline(transaction=False) as pipe:
            for job_id in ok:
                mark_done(pipe, job_id, leader)
            pipe.execute()
    return len(ok)

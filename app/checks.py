"""Check runs as GitHub accepts them: at most 50 annotations per request, output text
within 65,535 characters, at most 3 requested actions with GitHub's label limits."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from githubkit import GitHub
from rq import get_current_job
from rq.job import Job

MAX_ANNOTATIONS_PER_REQUEST = 50
MAX_OUTPUT_CHARS = 65_535
MAX_ACTIONS = 3
_OPEN = "shipcrew:open-check:{job}"
_CREATING = "shipcrew:created-checks:{job}"  # "name@sha" -> run id, "?<external_id>" (or
_IN_FLIGHT = "?"  # "" before) while the POST is in flight
_OPEN_TTL = 7 * 24 * 3600
OPEN_INDEX = "shipcrew:open-checks"  # JSON of the job an open run awaits -> when (app.sweep)
_TRUNCATED = "\n\n… (truncated: GitHub keeps at most 65,535 characters)"

Level = Literal["notice", "warning", "failure"]
Conclusion = Literal["success", "failure", "neutral", "action_required", "cancelled",
                     "skipped", "timed_out"]


@dataclass(frozen=True)
class Annotation:
    path: str
    line: int
    level: Level
    message: str
    title: str = ""

    def body(self) -> dict[str, Any]:
        line = max(1, self.line)
        out: dict[str, Any] = {"path": self.path, "start_line": line, "end_line": line,
                               "annotation_level": self.level, "message": self.message[:64_000]}
        if self.title:
            out["title"] = self.title[:255]
        return out


@dataclass(frozen=True)
class Action:
    label: str  # ≤ 20 characters
    description: str  # ≤ 40 characters
    identifier: str  # ≤ 20 characters

    def body(self) -> dict[str, str]:
        return {"label": self.label[:20], "description": self.description[:40],
                "identifier": self.identifier[:20]}


def fit(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return text[: MAX_OUTPUT_CHARS - len(_TRUNCATED)] + _TRUNCATED


def _job() -> Job | None:
    return get_current_job()


def job_external_id(external_id: str | None, job: Job) -> str:
    """A check run's external_id names the job that made it, after the caller's own id."""
    return f"{external_id};job={job.id}" if external_id else job.id


def job_of(external_id: str) -> str:
    return external_id.rpartition(";job=")[2]


def find_run(gh: GitHub[Any], owner: str, repo: str, *, name: str | None, head_sha: str,
             external_id: str) -> dict[str, Any] | None:
    """Our run on `head_sha` carrying `external_id` (one an earlier attempt created)."""
    params: dict[str, Any] = {"per_page": 100, "filter_": "all"}
    if name:
        params["check_name"] = name
    found: Any = gh.rest.checks.list_for_ref(owner, repo, head_sha, **params).json()
    return next((r for r in found.get("check_runs", [])
                 if r.get("external_id") == external_id), None)


def _create_once(gh: GitHub[Any], owner: str, repo: str, data: dict[str, Any], *,
                 open_key: str | None = None, reopen: bool = True) -> int:
    """Create a check run, or inside a job find the one an earlier attempt of the job
    created: the attempt is noted in Redis before the POST, so a worker dying right after
    it costs one look-up on the retry, not a second run. `open_key` is set to the run's id
    together with that note (one step, so no window leaves the run unrecorded there);
    `reopen=False` leaves a found run as it is instead of updating it with `data`."""
    job = _job()
    if job is None:
        return int(gh.rest.checks.create(owner, repo, data=data).parsed_data.id)  # type: ignore[call-overload]
    key, field = _CREATING.format(job=job.id), f"{data['name']}@{data['head_sha']}"
    known = job.connection.hget(key, field)
    if known is not None and _in_flight(known):  # an earlier attempt got as far as the POST
        run = find_run(gh, owner, repo, name=data["name"], head_sha=data["head_sha"],
                       external_id=data["external_id"])
        known = str(run["id"]).encode() if run is not None else None
    if known:
        _record(job, key, field, int(known), open_key)
        if reopen:
            body = {k: v for k, v in data.items() if k not in ("head_sha", "external_id")}
            gh.rest.checks.update(owner, repo, int(known), data=body)  # type: ignore[call-overload]
        return int(known)
    with job.connection.pipeline() as pipe:
        pipe.hset(key, field, _IN_FLIGHT + data["external_id"])
        pipe.expire(key, _OPEN_TTL)
        pipe.execute()
    run_id = int(gh.rest.checks.create(owner, repo, data=data).parsed_data.id)  # type: ignore[call-overload]
    _record(job, key, field, run_id, open_key)
    return run_id


def _in_flight(value: bytes | str) -> bool:
    text = value.decode() if isinstance(value, bytes) else value
    return text == "" or text.startswith(_IN_FLIGHT)


def _record(job: Job, key: str, field: str, run_id: int, open_key: str | None) -> None:
    with job.connection.pipeline() as pipe:
        pipe.hset(key, field, run_id)
        if open_key is not None:
            pipe.set(open_key, run_id, ex=_OPEN_TTL)
            _index_open(pipe, job.id)
        pipe.execute()


def _index_open(pipe: Any, job_id: str) -> None:
    """Note, inside a PR's job, that a run is open for `job_id` (the current job or the one it
    opens a queued run for): app.sweep completes it should that job end without doing so."""
    job = _job()
    if job is None or not job.kwargs.get("installation_id") or not job.kwargs.get("repo"):
        return
    entry = {"job": job_id, "by": job.id, "installation": int(job.kwargs["installation_id"]),
             "repo": str(job.kwargs["repo"]), "number": job.kwargs.get("number")}
    pipe.zadd(OPEN_INDEX, {json.dumps(entry, sort_keys=True): time.time()}, nx=True)


def _completed(job: Job, field: str, run_id: int) -> None:
    """The job's open run is complete: no longer open, but remembered as the job's run of
    that name on that head, so a retry (its worker died after this, or Retry) reuses it."""
    with job.connection.pipeline() as pipe:
        pipe.hset(_CREATING.format(job=job.id), field, run_id)
        pipe.expire(_CREATING.format(job=job.id), _OPEN_TTL)
        pipe.delete(_OPEN.format(job=job.id))
        pipe.execute()


def unrecorded_runs(gh: GitHub[Any], owner: str, repo: str, job: Job) -> list[dict[str, Any]]:
    """The job's runs still open on GitHub that an attempt created without living to record
    them (it died, or lost Redis, between the POST and noting the id): the POSTs noted as in
    flight are looked up by name on their head, and a run counts when its external_id is the
    one the POST sent (a planner's queued run names the job it was opened for). Found runs
    are recorded, so a later attempt reuses them."""
    key = _CREATING.format(job=job.id)
    pending: dict[bytes, bytes] = job.connection.hgetall(key)  # type: ignore[assignment]
    found: list[dict[str, Any]] = []
    for raw, value in pending.items():
        if not _in_flight(value):
            continue
        sent = value.decode()[1:] or None
        field = raw.decode()
        name, _, head_sha = field.rpartition("@")
        listed: Any = gh.rest.checks.list_for_ref(owner, repo, head_sha, check_name=name,
                                                  per_page=100, filter_="all").json()
        for run in listed.get("check_runs", []):
            ours = str(run.get("external_id") or "")
            if (ours != sent) if sent else (job_of(ours) != job.id):
                continue
            job.connection.hset(key, field, run["id"])
            if run.get("status") != "completed":
                found.append(run)
    return found


def publish(
    gh: GitHub[Any], owner: str, repo: str, *, name: str, head_sha: str,
    conclusion: Conclusion, title: str, summary: str, text: str = "",
    annotations: Sequence[Annotation] = (), actions: Sequence[Action] = (),
    external_id: str | None = None, check_run_id: int | None = None,
) -> int:
    """Complete a check run (`check_run_id`, else a new one), sending annotations in batches
    of 50; returns its id."""
    batches = [list(annotations[i:i + MAX_ANNOTATIONS_PER_REQUEST])
               for i in range(0, len(annotations), MAX_ANNOTATIONS_PER_REQUEST)] or [[]]
    output: dict[str, Any] = {"title": title[:255], "summary": fit(summary)}
    if text:
        output["text"] = fit(text)
    data: dict[str, Any] = {
        "name": name, "head_sha": head_sha, "status": "completed", "conclusion": conclusion,
        "output": {**output, "annotations": [a.body() for a in batches[0]]},
    }
    if actions:
        data["actions"] = [a.body() for a in actions[:MAX_ACTIONS]]
    job = _job()
    if job is not None:
        data["external_id"] = job_external_id(external_id, job)
    elif external_id:
        data["external_id"] = external_id
    if check_run_id is None:
        run_id = _create_once(gh, owner, repo, data)
    else:
        run_id = check_run_id
        del data["head_sha"]
        data.pop("external_id", None)  # the run keeps the id it was opened with
        gh.rest.checks.update(owner, repo, run_id, data=data)  # type: ignore[call-overload]
        if job is not None:  # only now: a failed update leaves the run for close_orphan
            _completed(job, f"{name}@{head_sha}", run_id)
    for batch in batches[1:]:
        gh.rest.checks.update(owner, repo, run_id, data={  # type: ignore[call-overload]
            "output": {**output, "annotations": [a.body() for a in batch]}})
    return run_id


def start(gh: GitHub[Any], owner: str, repo: str, *, name: str, head_sha: str,
          title: str) -> int:
    """An in-progress check run, so people see the crew at work.

    Inside an RQ job, the run is remembered for the job: a retry of the job (same id) reuses
    it, and if the job fails for good `close_orphan` completes it as failed instead of
    leaving it spinning forever.
    """
    job = _job()
    data: dict[str, Any] = {"name": name, "head_sha": head_sha, "status": "in_progress",
                            "output": {"title": title, "summary": title}}
    if job is None:
        return _create_once(gh, owner, repo, data)
    if known := job.connection.get(_OPEN.format(job=job.id)):
        return int(known)
    data["external_id"] = job.id
    # a run of ours reopened by Retry, or new
    return _create_once(gh, owner, repo, data, open_key=_OPEN.format(job=job.id))


def open_queued(gh: GitHub[Any], conn: Any, job_id: str, owner: str, repo: str, *,
                name: str, head_sha: str, title: str, external_id: str | None = None) -> int:
    """A queued check run for a job about to be enqueued: people see it at once, and the
    job's `start`/`publish(check_run_id=opened_for_job())` takes it over (a job that fails
    for good closes it via `close_orphan`). It carries the external_id that job would give
    it. Called inside a job, a retry of the caller finds the run its earlier attempt opened
    and leaves it as it is (that job may have taken it over)."""
    data = {"name": name, "head_sha": head_sha, "status": "queued",
            "external_id": f"{external_id};job={job_id}" if external_id else job_id,
            "output": {"title": title, "summary": title}}
    run_id = _create_once(gh, owner, repo, data, reopen=False)
    with conn.pipeline() as pipe:
        pipe.set(_OPEN.format(job=job_id), run_id, ex=_OPEN_TTL)
        _index_open(pipe, job_id)
        pipe.execute()
    return run_id


def opened_for_job(job_id: str | None = None, conn: Any = None) -> int | None:
    """The run `open_queued` opened for the current job (or for `job_id`), if any."""
    if job_id is None:
        job = get_current_job()
        job_id, conn = (job.id, job.connection) if job is not None else (None, None)
    known = conn.get(_OPEN.format(job=job_id)) if job_id is not None else None
    return int(known) if known else None


def forget_opened(conn: Any, job_id: str) -> None:
    """The run opened for `job_id` is not that job's to complete (it was closed already)."""
    conn.delete(_OPEN.format(job=job_id))


RETRY = Action("Retry", "Run the failed job again", "retry")


def close_stale(gh: GitHub[Any], owner: str, repo: str, reason: str) -> int | None:
    """Inside a job that found its work stale: complete the run an earlier attempt opened
    (recorded, or found on GitHub when the attempt died before recording it) as skipped,
    saying why, instead of leaving it spinning."""
    job = _job()
    if job is None:
        return None
    raw = job.connection.get(_OPEN.format(job=job.id))
    ids = [int(raw)] if raw is not None else [
        int(r["id"]) for r in unrecorded_runs(gh, owner, repo, job)]
    for run_id in ids:
        gh.rest.checks.update(owner, repo, run_id, data={  # type: ignore[call-overload]
            "status": "completed", "conclusion": "skipped",
            "output": {"title": "Skipped: superseded", "summary": fit(reason)}})
    job.connection.delete(_OPEN.format(job=job.id))
    return ids[0] if ids else None


def close_orphan(gh_for: Callable[[int], GitHub[Any]], job: Job, error: str) -> int | None:
    """A dead letter: complete the run the job opened (or open one on its head) as failed,
    saying what failed, with a Retry button; returns its id. A run an attempt created
    without living to record it is found on GitHub (`unrecorded_runs`)."""
    installation, repo = job.kwargs.get("installation_id"), job.kwargs.get("repo")
    # A new run only for PR work: a run of ours re-triggers check_run-driven jobs.
    head_sha = job.kwargs.get("head_sha") if job.kwargs.get("number") else None
    raw = job.connection.getdel(_OPEN.format(job=job.id))
    in_flight = any(_in_flight(v) for v in job.connection.hvals(_CREATING.format(job=job.id)))
    if not installation or not repo or (raw is None and not head_sha and not in_flight):
        return None
    owner, name = str(repo).split("/", 1)
    what = job.id.rpartition("--")[2] or "job"
    data: dict[str, Any] = {
        "status": "completed", "conclusion": "failure", "actions": [RETRY.body()],
        "external_id": job.id,  # what Retry runs again (a queued run named the next job)
        "output": {"title": "shipcrew errored", "summary": fit(
            f"The `{what}` job (`{job.func_name}`, job `{job.id}`) stopped with an error and "
            "its retries are used up; nothing more was changed. Press **Retry** or comment "
            f"`/crew retry` to run it again.\n\n```\n{error}\n```")}}
    gh = gh_for(int(installation))
    ids = [int(raw)] if raw is not None else [
        int(r["id"]) for r in unrecorded_runs(gh, owner, name, job)]
    for run_id in ids:
        run: Any = gh.rest.checks.update(owner, name, run_id, data=data).json()  # type: ignore[call-overload]
        _completed(job, f"{run['name']}@{run['head_sha']}", run_id)
    if ids:
        return ids[0]
    if not head_sha:
        return None
    data.update(name=f"shipcrew / {what}"[:100], head_sha=head_sha)
    return int(gh.rest.checks.create(owner, name, data=data).parsed_data.id)  # type: ignore[call-overload]

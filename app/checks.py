"""Check runs as GitHub accepts them: at most 50 annotations per request, output text
within 65,535 characters, at most 3 requested actions with GitHub's label limits."""

from __future__ import annotations

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
_CREATING = "shipcrew:created-checks:{job}"  # "name@sha" -> run id ("" while creating)
_OPEN_TTL = 7 * 24 * 3600
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


def _create_once(gh: GitHub[Any], owner: str, repo: str, data: dict[str, Any]) -> int:
    """Create a check run, or inside a job find the one an earlier attempt of the job
    created: the attempt is noted in Redis before the POST, so a worker dying right after
    it costs one look-up on the retry, not a second run."""
    job = _job()
    if job is None:
        return int(gh.rest.checks.create(owner, repo, data=data).parsed_data.id)  # type: ignore[call-overload]
    key, field = _CREATING.format(job=job.id), f"{data['name']}@{data['head_sha']}"
    known = job.connection.hget(key, field)
    if known == b"":  # an earlier attempt got as far as the POST: did it land?
        run = find_run(gh, owner, repo, name=data["name"], head_sha=data["head_sha"],
                       external_id=data["external_id"])
        known = str(run["id"]).encode() if run is not None else None
    if known:
        job.connection.hset(key, field, known)
        body = {k: v for k, v in data.items() if k not in ("head_sha", "external_id")}
        gh.rest.checks.update(owner, repo, int(known), data=body)  # type: ignore[call-overload]
        return int(known)
    with job.connection.pipeline() as pipe:
        pipe.hset(key, field, "")
        pipe.expire(key, _OPEN_TTL)
        pipe.execute()
    run_id = int(gh.rest.checks.create(owner, repo, data=data).parsed_data.id)  # type: ignore[call-overload]
    job.connection.hset(key, field, run_id)
    return run_id


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
            job.connection.delete(_OPEN.format(job=job.id))
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
    run_id = _create_once(gh, owner, repo, data)  # a run of ours reopened by Retry, or new
    job.connection.set(_OPEN.format(job=job.id), run_id, ex=_OPEN_TTL)
    return run_id


def open_queued(gh: GitHub[Any], conn: Any, job_id: str, owner: str, repo: str, *,
                name: str, head_sha: str, title: str, external_id: str | None = None) -> int:
    """A queued check run for a job about to be enqueued: people see it at once, and the
    job's `start`/`publish(check_run_id=opened_for_job())` takes it over (a job that fails
    for good closes it via `close_orphan`). It carries the external_id that job would give
    it; created once per calling job (a retry finds it)."""
    data = {"name": name, "head_sha": head_sha, "status": "queued",
            "external_id": f"{external_id};job={job_id}" if external_id else job_id,
            "output": {"title": title, "summary": title}}
    run_id = _create_once(gh, owner, repo, data)
    conn.set(_OPEN.format(job=job_id), run_id, ex=_OPEN_TTL)
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
    as skipped, saying why, instead of leaving it spinning."""
    job = _job()
    raw = job.connection.get(_OPEN.format(job=job.id)) if job is not None else None
    if job is None or raw is None:
        return None
    gh.rest.checks.update(owner, repo, int(raw), data={  # type: ignore[call-overload]
        "status": "completed", "conclusion": "skipped",
        "output": {"title": "Skipped: superseded", "summary": fit(reason)}})
    job.connection.delete(_OPEN.format(job=job.id))
    return int(raw)


def close_orphan(gh_for: Callable[[int], GitHub[Any]], job: Job, error: str) -> int | None:
    """A dead letter: complete the run the job opened (or open one on its head) as failed,
    saying what failed, with a Retry button; returns its id."""
    installation, repo = job.kwargs.get("installation_id"), job.kwargs.get("repo")
    # A new run only for PR work: a run of ours re-triggers check_run-driven jobs.
    head_sha = job.kwargs.get("head_sha") if job.kwargs.get("number") else None
    raw = job.connection.getdel(_OPEN.format(job=job.id))
    if not installation or not repo or (raw is None and not head_sha):
        return None
    owner, name = str(repo).split("/", 1)
    what = job.id.rpartition("--")[2] or "job"
    data: dict[str, Any] = {
        "status": "completed", "conclusion": "failure", "actions": [RETRY.body()],
        "output": {"title": "shipcrew errored", "summary": fit(
            f"The `{what}` job (`{job.func_name}`, job `{job.id}`) stopped with an error and "
            "its retries are used up; nothing more was changed. Press **Retry** or comment "
            f"`/crew retry` to run it again.\n\n```\n{error}\n```")}}
    gh = gh_for(int(installation))
    if raw is not None:
        gh.rest.checks.update(owner, name, int(raw), data=data)  # type: ignore[call-overload]
        return int(raw)
    data.update(name=f"shipcrew / {what}"[:100], head_sha=head_sha, external_id=job.id)
    return int(gh.rest.checks.create(owner, name, data=data).parsed_data.id)  # type: ignore[call-overload]

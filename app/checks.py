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
    if external_id:
        data["external_id"] = external_id
    if check_run_id is not None and (job := get_current_job()) is not None:
        job.connection.delete(_OPEN.format(job=job.id))
    if check_run_id is None:
        run_id = int(gh.rest.checks.create(owner, repo, data=data).parsed_data.id)  # type: ignore[call-overload]
    else:
        run_id = check_run_id
        del data["head_sha"]
        gh.rest.checks.update(owner, repo, run_id, data=data)  # type: ignore[call-overload]
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
    job = get_current_job()
    if job is not None and (known := job.connection.get(_OPEN.format(job=job.id))):
        return int(known)
    data = {"name": name, "head_sha": head_sha, "status": "in_progress",
            "output": {"title": title, "summary": title}}
    run_id = int(gh.rest.checks.create(owner, repo, data=data).parsed_data.id)  # type: ignore[call-overload]
    if job is not None:
        job.connection.set(_OPEN.format(job=job.id), run_id, ex=_OPEN_TTL)
    return run_id


def open_queued(gh: GitHub[Any], conn: Any, job_id: str, owner: str, repo: str, *,
                name: str, head_sha: str, title: str) -> int:
    """A queued check run for a job about to be enqueued: people see it at once, and the
    job's `start` takes it over (a job that fails for good closes it via `close_orphan`)."""
    data = {"name": name, "head_sha": head_sha, "status": "queued",
            "output": {"title": title, "summary": title}}
    run_id = int(gh.rest.checks.create(owner, repo, data=data).parsed_data.id)  # type: ignore[call-overload]
    conn.set(_OPEN.format(job=job_id), run_id, ex=_OPEN_TTL)
    return run_id


def opened_for_job() -> int | None:
    """The run `open_queued` opened for the current job, if any."""
    job = get_current_job()
    known = job.connection.get(_OPEN.format(job=job.id)) if job is not None else None
    return int(known) if known else None


def close_orphan(gh_for: Callable[[int], GitHub[Any]], job: Job, error: str) -> int | None:
    """Complete the check run a job opened and never completed; returns its id."""
    raw = job.connection.getdel(_OPEN.format(job=job.id))
    installation, repo = job.kwargs.get("installation_id"), job.kwargs.get("repo")
    if raw is None or not installation or not repo:
        return None
    run_id = int(raw)
    owner, name = str(repo).split("/", 1)
    gh_for(int(installation)).rest.checks.update(owner, name, run_id, data={  # type: ignore[call-overload]
        "status": "completed", "conclusion": "failure",
        "output": {"title": "shipcrew errored", "summary": fit(
            "The job stopped with an error and its retries are used up; nothing was "
            f"changed. Push again or re-run this check to retry.\n\n```\n{error}\n```")}})
    return run_id

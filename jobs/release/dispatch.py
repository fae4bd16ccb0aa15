"""Dispatching the delivery workflow: find it on a branch, send only the inputs it declares.

Used for `/crew deploy` and for rollbacks. GitHub refuses a dispatch with inputs the workflow
does not declare, so the workflow file is read first. The release manager judges the run's
commit (the head of the dispatched ref), and the generated workflow deploys only that commit,
so a dispatch for a commit goes to a branch that points at it (`branch_at`).
"""

from __future__ import annotations

import re

from githubkit.exception import RequestFailed
from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from app.context import JobContext
from app.github import read_file
from jobs.release.evidence import body

WORKFLOWS = ".github/workflows"
MAX_WORKFLOWS = 20
DISPATCH_INPUTS = ("environment", "sha")
PINNED_BRANCH = "shipcrew/deploy/{environment}"  # moved to the commit a rollback deploys


def dispatch_inputs(text: str) -> set[str] | None:
    """The inputs a workflow's `workflow_dispatch` declares; None when it cannot be dispatched.

    GitHub refuses a dispatch with inputs the workflow does not declare, so only declared ones
    are sent."""
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    # YAML 1.1 reads a bare `on` key as the boolean true.
    on = data.get("on", data.get(True))
    if on == "workflow_dispatch" or (isinstance(on, list) and "workflow_dispatch" in on):
        return set()
    if not isinstance(on, dict) or "workflow_dispatch" not in on:
        return None
    spec = on["workflow_dispatch"] or {}
    inputs = spec.get("inputs") if isinstance(spec, dict) else None
    return {str(k) for k in inputs} if isinstance(inputs, dict) else set()


def choose_workflow(texts: dict[str, str]) -> tuple[str, set[str]] | None:
    """The delivery workflow among `{file name: text}`: `delivery.yml`, then `delivery-*.yml`,
    then any other dispatchable workflow, each in name order."""
    def rank(name: str) -> tuple[int, str]:
        stem = name.rsplit(".", 1)[0]
        return (0 if stem == "delivery" else 1 if stem.startswith("delivery") else 2, name)

    for name in sorted(texts, key=rank):
        inputs = dispatch_inputs(texts[name])
        if inputs is not None:
            return name, inputs
    return None


def find_delivery_workflow(ctx: JobContext, ref: str) -> tuple[str, set[str]] | None:
    try:
        listing = body(ctx.gh.rest.repos.get_content(ctx.owner, ctx.name, WORKFLOWS, ref=ref))
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return None
        raise
    names = sorted(i["name"] for i in listing if isinstance(listing, list)
                   and i.get("type") == "file" and i["name"].endswith((".yml", ".yaml")))
    # Read the likely ones first: most repos need one or two reads, not the whole directory.
    names = sorted(names, key=lambda n: not n.startswith("delivery"))[:MAX_WORKFLOWS]
    texts: dict[str, str] = {}
    for name in names:
        text = read_file(ctx.gh, ctx.owner, ctx.name, f"{WORKFLOWS}/{name}", ref)
        if text is not None:
            texts[name] = text
            if name.startswith("delivery") and dispatch_inputs(text) is not None:
                break
    return choose_workflow(texts)


def branch_at(ctx: JobContext, branch: str, sha: str, environment: str) -> str:
    """A branch whose head is `sha`: `branch` while it still points there, else
    `shipcrew/deploy/<environment>`, created or moved to `sha`."""
    try:
        head = body(ctx.gh.rest.git.get_ref(ctx.owner, ctx.name, f"heads/{branch}"))
        if (head.get("object") or {}).get("sha") == sha:
            return branch
    except RequestFailed as exc:
        if exc.response.status_code != 404:
            raise
    pinned = PINNED_BRANCH.format(environment=re.sub(r"[^A-Za-z0-9._-]", "-", environment))
    try:
        ctx.gh.rest.git.update_ref(ctx.owner, ctx.name, f"heads/{pinned}",
                                   data={"sha": sha, "force": True})
    except RequestFailed as exc:
        if exc.response.status_code != 422:  # 422: no such branch yet
            raise
        ctx.gh.rest.git.create_ref(ctx.owner, ctx.name,
                                   data={"ref": f"refs/heads/{pinned}", "sha": sha})
    return pinned


class Dispatch(BaseModel):
    ok: bool
    message: str
    workflow: str | None = None


def dispatch(ctx: JobContext, ref: str, environment: str, sha: str) -> Dispatch:
    """Run the delivery workflow on branch `ref` for `sha` in `environment`."""
    found = find_delivery_workflow(ctx, ref)
    if found is None:
        return Dispatch(ok=False, message=f"no workflow in `{WORKFLOWS}` on `{ref}` can be "
                        "dispatched (none declares `workflow_dispatch`)")
    workflow, declared = found
    wanted = {"environment": environment, "sha": sha}
    inputs = {k: v for k, v in wanted.items() if k in declared}
    try:
        ctx.gh.rest.actions.create_workflow_dispatch(
            ctx.owner, ctx.name, workflow, ref=ref, inputs=inputs)
    except RequestFailed as exc:
        if exc.response.status_code >= 500 or exc.response.status_code == 429:
            raise
        return Dispatch(ok=False, workflow=workflow,
                        message=f"GitHub refused to dispatch `{workflow}` on `{ref}`: "
                        f"{exc.response.status_code} {_message(exc)}")
    missing = [k for k in DISPATCH_INPUTS if k not in declared]
    note = ""
    if missing:
        note = (f" (`{workflow}` declares no `{'`/`'.join(missing)}` input, so it deploys "
                f"what it deploys for `{ref}`)")
    shown = ", ".join(f"{k}={v[:12] if k == 'sha' else v}" for k, v in inputs.items())
    return Dispatch(ok=True, workflow=workflow,
                    message=f"dispatched `{workflow}` on `{ref}`"
                    f"{' with ' + shown if shown else ''}{note}")


def _message(exc: RequestFailed) -> str:
    try:
        return str(exc.response.json().get("message", ""))[:300]
    except ValueError:
        return ""

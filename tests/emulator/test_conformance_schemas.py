"""The conformance checkers against real data: GitHub's own example payloads, and request
bodies written from GitHub's REST documentation."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.emulator.openapi import match_operation, request_errors, validate_request
from tests.emulator.webhook_schema import events, validate_webhook, webhook_errors

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"
ALL_FIXTURES = sorted(FIXTURES.glob("*/*.json"))


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


# Real examples that the current official schemas reject, and why: each kind of drift is a
# pattern the file's error lines must match; a file may only fail in the ways listed for it.
DRIFT: dict[str, dict[str, Any]] = json.loads((FIXTURES / "known_drift.json").read_text())["drift"]
KNOWN_DRIFT: dict[str, set[str]] = {}
for _kind, _entry in DRIFT.items():
    for _name in _entry["files"]:
        KNOWN_DRIFT.setdefault(_name, set()).add(_kind)


def test_fixture_inventory() -> None:
    counts = {event: len(list((FIXTURES / event).glob("*.json"))) for event in events()}
    assert counts.pop("deployment_protection_rule") == 0  # the package has no example
    assert all(counts.values()), counts
    assert sum(counts.values()) == len(ALL_FIXTURES) == 103
    assert set(KNOWN_DRIFT) <= {_id(p) for p in ALL_FIXTURES}


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=_id)
def test_real_example_validates_or_is_known_drift(path: Path) -> None:
    errors = webhook_errors(path.parent.name, json.loads(path.read_text()))
    kinds = KNOWN_DRIFT.get(_id(path))
    if kinds is None:
        assert errors == []
        return
    patterns = {kind: re.compile(DRIFT[kind]["pattern"]) for kind in kinds}
    unexplained = [e for e in errors if not any(p.fullmatch(e) for p in patterns.values())]
    assert errors and not unexplained
    unused = [kind for kind, p in patterns.items() if not any(p.fullmatch(e) for e in errors)]
    assert not unused, f"{_id(path)} no longer shows drift {unused}"


def _conforming(event: str, action: str | None = None) -> dict[str, Any]:
    for path in sorted((FIXTURES / event).glob("*.json")):
        payload = json.loads(path.read_text())
        if (action is None or payload.get("action") == action) and _id(path) not in KNOWN_DRIFT:
            return payload
    raise AssertionError(f"no conforming {event}.{action} example")


def _mutated(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy with the dotted ``path`` set to ``value`` (deleted when value is ...)."""
    out = copy.deepcopy(payload)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return out


@pytest.mark.parametrize(
    ("event", "action", "path", "value", "expected"),
    [
        ("pull_request", "opened", "repository", ..., "payload: 'repository' is a required"),
        ("pull_request", "opened", "sender", ..., "payload: 'sender' is a required"),
        ("pull_request", "opened", "number", "1", "payload.number: '1' is not of type"),
        ("pull_request", "opened", "action", "merged", "payload.action: 'merged' is not an"),
        ("pull_request", "reopened", "pull_request.head.sha", 5, "head.sha: 5 is not of"),
        ("pull_request", "closed", "pull_request.state", "done", "state: 'done' is not one"),
        (
            "pull_request", "opened", "pull_request.created_at", "2024-05-01 10:00:00",
            "payload.pull_request.created_at: '2024-05-01 10:00:00' is not a 'date-time'",
        ),
        ("issue_comment", "created", "comment.id", "7", "payload.comment.id: '7' is not of"),
        ("issue_comment", "created", "issue", ..., "payload: 'issue' is a required"),
        ("check_run", "requested_action", "requested_action.identifier", 5, "5 is not of"),
        ("check_run", "completed", "check_run.conclusion", "passed", "is not one of"),
        ("check_suite", "requested", "check_suite.head_sha", None, "head_sha: None is not of"),
        ("deployment_status", "created", "deployment_status", ..., "'deployment_status' is a"),
        ("deployment", "created", "deployment.id", "1", "payload.deployment.id: '1' is not"),
        ("workflow_run", "requested", "workflow_run", ..., "'workflow_run' is a required"),
        ("installation", "suspend", "installation", ..., "'installation' is a required"),
        ("ping", None, "hook_id", "x", "payload.hook_id: 'x' is not of type 'integer'"),
    ],
)
def test_mutated_example_fails(
    event: str, action: str | None, path: str, value: Any, expected: str
) -> None:
    original = _conforming(event, action)
    assert validate_webhook(event, original) is None
    message = validate_webhook(event, _mutated(original, path, value))
    assert message is not None and expected in message, message
    assert len(message) < 300


def test_mutated_push_fails() -> None:
    # Every push example predates repository.has_discussions; supply it to get a base.
    push = _mutated(_load("push/push-2.json"), "repository.has_discussions", False)
    assert validate_webhook("push", push) is None
    assert validate_webhook("push", _mutated(push, "ref", ...)) == (
        "payload: 'ref' is a required property"
    )
    assert validate_webhook("push", _mutated(push, "commits", {})) == (
        "payload.commits: {} is not of type 'array'"
    )


def test_installation_is_required_only_of_app_deliveries() -> None:
    payload = _mutated(_conforming("pull_request", "opened"), "installation", ...)
    # The public schema is shared with repository hooks, which carry no installation.
    assert validate_webhook("pull_request", payload) is None
    message = validate_webhook("pull_request", payload, app_delivery=True)
    assert message == "payload: 'installation' is a required property of an App delivery"
    ping = _conforming("ping")
    assert "installation" not in ping
    assert validate_webhook("ping", ping, app_delivery=True) is None


def test_deployment_protection_rule_payload_shape() -> None:
    # No real example exists; build one as the docs describe, from real objects.
    run = _conforming("workflow_run", "requested")
    payload = {
        "action": "requested",
        "environment": "production",
        "event": "push",
        "deployment_callback_url": "https://api.github.com/repos/o/r/actions/runs/1/"
        "deployment_protection_rule",
        "repository": run["repository"],
        "installation": {"id": 1, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="},
        "sender": run["sender"],
    }
    assert validate_webhook("deployment_protection_rule", payload, app_delivery=True) is None
    broken = _mutated(payload, "deployment_callback_url", 1)
    assert validate_webhook("deployment_protection_rule", broken) == (
        "payload.deployment_callback_url: 1 is not of type 'string'"
    )


def test_unknown_event_and_non_object() -> None:
    assert validate_webhook("star", {"action": "created"}) is None
    assert validate_webhook("push", ["not", "an", "object"]) == (
        "payload: ['not', 'an', 'object'] is not of type 'object'"
    )


# --------------------------------------------------------------------------------------
# REST request bodies, written from docs.github.com/rest for each call the App makes.

SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
REPO = "/repos/octo-org/hello"
ANNOTATION = {
    "path": "Dockerfile",
    "start_line": 3,
    "end_line": 3,
    "annotation_level": "failure",
    "message": "DKR001: pin the base image by digest",
    "title": "Unpinned base image",
    "raw_details": "FROM python:3.12",
}
OUTPUT = {"title": "Audit: fail", "summary": "1 enforced finding", "text": "## Findings",
          "annotations": [ANNOTATION]}
ACTIONS = [{"label": "Apply fixes", "description": "Commit the safe automatic fixes",
            "identifier": "apply_fixes"}]

VALID_REQUESTS: list[tuple[str, str, str, Any]] = [
    *(
        ("POST", "/app/installations/42/access_tokens",
         "/app/installations/{installation_id}/access_tokens", body)
        for body in (None, {"repositories": ["hello"], "permissions": {"contents": "write"}})
    ),
    ("POST", "/app/hook/deliveries/12/attempts", "/app/hook/deliveries/{delivery_id}/attempts",
     None),
    ("POST", "/app-manifests/abc123/conversions", "/app-manifests/{code}/conversions", None),
    ("POST", f"{REPO}/git/blobs", "/repos/{owner}/{repo}/git/blobs",
     {"content": "aGVsbG8K", "encoding": "base64"}),
    ("POST", f"{REPO}/git/trees", "/repos/{owner}/{repo}/git/trees",
     {"base_tree": SHA, "tree": [
         {"path": ".github/workflows/ci.yml", "mode": "100644", "type": "blob",
          "content": "on: push\n"},
         {"path": "scripts/run.sh", "mode": "100755", "type": "blob", "sha": SHA},
         {"path": "obsolete.txt", "mode": "100644", "type": "blob", "sha": None},
     ]}),
    ("POST", f"{REPO}/git/commits", "/repos/{owner}/{repo}/git/commits",
     {"message": "shipcrew: add pipeline", "tree": SHA, "parents": [SHA],
      "author": {"name": "shipcrew[bot]", "email": "1+shipcrew[bot]@users.noreply.github.com",
                 "date": "2024-05-01T12:00:00+00:00"}}),
    ("POST", f"{REPO}/git/refs", "/repos/{owner}/{repo}/git/refs",
     {"ref": "refs/heads/shipcrew/setup", "sha": SHA}),
    ("PATCH", f"{REPO}/git/refs/heads/feature/x", "/repos/{owner}/{repo}/git/refs/{ref}",
     {"sha": SHA, "force": False}),
    ("POST", f"{REPO}/pulls", "/repos/{owner}/{repo}/pulls",
     {"title": "Add delivery pipeline", "head": "shipcrew/setup", "base": "main", "body": "…",
      "draft": False, "maintainer_can_modify": True}),
    ("POST", f"{REPO}/issues/7/comments", "/repos/{owner}/{repo}/issues/{issue_number}/comments",
     {"body": "<!-- shipcrew:audit -->\n**Audit**: pass"}),
    ("PATCH", f"{REPO}/issues/comments/99", "/repos/{owner}/{repo}/issues/comments/{comment_id}",
     {"body": "updated"}),
    ("POST", f"{REPO}/issues/comments/99/reactions",
     "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", {"content": "eyes"}),
    ("POST", f"{REPO}/check-runs", "/repos/{owner}/{repo}/check-runs",
     {"name": "shipcrew / audit", "head_sha": SHA, "status": "completed",
      "conclusion": "failure", "started_at": "2024-05-01T12:00:00Z",
      "completed_at": "2024-05-01T12:00:05.250Z", "external_id": "delivery-1",
      "details_url": "https://example.com/audit/1", "output": OUTPUT, "actions": ACTIONS}),
    ("POST", f"{REPO}/check-runs", "/repos/{owner}/{repo}/check-runs",
     {"name": "shipcrew / pipeline", "head_sha": SHA, "status": "in_progress"}),
    ("PATCH", f"{REPO}/check-runs/5", "/repos/{owner}/{repo}/check-runs/{check_run_id}",
     {"status": "completed", "conclusion": "success",
      "output": {"title": "ok", "summary": "s" * 65535, "annotations": [ANNOTATION] * 50}}),
    ("POST", f"{REPO}/deployments", "/repos/{owner}/{repo}/deployments",
     {"ref": "main", "environment": "staging", "auto_merge": False, "required_contexts": [],
      "payload": {"plan": "p1"}, "description": None, "transient_environment": False}),
    ("POST", f"{REPO}/deployments/3/statuses",
     "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
     {"state": "in_progress", "log_url": "https://example.com/log", "description": "rolling out",
      "environment_url": "https://staging.example.com", "auto_inactive": True}),
    *(
        ("POST", f"{REPO}/actions/runs/11/deployment_protection_rule",
         "/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule", body)
        for body in (
            {"environment_name": "production", "state": "approved", "comment": "gates passed"},
            {"environment_name": "production", "state": "rejected", "comment": "soak < 1h"},
            {"environment_name": "production", "state": "approved"},
            {"environment_name": "production", "comment": "waiting for 1 more approval"},
        )
    ),
    ("POST", f"{REPO}/actions/workflows/deploy.yml/dispatches",
     "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
     {"ref": "main", "inputs": {"environment": "production", "sha": SHA}}),
    ("GET", f"{REPO}/contents/.github/shipcrew.yml?ref=main",
     "/repos/{owner}/{repo}/contents/{path}", None),
    ("GET", f"{REPO}/compare/main...feature/x", "/repos/{owner}/{repo}/compare/{basehead}", None),
    ("GET", f"{REPO}/git/ref/heads/feature/x", "/repos/{owner}/{repo}/git/ref/{ref}", None),
    ("GET", f"{REPO}/commits/feature/x/check-runs",
     "/repos/{owner}/{repo}/commits/{ref}/check-runs", None),
    ("GET", f"{REPO}/commits/{SHA}", "/repos/{owner}/{repo}/commits/{ref}", None),
    ("GET", f"{REPO}/git/trees/{SHA}?recursive=1", "/repos/{owner}/{repo}/git/trees/{tree_sha}",
     None),
]


@pytest.mark.parametrize(("method", "path", "template", "body"), VALID_REQUESTS)
def test_documented_request_is_accepted(method: str, path: str, template: str, body: Any) -> None:
    match = match_operation(method, path)
    assert match is not None and match.operation.path == template
    assert request_errors(method, path, body) == []


INVALID_REQUESTS: list[tuple[str, str, Any, str | tuple[str, ...]]] = [
    ("POST", "/app/installations/42/access_tokens", {"permissions": {"contents": "admin"}},
     "body.permissions.contents: 'admin' is not one of ['read', 'write']"),
    ("POST", f"{REPO}/git/blobs", {"encoding": "base64"}, "body: 'content' is a required property"),
    ("POST", f"{REPO}/git/trees", None, "body: a JSON request body is required"),
    ("POST", f"{REPO}/git/trees", {"tree": [{"path": "a", "mode": "644", "type": "blob"}]},
     "body.tree[0].mode: '644' is not one of"),
    ("POST", f"{REPO}/git/commits", {"message": "m", "parents": [SHA]},
     "body: 'tree' is a required property"),
    ("POST", f"{REPO}/git/commits", {"message": "m", "tree": SHA, "parents": SHA},
     "body.parents: '6dcb09b5b57875f334f61aebed695e2e4193db5e' is not of type 'array'"),
    ("POST", f"{REPO}/git/commits",
     {"message": "m", "tree": SHA,
      "author": {"name": "a", "email": "e", "date": "2024-05-01T12:00:00"}},
     "body.author.date: '2024-05-01T12:00:00' is not a 'date-time'"),
    ("POST", f"{REPO}/git/refs", {"ref": "refs/heads/x"}, "body: 'sha' is a required property"),
    ("PATCH", f"{REPO}/git/refs/heads/feature/x", {"sha": SHA, "force": "false"},
     "body.force: 'false' is not of type 'boolean'"),
    ("POST", f"{REPO}/pulls", {"title": "t", "head": "x"}, "body: 'base' is a required property"),
    ("POST", f"{REPO}/issues/7/comments", {"body": 5}, "body.body: 5 is not of type 'string'"),
    ("PATCH", f"{REPO}/issues/comments/99", {}, "body: 'body' is a required property"),
    ("POST", f"{REPO}/issues/comments/99/reactions", {"content": "thumbsup"},
     "body.content: 'thumbsup' is not one of"),
    ("POST", f"{REPO}/check-runs", {"head_sha": SHA}, "body: 'name' is a required property"),
    ("POST", f"{REPO}/check-runs", {"name": "n", "head_sha": SHA, "status": "done"},
     "body.status: 'done' is not one of ['queued', 'in_progress', 'completed']"),
    ("POST", f"{REPO}/check-runs",
     {"name": "n", "head_sha": SHA, "output": {**OUTPUT, "annotations": [ANNOTATION] * 51}},
     ("body.output.annotations: [{", "is too long")),
    ("POST", f"{REPO}/check-runs",
     {"name": "n", "head_sha": SHA, "output": {**OUTPUT, "annotations": [
         {**ANNOTATION, "annotation_level": "error"}]}},
     "body.output.annotations[0].annotation_level: 'error' is not one of"),
    ("POST", f"{REPO}/check-runs", {"name": "n", "head_sha": SHA, "actions": ACTIONS * 4},
     ("body.actions: [{", "is too long")),
    ("POST", f"{REPO}/check-runs",
     {"name": "n", "head_sha": SHA, "actions": [{**ACTIONS[0], "label": "x" * 21}]},
     "body.actions[0].label: 'xxxxxxxxxxxxxxxxxxxxx' is too long"),
    ("PATCH", f"{REPO}/check-runs/5", {"conclusion": "passed"},
     "body.conclusion: 'passed' is not one of"),
    ("PATCH", f"{REPO}/check-runs/5", {"output": {"title": "t", "summary": "s" * 65536}},
     ("body.output.summary: 'sssss", "is too long")),
    ("POST", f"{REPO}/deployments", {"environment": "staging"}, "body: 'ref' is a required"),
    ("POST", f"{REPO}/deployments", {"ref": "main", "payload": 5},
     "body.payload: matches none of the oneOf alternatives"),
    ("POST", f"{REPO}/deployments/3/statuses", {"state": "done"},
     "body.state: 'done' is not one of"),
    ("POST", f"{REPO}/actions/runs/11/deployment_protection_rule",
     {"environment_name": "production", "state": "weird"},
     "body.state: 'weird' is not one of ['approved', 'rejected']"),
    ("POST", f"{REPO}/actions/runs/11/deployment_protection_rule", {"state": "approved"},
     "body: 'environment_name' is a required property"),
    ("POST", f"{REPO}/actions/runs/11/deployment_protection_rule",
     {"environment_name": "production", "comment": 5}, "body.comment: 5 is not of type"),
    ("POST", f"{REPO}/actions/workflows/deploy.yml/dispatches", {"inputs": {}},
     "body: 'ref' is a required property"),
    ("POST", f"{REPO}/actions/workflows/7/dispatches",
     {"ref": "main", "inputs": {f"k{i}": "v" for i in range(26)}},
     ("body.inputs: {", "has too many properties")),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), INVALID_REQUESTS)
def test_nonconformant_request_is_rejected(
    method: str, path: str, body: Any, expected: str | tuple[str, ...]
) -> None:
    message = validate_request(method, path, body)
    parts = (expected,) if isinstance(expected, str) else expected
    assert message is not None and all(part in message for part in parts), message
    assert len(message) < 400


def test_paths_outside_the_app_operations_are_not_judged() -> None:
    assert validate_request("DELETE", f"{REPO}/git/refs/heads/x", None) is None
    assert validate_request("GET", f"{REPO}/pulls/not-a-number", None) is None
    assert validate_request("POST", "/user/repos", {"name": 5}) is None
    assert match_operation("GET", f"{REPO}/issues/comments/99") is None  # only PATCH is used
    match = match_operation("GET", f"{REPO}/issues/7/comments?per_page=100")
    assert match is not None
    assert match.params == {"owner": "octo-org", "repo": "hello", "issue_number": "7"}
    assert {"per_page", "page", "since"} <= set(match.operation.query_params)

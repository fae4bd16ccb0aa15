"""Copy the trimmed conformance data the emulator tests need out of the npm packages.

Run manually when bumping the packages (the test suite never reads /tmp or node_modules):

    python tests/emulator/schemas/extract.py /path/to/node_modules/@octokit

It reads three packages under that directory and writes:
- ``openapi/generated/api.github.com.deref.json`` -> ``tests/emulator/schemas/rest.json``:
  the operations the App calls (method, path template, path/query parameters, request body
  schema), descriptions and examples stripped.
- ``openapi-webhooks/generated/api.github.com.json`` -> ``tests/emulator/schemas/webhooks.json``:
  the payload schema of every action of the events in ``WEBHOOK_EVENTS``, with the component
  schemas they reach bundled under ``$defs``.
- ``webhooks-examples/api.github.com/index.json`` -> ``tests/fixtures/webhooks/<event>/*.json``:
  every real example payload of ``WEBHOOK_EVENTS``, one file each, content unchanged.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent.parent / "fixtures" / "webhooks"

# Every REST operation the App makes (see issue 3 and DESIGN.md, "One delivery, end to end").
OPERATIONS: list[tuple[str, str]] = [
    ("GET", "/app"),
    ("POST", "/app/installations/{installation_id}/access_tokens"),
    ("GET", "/repos/{owner}/{repo}/installation"),
    ("GET", "/app/hook/deliveries"),
    ("POST", "/app/hook/deliveries/{delivery_id}/attempts"),
    ("POST", "/app-manifests/{code}/conversions"),
    ("GET", "/repos/{owner}/{repo}"),
    ("GET", "/repos/{owner}/{repo}/contents/{path}"),
    ("GET", "/repos/{owner}/{repo}/compare/{basehead}"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}"),
    ("POST", "/repos/{owner}/{repo}/git/blobs"),
    ("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}"),
    ("POST", "/repos/{owner}/{repo}/git/trees"),
    ("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}"),
    ("POST", "/repos/{owner}/{repo}/git/commits"),
    ("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}"),
    ("GET", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("POST", "/repos/{owner}/{repo}/git/refs"),
    ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("GET", "/repos/{owner}/{repo}/pulls"),
    ("POST", "/repos/{owner}/{repo}/pulls"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"),
    ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission"),
    ("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}"),
    ("POST", "/repos/{owner}/{repo}/check-runs"),
    ("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    ("GET", "/repos/{owner}/{repo}/deployments"),
    ("POST", "/repos/{owner}/{repo}/deployments"),
    ("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"),
    ("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"),
    ("GET", "/repos/{owner}/{repo}/environments"),
    ("GET", "/repos/{owner}/{repo}/environments/{environment_name}"),
    ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}"),
    ("POST", "/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule"),
    ("POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"),
    # issue 12: the trunk flow, native reviewers and environment provisioning
    ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"),
    ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/approvals"),
    ("PUT", "/repos/{owner}/{repo}/environments/{environment_name}"),
    ("GET", "/repos/{owner}/{repo}/environments/{environment_name}/deployment_protection_rules"),
    ("POST", "/repos/{owner}/{repo}/environments/{environment_name}/deployment_protection_rules"),
    ("GET", "/repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies"),
    ("POST", "/repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies"),
    ("GET", "/users/{username}"),
    ("GET", "/orgs/{org}/teams/{team_slug}"),
]

# Events the App receives or the emulator emits; every action of each is kept, so that any
# real example payload of these events can be checked against its official schema.
WEBHOOK_EVENTS = [
    "pull_request",
    "pull_request_review",
    "issue_comment",
    "check_run",
    "check_suite",
    "deployment",
    "deployment_status",
    "deployment_protection_rule",
    "deployment_review",
    "workflow_run",
    "workflow_job",
    "installation",
    "installation_repositories",
    "push",
    "ping",
]

# Documentation-only keywords: dropping them keeps the files small without changing validation.
_DOC_KEYWORDS = {"description", "example", "examples", "title", "externalDocs"}
# Keywords whose value maps names to schemas (the names themselves must survive stripping).
_SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
_SCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}


def strip_docs(schema: Any) -> Any:
    """A copy of a schema without documentation keywords; property names are left alone."""
    if isinstance(schema, list):
        return [strip_docs(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DOC_KEYWORDS:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: strip_docs(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [strip_docs(sub) for sub in value]
        elif isinstance(value, dict) and key not in {"enum", "const", "default"}:
            out[key] = strip_docs(value)
        else:
            out[key] = value
    return out


def extract_rest(spec: dict[str, Any]) -> dict[str, Any]:
    operations = []
    for method, template in OPERATIONS:
        op = spec["paths"][template][method.lower()]
        params = op.get("parameters", [])
        body = op.get("requestBody")
        body_schema = None
        if body is not None:
            body_schema = strip_docs(body["content"]["application/json"]["schema"])
        operations.append(
            {
                "operation_id": op["operationId"],
                "method": method,
                "path": template,
                "path_params": {
                    p["name"]: {
                        "schema": strip_docs(p["schema"]),
                        "multi_segment": bool(p.get("x-multi-segment")),
                    }
                    for p in params
                    if p["in"] == "path"
                },
                "query_params": [p["name"] for p in params if p["in"] == "query"],
                "body_required": bool(body and body.get("required")),
                "body_schema": body_schema,
            }
        )
    return {
        "source": "npm @octokit/openapi generated/api.github.com.deref.json",
        "openapi": spec["openapi"],
        "api_version": spec["info"]["version"],
        "operations": operations,
    }


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _rebase_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (v.replace("#/components/schemas/", "#/$defs/") if k == "$ref" else _rebase_refs(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rebase_refs(v) for v in node]
    return node


def extract_webhooks(spec: dict[str, Any]) -> dict[str, Any]:
    components = spec["components"]["schemas"]
    events: dict[str, dict[str, str]] = {}
    for hook in spec["webhooks"].values():
        post = hook["post"]
        event = post["x-github"]["subcategory"]
        if event not in WEBHOOK_EVENTS:
            continue
        ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        name = ref.rsplit("/", 1)[-1]
        # operationId is "<event>/<action>" with dashes; events without an action (push,
        # ping) have no slash and are keyed by "" so the file stays plain JSON.
        _, _, action = post["operationId"].partition("/")
        action = action.replace("-", "_")
        action_enum = components[name].get("properties", {}).get("action", {}).get("enum")
        if action_enum and action_enum != [action]:
            raise SystemExit(f"{name}: operationId action {action!r} != enum {action_enum}")
        events.setdefault(event, {})[action] = name
    missing = set(WEBHOOK_EVENTS) - set(events)
    if missing:
        raise SystemExit(f"no webhook schema for {sorted(missing)}")

    wanted: set[str] = set()
    todo = [name for actions in events.values() for name in actions.values()]
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        todo.extend(_refs(components[name]) - wanted)
    return {
        "source": "npm @octokit/openapi-webhooks generated/api.github.com.json",
        "openapi": spec["openapi"],
        "events": {e: dict(sorted(a.items())) for e, a in sorted(events.items())},
        "$defs": {n: _rebase_refs(strip_docs(components[n])) for n in sorted(wanted)},
    }


def copy_fixtures(examples: list[dict[str, Any]], dest: Path) -> Counter[str]:
    """One file per example: <event>/<action>[-n].json, numbered in the package's order."""
    by_event = {entry["name"]: entry for entry in examples}
    counts: Counter[str] = Counter()
    for event in WEBHOOK_EVENTS:
        target = dest / event
        if target.exists():
            shutil.rmtree(target)
        if event not in by_event:
            continue
        target.mkdir(parents=True)
        seen: Counter[str] = Counter()
        for payload in by_event[event]["examples"]:
            stem = payload.get("action") or event
            seen[stem] += 1
            name = stem if seen[stem] == 1 else f"{stem}-{seen[stem]}"
            text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
            assert json.loads(text) == payload
            (target / f"{name}.json").write_text(text, encoding="utf-8")
            counts[event] += 1
    return counts


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"{path}: {path.stat().st_size:,} bytes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("octokit_dir", type=Path, help="node_modules/@octokit directory")
    parser.add_argument("--only", choices=["rest", "webhooks", "fixtures"], action="append")
    args = parser.parse_args(argv)
    root: Path = args.octokit_dir
    only = set(args.only or ["rest", "webhooks", "fixtures"])

    if "rest" in only:
        spec = json.loads((root / "openapi/generated/api.github.com.deref.json").read_text())
        _write(HERE / "rest.json", extract_rest(spec))
    if "webhooks" in only:
        spec = json.loads((root / "openapi-webhooks/generated/api.github.com.json").read_text())
        _write(HERE / "webhooks.json", extract_webhooks(spec))
    if "fixtures" in only:
        package = root / "webhooks-examples"
        version = json.loads((package / "package.json").read_text())["version"]
        examples = json.loads((package / "api.github.com/index.json").read_text())
        counts = copy_fixtures(examples, FIXTURES)
        total = sum(counts.values())
        print(f"@octokit/webhooks-examples@{version}: {total} payloads {dict(counts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

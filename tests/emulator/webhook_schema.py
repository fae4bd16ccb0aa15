"""Validate webhook payloads against GitHub's official webhook schemas.

The schemas come from npm ``@octokit/openapi-webhooks`` (OpenAPI 3.1, so plain JSON Schema
2020-12), trimmed into ``schemas/webhooks.json`` by ``schemas/extract.py``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from .openapi import FORMATS, first_error, schema_errors, short_repr

SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "webhooks.json"

# The one event an App receives without an installation (it belongs to the App's own hook).
_NO_INSTALLATION = {"ping"}


@cache
def _bundle() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


@cache
def _validator(definition: str) -> Draft202012Validator:
    schema = {"$defs": _bundle()["$defs"], "$ref": f"#/$defs/{definition}"}
    return Draft202012Validator(schema, format_checker=FORMATS)


def events() -> dict[str, list[str]]:
    """Event name -> actions with a schema ("" for events that have no action)."""
    return {event: list(actions) for event, actions in _bundle()["events"].items()}


def webhook_errors(event: str, payload: object, *, app_delivery: bool = False) -> list[str]:
    """Every way ``payload`` departs from the official schema for ``event`` (the
    X-GitHub-Event value) and its ``action``, one line each naming the field; [] when it
    conforms or when the event is not one of the bundled ones.

    With ``app_delivery`` the payload must also carry ``installation``, as every delivery
    to a GitHub App does (except ``ping``), though the shared public schemas leave it out.
    """
    actions = _bundle()["events"].get(event)
    if actions is None:
        return []
    if not isinstance(payload, dict):
        return [f"payload: {short_repr(payload)} is not of type 'object'"]
    action = "" if "" in actions else payload.get("action")
    definition = actions.get(action) if isinstance(action, str) else None
    if definition is None:
        return [f"payload.action: {short_repr(action)} is not an action of {event} events"]
    lines = schema_errors(_validator(definition), payload, "payload")
    if app_delivery and event not in _NO_INSTALLATION and "installation" not in payload:
        lines.append("payload: 'installation' is a required property of an App delivery")
    return list(dict.fromkeys(lines))


def validate_webhook(event: str, payload: object, *, app_delivery: bool = False) -> str | None:
    """None if ``payload`` conforms (see ``webhook_errors``), else the first departure,
    with a count of the others."""
    return first_error(webhook_errors(event, payload, app_delivery=app_delivery))

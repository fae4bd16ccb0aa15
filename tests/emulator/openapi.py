"""Check the App's REST requests against GitHub's official OpenAPI description.

``schemas/rest.json`` holds, for each operation the App uses, the path template, its
parameters and the request body schema, trimmed from npm ``@octokit/openapi`` by
``schemas/extract.py``. The description is OpenAPI 3.0 (``nullable``), so schemas are
translated to JSON Schema 2020-12 once, on first use.
"""

from __future__ import annotations

import json
import re
import reprlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "rest.json"

# Timestamps are what a client most easily gets subtly wrong (a naive datetime's isoformat()
# has no zone, a space instead of "T"), so "date-time" is asserted as RFC 3339. Other formats
# (uri, repo.nwo, int64) are annotations only, as jsonschema treats them by default.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(_DATE_TIME.match(value))


_SHORT = reprlib.Repr()  # keyword arguments need Python 3.12
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlevel = 1
short_repr = _SHORT.repr  # big payloads must not flood an error message


@dataclass(frozen=True)
class Operation:
    operation_id: str  # e.g. "checks/create", GitHub's own name for the endpoint
    method: str
    path: str  # template, e.g. "/repos/{owner}/{repo}/git/refs/{ref}"
    query_params: tuple[str, ...]
    body_required: bool


@dataclass(frozen=True)
class Match:
    operation: Operation
    params: dict[str, str]  # path parameters, exactly as they appear in the path given


@dataclass(frozen=True)
class _Route:
    operation: Operation
    pattern: re.Pattern[str]
    specificity: tuple[int, int]
    validator: Draft202012Validator | None


# ---------------------------------------------------------------------------------------
# Error reporting shared with webhook_schema.py


def _location(root: str, error: ValidationError) -> str:
    return root + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
    )


def _describe(root: str, error: ValidationError) -> str:
    message = error.message
    if error.validator in ("oneOf", "anyOf"):
        message = f"matches none of the {error.validator} alternatives"
    elif len(message) > 200:
        message = message.replace(repr(error.instance), short_repr(error.instance))
    return f"{_location(root, error)}: {message}"


def _leaves(root: str, error: ValidationError) -> list[str]:
    """The concrete failures behind an error. For oneOf/anyOf: those of the alternative that
    came closest (fewest failures), the shape the instance was aiming at; when several tie,
    one line listing each alternative's failures."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [_describe(root, error)]
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    fewest = min(len(subs) for subs in branches.values())
    closest = [subs for subs in branches.values() if len(subs) == fewest]
    explained = [[line for sub in subs for line in _leaves(root, sub)] for subs in closest]
    if len(explained) == 1:
        return explained[0]
    options = dict.fromkeys("; ".join(lines) for lines in explained)
    return [f"{_describe(root, error)}: " + " | ".join(options)]


def schema_errors(validator: Draft202012Validator, instance: object, root: str) -> list[str]:
    """One line per departure of ``instance`` from the validator's schema, shallowest first,
    each naming its field as ``root.a.b[0]``."""
    errors = sorted(
        validator.iter_errors(instance),
        key=lambda e: (len(e.absolute_path), [str(p) for p in e.absolute_path], e.message),
    )
    return list(dict.fromkeys(line for error in errors for line in _leaves(root, error)))


def first_error(errors: list[str]) -> str | None:
    if not errors:
        return None
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return errors[0] + more


# ---------------------------------------------------------------------------------------
# OpenAPI 3.0 -> JSON Schema 2020-12


def from_openapi30(schema: Any) -> Any:
    """Translate OpenAPI 3.0's ``nullable`` into JSON Schema's null type."""
    if isinstance(schema, list):
        return [from_openapi30(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        key: value if key in ("enum", "const", "default", "required") else from_openapi30(value)
        for key, value in schema.items()
        if key != "nullable"
    }
    if not schema.get("nullable"):
        return out
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [out, {"type": "null"}]}


def _pattern(template: str, params: dict[str, Any]) -> re.Pattern[str]:
    regex = ""
    # re.split with a group alternates fixed text and parameter names
    for i, part in enumerate(re.split(r"\{([^}]+)\}", template)):
        if i % 2 == 0:
            regex += re.escape(part)
        elif params.get(part, {}).get("multi_segment"):  # refs, file paths, "base...head"
            regex += f"(?P<{part}>.+)"
        elif params.get(part, {}).get("schema", {}).get("type") == "integer":
            regex += rf"(?P<{part}>\d+)"
        else:
            regex += f"(?P<{part}>[^/]+)"
    return re.compile(f"^{regex}$")


@cache
def _routes() -> dict[str, list[_Route]]:
    data = json.loads(SCHEMA_FILE.read_text())
    routes: dict[str, list[_Route]] = {}
    for op in data["operations"]:
        operation = Operation(
            operation_id=op["operation_id"],
            method=op["method"],
            path=op["path"],
            query_params=tuple(op["query_params"]),
            body_required=op["body_required"],
        )
        schema = op["body_schema"]
        validator = None
        if schema is not None:
            validator = Draft202012Validator(from_openapi30(schema), format_checker=FORMATS)
        literal = len(re.sub(r"\{[^}]+\}", "", op["path"]))
        greedy = sum(1 for p in op["path_params"].values() if p["multi_segment"])
        pattern = _pattern(op["path"], op["path_params"])
        routes.setdefault(op["method"], []).append(
            _Route(operation, pattern, (literal, -greedy), validator)
        )
    return routes


def operations() -> list[Operation]:
    return [route.operation for routes in _routes().values() for route in routes]


def _route(method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
    path = path.split("?", 1)[0]
    found = [
        (route, m.groupdict())
        for route in _routes().get(method.upper(), [])
        if (m := route.pattern.match(path))
    ]
    # "/commits/{ref}" also matches ".../commits/abc/check-runs": the template with more
    # fixed text is the one GitHub routes to.
    return max(found, key=lambda item: item[0].specificity, default=None)


def match_operation(method: str, path: str) -> Match | None:
    """The App operation a concrete request path names (query string ignored), or None."""
    found = _route(method, path)
    return None if found is None else Match(found[0].operation, found[1])


def request_errors(method: str, path: str, body: object | None) -> list[str]:
    """Every way ``body`` departs from the official request body schema of the operation
    that ``method`` and ``path`` name; [] when it conforms or the path is not an App
    operation."""
    found = _route(method, path)
    if found is None:
        return []
    route = found[0]
    if body is None:
        return ["body: a JSON request body is required"] if route.operation.body_required else []
    if route.validator is None:
        return []
    return schema_errors(route.validator, body, "body")


def validate_request(method: str, path: str, body: object | None) -> str | None:
    """None if the request conforms to GitHub's OpenAPI description (or the path is not
    one the App uses), else a short message naming the failing field, e.g.
    "body.state: 'weird' is not one of ['approved', 'rejected']"."""
    return first_error(request_errors(method, path, body))

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest

from app.findings import Finding, Mode, Severity, Verdict
from jobs.auditor.report import render

FINDINGS = [
    Finding(rule="K8S001", path="k8s/pod.yaml", line=10, message="privileged",
            recourse="set privileged: false"),
    Finding(rule="K8S007", severity=Severity.SOFT, path="k8s/pod.yaml", line=8,
            message="no probe", recourse="add a probe"),
    Finding(rule="org_rule", mode=Mode.AUDIT, path="", line=None, message="change-level"),
]


def test_json_matches_the_cli_contract() -> None:
    out = json.loads(render(FINDINGS, Verdict.FAIL, "json"))
    assert out["verdict"] == "fail"
    assert out["findings"][0] == {"rule": "K8S001", "severity": "hard", "mode": "enforce",
                                  "path": "k8s/pod.yaml", "line": 10, "message": "privileged",
                                  "recourse": "set privileged: false"}
    assert [f["mode"] for f in out["findings"]] == ["enforce", "enforce", "audit"]


def test_text_names_location_rule_and_fix() -> None:
    out = render(FINDINGS, Verdict.FAIL, "text")
    assert "k8s/pod.yaml:10: K8S001 [hard] privileged" in out
    assert "fix: set privileged: false" in out
    assert out.splitlines()[-1] == "3 finding(s), 2 hard, 1 soft: verdict fail"


def test_sarif_shape_github_code_scanning_reads() -> None:
    log = json.loads(render(FINDINGS, Verdict.FAIL, "sarif"))
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["K8S001", "K8S007", "org_rule"]
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules)
    levels = [r["level"] for r in run["results"]]
    assert levels == ["error", "warning", "note"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]


def test_unknown_format() -> None:
    with pytest.raises(ValueError):
        render([], Verdict.PASS, "xml")


# --- SARIF against the official OASIS schema (tests/jobs/data, see its SOURCE note) ---------

SCHEMA = Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json"
_checker = jsonschema.FormatChecker()


@_checker.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    # jsonschema checks "uri" only with rfc3987 installed: an absolute URI, no spaces.
    parts = urlsplit(str(value))
    return bool(parts.scheme) and str(value).isascii() and not re.search(r"\s", str(value))


@_checker.checks("uri-reference", raises=ValueError)
def _is_uri_reference(value: object) -> bool:
    urlsplit(str(value))
    return str(value).isascii() and not re.search(r"[\s\\]", str(value))


def validate_sarif(log: dict) -> None:
    schema = json.loads(SCHEMA.read_text())
    assert schema["$id"].startswith("https://raw.githubusercontent.com/oasis-tcs/sarif-spec/")
    jsonschema.Draft7Validator(schema, format_checker=_checker).validate(log)


def test_sarif_validates_against_the_official_schema() -> None:
    odd = Finding(rule="SEC001", path="docs/my notes/ключ.md", line=3, message="key",
                  recourse="rotate it")
    log = json.loads(render([*FINDINGS, odd], Verdict.FAIL, "sarif"))
    validate_sarif(log)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]]
    assert "docs/my%20notes/%D0%BA%D0%BB%D1%8E%D1%87.md" in uris


def test_sarif_of_a_real_audit_and_of_nothing_validates() -> None:
    from jobs.auditor.core import audit_files

    files = {".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n"
             "      - uses: foo/bar@v1\n", "Dockerfile": "FROM ubuntu\n"}
    result = audit_files(files)
    assert result.findings
    validate_sarif(json.loads(render(result.findings, result.verdict, "sarif")))
    validate_sarif(json.loads(render([], Verdict.PASS, "sarif")))


def test_schema_rejects_a_broken_log() -> None:
    log = json.loads(render(FINDINGS, Verdict.FAIL, "sarif"))
    log["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        validate_sarif(log)

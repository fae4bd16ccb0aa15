from __future__ import annotations

import json

import pytest

from app.findings import Finding, Mode, Severity, Verdict
from jobs.report import render

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

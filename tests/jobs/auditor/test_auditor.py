from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from app.config import PoliciesConfig
from app.findings import Mode, Severity, Verdict
from jobs.auditor import charts
from jobs.auditor import core as auditor
from jobs.auditor.cli import cli_audit
from jobs.auditor.core import audit_files
from jobs.auditor.inputs import yaml_lines as inputs_yaml

PRIVILEGED = """apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: a
      image: nginx:1.27
      securityContext: {privileged: true, allowPrivilegeEscalation: false,
                        readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
      resources: {limits: {cpu: 100m, memory: 64Mi}}
      livenessProbe: {tcpSocket: {port: 80}}
      readinessProbe: {tcpSocket: {port: 80}}
  automountServiceAccountToken: false
"""


def rules(result: auditor.AuditResult) -> set[str]:
    return {f.rule for f in result.findings}


def test_privileged_pod_fails_on_the_right_line() -> None:
    result = audit_files({"k8s/pod.yaml": PRIVILEGED})
    assert rules(result) == {"K8S001"}
    (finding,) = result.findings
    assert (finding.path, finding.line, finding.severity) == ("k8s/pod.yaml", 10, Severity.HARD)
    assert result.verdict is Verdict.FAIL


def test_rule_overrides_and_global_mode() -> None:
    files = {"k8s/pod.yaml": PRIVILEGED}
    audit = PoliciesConfig.model_validate({"rules": {"K8S001": "audit"}})
    result = audit_files(files, config=audit)
    assert result.findings[0].mode is Mode.AUDIT and result.verdict is Verdict.PASS
    soft = PoliciesConfig.model_validate({"rules": {"K8S001": {"severity": "soft"}}})
    assert audit_files(files, config=soft).verdict is Verdict.REVIEW
    off = PoliciesConfig.model_validate({"rules": {"K8S001": "off"}})
    assert audit_files(files, config=off).findings == []
    everything_audit = PoliciesConfig(mode="audit")
    assert audit_files(files, config=everything_audit).verdict is Verdict.PASS


def test_legacy_findings_do_not_block() -> None:
    files = {"k8s/pod.yaml": PRIVILEGED, "README.md": "hello\n"}
    result = audit_files(files, changed={"README.md": {1}})
    assert result.findings[0].mode is Mode.AUDIT and result.verdict is Verdict.PASS
    block = PoliciesConfig(legacy="block")
    assert audit_files(files, config=block, changed={"README.md": {1}}).verdict is Verdict.FAIL


def test_secrets_only_on_added_lines_and_never_echoed() -> None:
    token = "ghp_" + "a1B2" * 9
    files = {"app.py": f'OLD = "{token}"\nNEW = "{token}"\n'}
    result = audit_files(files, changed={"app.py": {2}})
    secrets = [f for f in result.findings if f.rule == "SEC001"]
    assert [(f.line, f.mode) for f in secrets] == [(2, Mode.ENFORCE)]
    assert token not in secrets[0].message and token not in secrets[0].recourse
    assert {f.line for f in audit_files(files).findings} == {1, 2}  # offline: every line


def test_metadata_reaches_policies(tmp_path: Path) -> None:
    (tmp_path / "labels.rego").write_text(
        'package main\n\nimport rego.v1\n\n'
        'deny contains {"msg": "infra changes need the infra label", "id": "ORG001"} if {\n'
        '\tinput.shipcrew == "change"\n\tnot "infra" in input.metadata.labels\n'
        '\tsome f in input.files\n\tstartswith(f, "k8s/")\n}\n')
    files = {"k8s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}
    meta = {"labels": ["docs"], "author": "octocat"}
    result = audit_files(files, policy_dirs=[tmp_path], metadata=meta)
    assert rules(result) == {"ORG001"}
    meta["labels"] = ["infra"]
    assert audit_files(files, policy_dirs=[tmp_path], metadata=meta).findings == []


def test_broken_policy_dir_is_a_finding_not_an_exception(tmp_path: Path) -> None:
    (tmp_path / "old.rego").write_text('package main\n\ndeny[msg] {\n  msg := "x"\n}\n')
    result = audit_files({}, policy_dirs=[tmp_path])
    assert rules(result) == {"POLICY001"} and "old.rego:3" in result.findings[0].message


@pytest.mark.parametrize(("path", "text", "rule", "fragment"), [
    (".github/workflows/ci.yml", "on: push\njobs: [\n", "INPUT001", "invalid YAML"),
    ("k8s/x.yaml", "kind: Pod\nmetadata: {name: [}\n", "INPUT001", "invalid YAML"),
    ("Dockerfile", "RUN echo hi\n", "INPUT001", "no FROM"),
    ("Dockerfile", "\x00\x01\x02ELF", "INPUT001", "binary"),
    (".github/workflows/ci.yml", "- just\n- a list\n", "INPUT001", "mapping"),
])
def test_hostile_inputs_give_clear_findings(path: str, text: str, rule: str,
                                            fragment: str) -> None:
    result = audit_files({path: text})
    assert [(f.rule, f.path) for f in result.findings] == [(rule, path)]
    assert fragment in result.findings[0].message
    assert result.errors == result.findings


def test_yaml_alias_bomb_is_bounded() -> None:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", 'a: &a ["lol"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]"
              for i in range(9)]
    start = time.perf_counter()
    result = audit_files({"k8s/bomb.yaml": "\n".join(lines) + "\n"})
    assert time.perf_counter() - start < 10
    assert rules(result) == {"INPUT001"} and "alias bomb" in result.findings[0].message


def test_ten_megabyte_manifest_is_bounded() -> None:
    body = "".join(f"  k{i}: {'x' * 90}\n" for i in range(110_000))
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata:\n{body}"
    assert len(text) > 10_000_000
    start = time.perf_counter()
    result = audit_files({"k8s/big.yaml": text})
    assert time.perf_counter() - start < 10
    assert [(f.rule, f.severity) for f in result.findings] == [("INPUT002", Severity.SOFT)]
    assert result.verdict is Verdict.REVIEW


def test_pipeline_output_passes_every_rule() -> None:
    from jobs.pipeline.plan import plan_generation

    source = {"pyproject.toml": '[project]\nname = "svc"\nversion = "0.1.0"\n'
                                'dependencies = ["fastapi>=0.110", "uvicorn>=0.29"]\n',
              "src/svc/main.py": "from fastapi import FastAPI\napp = FastAPI()\n"}
    plan = plan_generation(source)
    generated = {a.path: a.content for a in plan.artifacts}
    assert any(p.startswith(".github/workflows/") for p in generated)
    result = audit_files({**source, **generated})
    assert result.findings == [] and result.notes == [], result.findings


def test_chart_without_renderer_is_noted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "renderer", lambda: None)
    files = {"chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
             "chart/templates/d.yaml": "kind: {{ .Values.kind }}\n"}
    result = audit_files(files)
    assert result.findings == [] and "not evaluated" in result.notes[0]


def test_broken_chart_is_a_finding() -> None:
    files = {"chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
             "chart/templates/d.yaml": "kind: {{ .Values.kind \n"}
    result = audit_files(files)
    assert rules(result) == {"INPUT001"} and "render" in result.findings[0].message


def test_cli_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_audit(tmp_path / "missing", "json", []) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli_audit(tmp_path, "xml", []) == 2
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "pod.yaml").write_text(PRIVILEGED)
    assert cli_audit(tmp_path, "json", []) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "fail"
    assert out["findings"][0] == {
        "rule": "K8S001", "severity": "hard", "mode": "enforce", "path": "k8s/pod.yaml",
        "line": 10, "message": out["findings"][0]["message"],
        "recourse": out["findings"][0]["recourse"]}
    bad = tmp_path / "policy"
    bad.mkdir()
    (bad / "p.rego").write_text("package main\n\nallow {\n  true\n}\n")
    assert cli_audit(tmp_path, "text", [bad]) == 2
    assert "p.rego:3" in capsys.readouterr().err
    (tmp_path / "k8s" / "pod.yaml").write_text("kind: Note\n")
    assert cli_audit(tmp_path, "text", []) == 0


def _scenario_files() -> dict[str, str]:
    """Every scenario repo side by side, plus duplicates: one snapshot of all input kinds."""
    from app.files import read_tree

    scenarios = Path(__file__).parents[2] / "scenarios"
    files: dict[str, str] = {}
    for d in sorted(p for p in scenarios.iterdir() if (p / "expected.json").is_file()):
        tree = read_tree(d)
        files.update({f"{d.name}/{p}": t for p, t in tree.items() if p != "expected.json"})
    files.update({f"same/{i}/k8s/pod.yaml": PRIVILEGED for i in range(10)})
    files.update({f"other/{i}/k8s/pod.yaml": PRIVILEGED.replace("name: p", f"name: p{i}")
                  for i in range(20)})
    return files


def test_fast_paths_change_no_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """libyaml parsing and threaded, deduplicated evaluation against the plain ruamel path
    evaluated one input at a time: same findings, lines and messages, in the same order."""
    files = _scenario_files()
    monkeypatch.setattr("jobs.auditor.engine.PER_WORKER", 4)
    fast = audit_files(files)
    assert len(fast.findings) > 50 and fast.timings["documents"] > 50

    def unsupported(text: str, max_nodes: int) -> None:
        raise inputs_yaml.Unsupported("forced")

    monkeypatch.setattr(inputs_yaml, "load_documents", unsupported)
    monkeypatch.setattr("jobs.auditor.engine.WORKERS", 1)
    slow = audit_files(files)
    assert [f.model_dump() for f in fast.findings] == [f.model_dump() for f in slow.findings]
    assert fast.notes == slow.notes and fast.verdict == slow.verdict

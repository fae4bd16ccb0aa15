"""Large inputs finish within the per-document budget; one that does not becomes POLICY003."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.auditor.core import audit_files

STEPS = 1500
CONTAINERS = 1000  # five lines each: a 5,000-line manifest


def _workflow() -> str:
    steps = "".join(f"      - name: s{i}\n        run: echo \"${{{{ github.head_ref }}}}\" {i}\n"
                    for i in range(STEPS))
    return ("on: pull_request\npermissions: {contents: read}\njobs:\n  b:\n"
            "    runs-on: ubuntu-latest\n    steps:\n" + steps)


def _manifest() -> str:
    containers = "".join(f"        - name: c{i}\n          image: nginx\n          env:\n"
                         "            - name: A\n              value: b\n"
                         for i in range(CONTAINERS))
    return ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: big}\nspec:\n"
            "  template:\n    spec:\n      containers:\n" + containers)


@pytest.mark.slow
def test_a_1500_step_workflow_is_evaluated_whole() -> None:
    result = audit_files({".github/workflows/big.yml": _workflow()})
    gha004 = [f for f in result.findings if f.rule == "GHA004"]
    assert len(gha004) == STEPS and not result.errors
    assert sorted(f.line for f in gha004) == [8 + 2 * i for i in range(STEPS)]


@pytest.mark.slow
def test_a_5000_line_manifest_is_evaluated_whole() -> None:
    text = _manifest()
    assert len(text.splitlines()) >= 5000
    result = audit_files({"k8s/big.yaml": text})
    assert not result.errors
    assert sum(f.rule == "K8S004" for f in result.findings) == 2 * CONTAINERS
    assert sorted(f.line for f in result.findings if f.rule == "K8S006") == [
        9 + 5 * i for i in range(CONTAINERS)]  # each container's image line


SLOW_POLICY = """package main

import rego.v1

deny contains "too many steps" if {
	n := count(object.get(input, ["jobs", "b", "steps"], []))
	count([x | some i in numbers.range(1, n); some j in numbers.range(1, n); x := i * j]) > 0
}
"""


def test_a_document_over_budget_is_policy003_on_that_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "slow.rego").write_text(SLOW_POLICY)
    monkeypatch.setattr("jobs.auditor.engine.BUDGET", 1.0)
    small = ("on: push\npermissions: {}\njobs:\n  b:\n    steps:\n"
             "      - run: echo ${{ github.head_ref }}\n")
    result = audit_files({".github/workflows/big.yml": _workflow(),
                          ".github/workflows/small.yml": small}, policy_dirs=[tmp_path])
    timed_out = [f for f in result.findings if f.rule == "POLICY003"]
    assert [(f.path, f.line) for f in timed_out] == [(".github/workflows/big.yml", 1)]
    assert "took too long" in timed_out[0].message and result.verdict.value == "fail"
    small_rules = {f.rule for f in result.findings if f.path.endswith("small.yml")}
    assert {"GHA004"} <= small_rules  # the other file is still judged

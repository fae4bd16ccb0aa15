"""Every `test_*` rule of every *_test.rego under policies/ runs here, one pytest test each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import POLICIES_DIR
from jobs.auditor.engine import run_tests

OUTCOMES = {o.name: o for o in run_tests([POLICIES_DIR])}


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_rego(name: str) -> None:
    outcome = OUTCOMES[name]
    assert outcome.passed, f"{name}: {outcome.detail}"


RULES = ["gha001", "gha002", "gha003", "gha004", "gha005", "gha006", "dkr001", "dkr002",
         "dkr003", "dkr004", "dkr005", "k8s001", "k8s002", "k8s003", "k8s004", "k8s005",
         "k8s006", "k8s007", "k8s008", "k8s009", "k8s010", "k8s011", "sec001", "prov001"]


def test_every_rule_has_tests() -> None:
    for rule in RULES:
        assert any(f".test_{rule}_" in name for name in OUTCOMES), rule


def test_the_list_names_every_rule_the_policies_emit() -> None:
    """A new built-in rule cannot be left out of RULES (GHA006 once was)."""
    emitted = {m.lower() for p in POLICIES_DIR.glob("*.rego") if not p.stem.endswith("_test")
               for m in re.findall(r'"((?:GHA|DKR|K8S|SEC|PROV)\d{3})"', p.read_text())}
    assert sorted(emitted) == sorted(RULES)


def test_runner_reports_failures(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text(
        'package main\n\nimport rego.v1\n\n'
        'deny contains sprintf("bad %s", [input.kind]) if input.kind == "Pod"\n')
    (tmp_path / "p_test.rego").write_text(
        'package main\n\nimport rego.v1\n\n'
        'test_pod_denied if {\n\tcount(deny) == 1 with input as {"kind": "Pod"}\n}\n\n'
        'test_wrong if {\n\tcount(deny) == 0 with input as {"kind": "Pod"}\n}\n\n'
        'test_no_input if {\n\tcount(deny) == 0\n}\n')
    got = {o.name: o.passed for o in run_tests([tmp_path])}
    assert got == {"main.test_pod_denied": True, "main.test_wrong": False,
                   "main.test_no_input": True}

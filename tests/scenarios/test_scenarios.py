"""Scenario repos: each directory is a small repo plus expected.json (verdict, rules, findings).

expected.json: `verdict`; `rules`, the exact set of rule ids found; `findings`, findings that
must be present (rule, path, and line / message / recourse_contains when given); `count`,
exact number of findings per rule; `policy_dirs`, extra policy dirs relative to the repo root.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import ROOT
from app.files import read_tree
from jobs.auditor.core import audit_files

HERE = Path(__file__).parent
SCENARIOS = sorted(p.name for p in HERE.iterdir() if (p / "expected.json").is_file())


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario(name: str) -> None:
    root = HERE / name
    expected = json.loads((root / "expected.json").read_text())
    files = {p: t for p, t in read_tree(root).items() if p != "expected.json"}
    dirs = [ROOT / d for d in expected.get("policy_dirs", [])]
    result = audit_files(files, policy_dirs=dirs)
    found = result.findings
    summary = "\n".join(f"{f.path}:{f.line} {f.rule} {f.message}" for f in found)
    assert {f.rule for f in found} == set(expected["rules"]), summary
    assert result.verdict.value == expected["verdict"], summary
    for want in expected.get("findings", []):
        assert any(
            f.rule == want["rule"] and f.path == want["path"]
            and ("line" not in want or f.line == want["line"])
            and ("message" not in want or f.message == want["message"])
            and want.get("recourse_contains", "") in f.recourse
            for f in found
        ), f"missing {want}\n{summary}"
    for rule, count in expected.get("count", {}).items():
        assert sum(f.rule == rule for f in found) == count, summary


def test_all_builtin_rules_have_a_positive_scenario() -> None:
    rules = set()
    for name in SCENARIOS:
        rules |= set(json.loads((HERE / name / "expected.json").read_text())["rules"])
    builtin = {f"GHA00{i}" for i in range(1, 6)} | {f"DKR00{i}" for i in range(1, 6)}
    builtin |= {f"K8S{i:03}" for i in range(1, 12)} | {"SEC001", "PROV001"}
    assert builtin <= rules, builtin - rules

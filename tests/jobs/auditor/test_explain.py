"""`/crew explain` reads the real policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.auditor.explain import explain
from jobs.auditor.report import TITLES

BUILT_IN = sorted(r for r in TITLES if not r.startswith(("INPUT", "POLICY", "CONFIG")))


@pytest.mark.parametrize("rule", BUILT_IN)
def test_every_built_in_rule_has_a_title_file_and_recourse(rule: str) -> None:
    text = explain(rule.lower())
    assert text.startswith(f"**{rule}: {TITLES[rule]}** (`policies/")
    assert "How to satisfy it: " in text
    assert f"`/crew waive {rule} <reason>`" in text


def test_recourse_is_the_rules_own() -> None:
    assert "Pin a version tag" in explain("DKR001")
    assert "rotate it now" in explain("SEC001")


def test_unknown_rule_lists_the_known_ones() -> None:
    text = explain("XYZ999")
    assert text.startswith("`XYZ999` is not a rule of the policies here.")
    assert "GHA001" in text


def test_a_rule_written_another_way_is_named_without_recourse(tmp_path: Path) -> None:
    (tmp_path / "custom.rego").write_text(
        'package main\n\ndeny contains msg if {\n\tinput.x\n\tmsg := "ORG001"\n}\n')
    text = explain("ORG001", [tmp_path])
    assert text.startswith("**ORG001: ORG001** (`custom.rego`)")
    assert "could not be read" in text

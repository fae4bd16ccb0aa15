"""Hostile input beyond tests/jobs/test_auditor.py: each case ends in a finding or a clean
result within a bounded time, never an exception or a hang — and fixes never crash on it."""

from __future__ import annotations

import pytest

from app.findings import Verdict
from jobs.auditor.core import audit_files
from jobs.auditor.fixes import apply_fixes

pytestmark = pytest.mark.timeout(30)

BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] + [
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(9)])

HOSTILE = {
    ".github/workflows/bomb.yml": "on: push\njobs: {}\n" + BOMB + "\n",
    "k8s/deep.yaml": "kind: Pod\nspec: " + "[" * 50_000 + "]" * 50_000 + "\n",
    "k8s/tabs.yaml": "kind: Pod\nmetadata:\n\tname: x\n",
    "Dockerfile": "# only a comment\n",
    "api/Dockerfile": "FROM alpine:3.20\nRUN " + "x" * 3_000_000 + "\n",
    "blob.bin": "\x00" * 1024,
    ".github/workflows/binary.yml": "\x00\xff\x00 not yaml",
    "k8s/empty.yaml": "",
    "k8s/nul-key.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: \"a\\0b\"}\nspec: {}\n",
}


def test_a_repository_of_hostile_files_is_audited_without_crashing() -> None:
    result = audit_files(HOSTILE, changed={p: {1} for p in HOSTILE})
    by_path = {f.path: f for f in result.findings if f.rule.startswith("INPUT")}
    assert "alias bomb" in by_path[".github/workflows/bomb.yml"].message
    assert "no instructions" in by_path["Dockerfile"].message
    assert "binary" in by_path[".github/workflows/binary.yml"].message
    assert "k8s/deep.yaml" in by_path and "k8s/tabs.yaml" in by_path
    assert "api/Dockerfile" in by_path  # over the size bound: a human reviews it
    assert result.verdict is Verdict.FAIL
    # Fixes skip what does not parse instead of raising.
    assert set(apply_fixes(HOSTILE, result.findings)) <= set(HOSTILE) - set(by_path)


@pytest.mark.parametrize("text", [
    "kind: Deployment\napiVersion: apps/v1\nspec: {template: {spec: {containers: 7}}}\n",
    "kind: Deployment\napiVersion: apps/v1\nspec: {template: {spec: {containers: [7, null]}}}\n",
    "kind: Pod\napiVersion: v1\nmetadata: {name: p}\n"
    "spec: {containers: [{name: a, securityContext: yes}]}\n",
    "kind: Pod\napiVersion: v1\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a,\n"
    "     image: b}\n",
])
def test_odd_but_valid_manifests_are_evaluated_and_fixes_stay_safe(text: str) -> None:
    files = {"k8s/odd.yaml": text}
    result = audit_files(files)
    assert not [f for f in result.findings if f.rule.startswith("POLICY")]
    for fixed in apply_fixes(files, result.findings).values():
        assert not audit_files({"k8s/odd.yaml": fixed}).errors


def test_manifest_without_a_name_is_evaluated() -> None:
    result = audit_files({"k8s/p.yaml": "kind: Pod\napiVersion: v1\n"
                                        "spec: {containers: [{name: a, image: 'b:1'}]}\n"})
    assert not [f for f in result.findings if f.rule.startswith("POLICY")]
    assert {f.rule for f in result.findings} >= {"K8S002", "K8S004"}

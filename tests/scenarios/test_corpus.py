"""Every policy on every scenario input, compared with the findings stored in corpus.json.

corpus.json was reviewed by hand; a change of findings shows here as a diff to review again.
Rewrite it after a deliberate change with `python -m tests.scenarios.test_corpus --write`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from app import ROOT
from app.files import read_tree
from jobs.auditor.core import audit_files

HERE = Path(__file__).parent
CORPUS = HERE / "corpus.json"
SCENARIOS = sorted(p.name for p in HERE.iterdir() if (p / "expected.json").is_file())


def findings_of(name: str) -> list[str]:
    root = HERE / name
    expected = json.loads((root / "expected.json").read_text())
    files = {p: t for p, t in read_tree(root).items() if p != "expected.json"}
    dirs = [ROOT / d for d in expected.get("policy_dirs", [])]
    result = audit_files(files, policy_dirs=dirs)
    return [f"{f.path}:{f.line or 0} {f.rule} {f.severity.value} {f.message}"
            for f in result.findings]


@pytest.mark.parametrize("name", SCENARIOS)
def test_findings_equal_the_reviewed_corpus(name: str) -> None:
    stored = json.loads(CORPUS.read_text())
    assert findings_of(name) == stored[name]


def test_corpus_covers_every_scenario() -> None:
    assert sorted(json.loads(CORPUS.read_text())) == SCENARIOS


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    CORPUS.write_text(json.dumps({n: findings_of(n) for n in SCENARIOS}, indent=1) + "\n")

from __future__ import annotations

from pathlib import Path

import pytest

from app.files import Files, read_tree

REPOS = Path(__file__).parent / "repos"
GOLDEN = Path(__file__).parent / "golden"
REPO_NAMES = sorted(p.name for p in REPOS.iterdir() if p.is_dir())


def repo(name: str) -> Files:
    return read_tree(REPOS / name)


@pytest.fixture(params=REPO_NAMES)
def repo_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)

# Sample repos hold their own tests (test_*.py); they are data, not part of our suite.
collect_ignore = ["repos", "golden"]

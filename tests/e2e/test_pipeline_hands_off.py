"""The pipeline engineer never commits to a bot's PR, a draft, or what `generate.ignore`
names: it suggests the files in its check run instead (Dependabot stops rebasing a PR once
someone else commits to it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Crew
from tests.e2e.test_pipeline import OWNER, SERVICE, _bot_commits, _open, _runs

IGNORE = "generate:\n  ignore: {labels: [no-shipcrew], branches: ['release/**']}\n"


@pytest.mark.parametrize(("extra", "why"), [
    ({"user": "dependabot[bot]"}, "the pull request was opened by a bot (@dependabot[bot])"),
    ({"draft": True}, "the pull request is a draft"),
    ({"labels": ["no-shipcrew"]}, "generate.ignore.labels lists `no-shipcrew`"),
    ({"head": "release/1.0"}, "generate.ignore.branches matches `release/1.0`"),
], ids=["bot", "draft", "label", "branch"])
def test_left_alone_gets_suggestions(crew: Crew, extra: dict[str, Any], why: str) -> None:
    head = extra.pop("head", "feature")
    emu = crew.emulator
    emu.create_repo(OWNER, "deps", {"README.md": "# deps\n", ".github/shipcrew.yml": IGNORE})
    pr = emu.open_pull(OWNER, "deps", head, SERVICE, **{"user": "alice", **extra})
    crew.work()
    assert _bot_commits(crew, "deps") == []
    [run] = _runs(crew, "deps", pr["head_sha"])
    assert run["conclusion"] == "neutral", run["output"]
    assert f"Nothing committed: {why}" in run["output"]["summary"]
    assert "### `Dockerfile`" in run["output"]["text"]


def test_an_ordinary_pr_still_gets_its_commit_and_its_head_the_summary(crew: Crew) -> None:
    pr = _open(crew, "plain", SERVICE, main={".github/shipcrew.yml": IGNORE})
    crew.work()
    [commit] = _bot_commits(crew, "plain")
    [mine] = _runs(crew, "plain", pr["head_sha"])
    # the head the PR shows now is our commit: its checks tab carries the same summary
    [shown] = _runs(crew, "plain", commit["sha"])
    assert shown["output"]["summary"] == mine["output"]["summary"]
    assert shown["conclusion"] == mine["conclusion"] == "success"

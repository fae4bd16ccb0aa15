from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from app.config import GenerateIgnore
from jobs.pipeline.github import left_alone

IGNORE = GenerateIgnore(authors=["Intern"], labels=["no-shipcrew"], branches=["release/**"])


def _pr(login: str = "alice", kind: str = "User", draft: bool = False,
        labels: tuple[str, ...] = (), ref: str = "feature") -> NS:
    return NS(user=NS(login=login, type=kind), draft=draft,
              labels=[NS(name=n) for n in labels], head=NS(ref=ref))


@pytest.mark.parametrize(("pr", "why"), [
    (_pr(), None),
    (_pr("renovate[bot]", "Bot"), "the pull request was opened by a bot (@renovate[bot])"),
    (_pr("dependabot"), "the pull request was opened by a bot (@dependabot)"),
    (_pr(draft=True), "the pull request is a draft"),
    (_pr("intern"), "generate.ignore.authors lists @intern"),
    (_pr(labels=("x", "no-shipcrew")), "generate.ignore.labels lists `no-shipcrew`"),
    (_pr(ref="release/2.0/hotfix"), "generate.ignore.branches matches `release/2.0/hotfix`"),
])
def test_left_alone(pr: NS, why: str | None) -> None:
    assert left_alone(pr, IGNORE) == why

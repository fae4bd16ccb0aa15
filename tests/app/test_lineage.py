"""Does a merged commit carry its pull request's evidence? (pure part of app.lineage)"""

from __future__ import annotations

import pytest

from app.config import RepoConfig, RiskConfig
from app.lineage import Lineage, judge


@pytest.mark.parametrize(("base_only", "inherits", "why"), [
    ([], True, "has the approved head's files"),
    (["docs/ops.md", "README.md"], True, "changed only low-risk files since (`README.md`"),
    (["app.py"], False, "medium-risk files (`app.py`): judged on its own"),
    ([".github/workflows/deliver.yml"], False, "high-risk files"),
])
def test_judge(base_only: list[str], inherits: bool, why: str) -> None:
    got, reason = judge("t1", "t2", base_only, RepoConfig())
    assert got is inherits and why in reason


def test_same_tree_always_inherits() -> None:
    assert judge("t", "t", ["app.py"], RepoConfig()) == (
        True, "the merged tree is the approved head's tree")


def test_config_risk_globs_decide_what_the_base_may_change() -> None:
    config = RepoConfig(risk=RiskConfig(high=["docs/runbooks/**"]))
    assert judge("t1", "t2", ["docs/runbooks/db.md"], config)[0] is False


def test_describe() -> None:
    direct = Lineage(sha="a" * 40, branch="main", reason="no merged pull request")
    assert direct.describe() == "`aaaaaaa` on `main`: no merged pull request"
    merged = Lineage(sha="a" * 40, branch="main", number=7, pr_head="b" * 40, inherits=False,
                     reason="why")
    assert merged.describe() == ("`aaaaaaa` on `main` does not inherit the evidence of #7 "
                                 "(head `bbbbbbb`): why")

"""A pull request whose head is over the size caps gets a clear check-run message through the
whole App (webhook endpoint, queue, worker, emulator), never a dead or stalled worker."""

from __future__ import annotations

import pytest

from app import gitdata
from tests.e2e.conftest import Crew

pytestmark = pytest.mark.timeout(60)

CHECK = "shipcrew / policy"


def _runs(crew: Crew, repo: str, sha: str) -> list[dict]:
    runs = crew.emulator.state("octo", repo)["check_runs"]
    return [r for r in runs if r["name"] == CHECK and r["head_sha"] == sha]


@pytest.mark.parametrize(("cap", "value", "said"), [
    ("max_files", 5, "the head has over 5 files"),
    ("max_text", 2048, "the head's files total over 0 MB"),
])
def test_a_head_over_a_cap_gets_a_clear_check_run(crew: Crew, monkeypatch: pytest.MonkeyPatch,
                                                   cap: str, value: int, said: str) -> None:
    # the real caps (20,000 files, 100 MB) lowered so that a small head is over them
    monkeypatch.setitem(gitdata.read_archive.__kwdefaults__, cap, value)
    crew.emulator.create_repo("octo", "big", {"README.md": "# big\n"})
    head = {f"docs/page{i}.md": "lorem ipsum\n" * 40 for i in range(8)}
    pr = crew.emulator.open_pull("octo", "big", "bulk", head, user="alice")
    crew.work()  # returns: nothing is retried forever

    (run,) = _runs(crew, "big", pr["head_sha"])
    assert (run["status"], run["conclusion"]) == ("completed", "failure"), run
    summary = run["output"]["summary"]
    assert "INPUT004" in summary and said in summary and "Split the pull request" in summary
    assert crew.pending() == 0
    errored = [r for r in crew.emulator.state("octo", "big")["check_runs"]
               if r["output"]["title"] == "shipcrew errored"]
    assert errored == []  # an answer, not a dead letter

"""The GitHub API calls each flow may make (counts, not time), through the webhook endpoint,
real workers and the emulator's request log.

The `crew` fixture sets APP_SLUG: until the App learns its own slug at start-up (issue 10),
loop protection needs it, and without it our own commit would be planned again.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from app.files import read_tree
from tests.e2e.conftest import Crew
from tests.jobs.conftest import REPOS

SERVICE = read_tree(REPOS / "py-fastapi-uv")
OWNER, NAME = "octo", "budget"


def _calls(crew: Crew, action: Any) -> list[tuple[str, str, str]]:
    crew.work()
    crew.emulator.clear_requests()
    action()
    crew.work()
    return [(r["method"], r["path"], r["query"]) for r in crew.emulator.requests()]


def _repeated(calls: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Reads (and token requests) made more than once: the same answer asked for again."""
    counts = Counter(c for c in calls if c[0] == "GET" or c[1].endswith("/access_tokens"))
    return [c for c, n in counts.items() if n > 1]


def _open(crew: Crew) -> list[tuple[str, str, str]]:
    emu = crew.emulator
    emu.create_repo(OWNER, NAME, SERVICE)
    main = {"app/main.py": "# v2\n" + SERVICE["app/main.py"]}
    return _calls(crew, lambda: emu.open_pull(OWNER, NAME, "feature", main, user="alice"))


def test_a_pull_request_open_costs_at_most_twelve_calls_none_repeated(crew: Crew) -> None:
    calls = _open(crew)
    # issue 16's budget, with the `shipcrew / pipeline` summary posted again on the head the PR
    # shows after our commit, so GitHub's checks tab shows it (issue 12)
    assert len(calls) <= 12, calls
    assert sum(1 for m, p, _ in calls if (m, p) == ("POST", f"/repos/{OWNER}/{NAME}/check-runs")
               ) == 3  # queued pipeline run, its summary on the new head, the policy verdict
    assert _repeated(calls) == []
    # first feedback before any read: after the token, the urgent step opens the pipeline run
    assert calls[0][1].endswith("/access_tokens")
    assert calls[1][:2] == ("POST", f"/repos/{OWNER}/{NAME}/check-runs")
    paths = Counter(f"{m} {p}" for m, p, _ in calls)
    base = f"/repos/{OWNER}/{NAME}"
    # the PR is the webhook's (its file list shows the head is current); read once: its
    # files, the config, the head's tarball
    assert paths[f"GET {base}/pulls/1"] == 0
    assert paths[f"GET {base}/pulls/1/files"] == 1
    assert paths[f"GET {base}/contents/.github/shipcrew.yml"] == 1
    assert sum(n for k, n in paths.items() if "/tarball/" in k) == 1
    # and the work was done: the pipeline committed, the new head has its verdict
    state = crew.emulator.state(OWNER, NAME)
    head = state["branches"]["feature"]
    runs = {(r["name"], r["head_sha"]): r for r in state["check_runs"]}
    assert runs[("shipcrew / policy", head)]["status"] == "completed"
    # the planner's queued pipeline run is the one the pipeline engineer completed (nothing
    # left queued), and the same summary stands on the new head
    pipeline = [r for r in state["check_runs"] if r["name"] == "shipcrew / pipeline"]
    assert [(r["status"], r["conclusion"]) for r in pipeline] == [("completed", "success")] * 2
    assert head in {r["head_sha"] for r in pipeline} and len({r["head_sha"] for r in pipeline}) == 2
    assert [e["status"] for e in crew.audit("generate")] == ["committed"]


def test_a_readme_push_and_crew_plan_read_each_thing_once(crew: Crew) -> None:
    _open(crew)
    emu = crew.emulator
    readme = _calls(crew, lambda: emu.push(OWNER, NAME, 1, {"README.md": "# more\n"},
                                           user="alice"))
    assert len(readme) <= 6, readme
    assert not [c for c in readme if c[1].endswith('/pulls/1')]
    assert _repeated(readme) == []
    plan = _calls(crew, lambda: emu.comment(OWNER, NAME, 1, "/crew plan", "alice", "write"))
    assert len(plan) <= 8, plan
    assert _repeated(plan) == []

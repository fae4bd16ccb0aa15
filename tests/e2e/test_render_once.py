"""Helm runs once per chart content: a PR open renders its chart in one child (validation's
lint and render), the audit of the crew's commit is served the same render, and a README-only
push starts no Helm child at all. Through the webhook endpoint, real workers, real Helm."""

from __future__ import annotations

from typing import Any

import pytest

from app import helm
from app.files import read_tree
from tests.e2e.conftest import Crew
from tests.jobs.conftest import REPOS

SERVICE = read_tree(REPOS / "py-fastapi-uv")
OWNER, NAME = "octo", "render-once"


@pytest.fixture
def helm_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Renders asked for (by chart name) and Helm children started (by op)."""
    calls: dict[str, list[str]] = {"asked": [], "children": []}
    real_isolated, real_render = helm._isolated, helm.render_chart

    def isolated(op: str, **request: Any) -> dict[str, Any]:
        calls["children"].append(op)
        return real_isolated(op, **request)

    def render(chart: dict[str, str], *args: Any, **kwargs: Any) -> dict[str, str]:
        calls["asked"].append(chart["Chart.yaml"].split("name:", 1)[1].split()[0])
        return real_render(chart, *args, **kwargs)

    monkeypatch.setattr(helm, "_isolated", isolated)
    monkeypatch.setattr(helm, "render_chart", render)  # the auditor looks it up per call
    return calls


def test_one_helm_child_per_pull_request_open_none_for_a_readme_push(crew: Crew,
                                              helm_calls: dict[str, list[str]]) -> None:
    emu = crew.emulator
    emu.create_repo(OWNER, NAME, SERVICE)
    crew.work()
    helm_calls["asked"].clear(), helm_calls["children"].clear()
    emu.open_pull(OWNER, NAME, "feature", {"app/main.py": "# v2\n" + SERVICE["app/main.py"]},
                  user="alice")
    crew.work()
    state = emu.state(OWNER, NAME)
    head = state["branches"]["feature"]
    assert [e["status"] for e in crew.audit("generate")] == ["committed"]
    verdicts = [r for r in state["check_runs"]
                if r["name"] == "shipcrew / policy" and r["head_sha"] == head]
    assert [r["status"] for r in verdicts] == ["completed"]
    # the audits of the new head (the PR's, the push's) asked for the chart and were served
    # the render validation kept
    assert helm_calls["asked"] and set(helm_calls["asked"]) == {"orders-api"}
    assert helm_calls["children"] == ["check"]  # validation's; the audit's render was kept

    helm_calls["asked"].clear(), helm_calls["children"].clear()
    emu.push(OWNER, NAME, 1, {"README.md": "# more\n"}, user="alice")
    crew.work()
    assert "orders-api" in helm_calls["asked"]  # audited again, the chart unchanged
    assert helm_calls["children"] == []

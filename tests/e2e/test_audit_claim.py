"""The pipeline engineer's commit is audited once: its audit is claimed before the branch
moves, so the commit's own `pull_request.synchronize`, however early a worker takes it, finds
the claim and stays idle (seen in bench/chaos.py: two verdicts on the crew's commit when that
audit started between the branch update and the claim)."""

from __future__ import annotations

from typing import Any

import pytest
from githubkit import GitHub

from app.files import read_tree
from app.handoff import CLAIM_KEY
from tests.e2e.conftest import Crew
from tests.jobs.conftest import REPOS

SERVICE = read_tree(REPOS / "py-fastapi-uv")
OWNER, NAME = "octo", "claim"


def test_the_crews_commit_is_claimed_before_the_branch_moves_to_it(
        crew: Crew, monkeypatch: pytest.MonkeyPatch) -> None:
    client = GitHub("unused")  # held: githubkit's namespaces need their client alive
    git_client = type(client.rest.git)
    real = git_client.update_ref
    claimed_at_update: list[bool] = []

    def update_ref(self: Any, owner: str, repo: str, ref: str, *args: Any, **kwargs: Any) -> Any:
        sha = kwargs["data"]["sha"]
        key = CLAIM_KEY.format(repo=f"{owner}/{repo}".lower(), sha=sha)
        claimed_at_update.append(bool(crew.conn.exists(key)))
        return real(self, owner, repo, ref, *args, **kwargs)

    monkeypatch.setattr(git_client, "update_ref", update_ref)
    emu = crew.emulator
    emu.create_repo(OWNER, NAME, SERVICE)
    emu.open_pull(OWNER, NAME, "feature", {"app/main.py": "# v2\n" + SERVICE["app/main.py"]},
                  user="alice")
    crew.work()
    assert claimed_at_update == [True]  # one commit, claimed before GitHub saw it on the branch
    state = emu.state(OWNER, NAME)
    head = state["branches"]["feature"]
    verdicts = [r for r in state["check_runs"]
                if r["name"] == "shipcrew / policy" and r["head_sha"] == head]
    assert len(verdicts) == 1 and verdicts[0]["status"] == "completed"

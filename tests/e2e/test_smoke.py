"""Smoke: a PR opened on the emulated GitHub reaches the App and its job runs."""

from __future__ import annotations

from tests.e2e.conftest import Crew


def test_pull_request_reaches_the_app_and_the_job_runs(crew: Crew) -> None:
    emu = crew.emulator
    emu.create_repo("octo", "shop", {"README.md": "# shop\n", "app.py": "print(1)\n"})
    pr = emu.open_pull("octo", "shop", "feature", {"app.py": "print(2)\n", "docs/x.md": "x\n"},
                       user="alice")
    deliveries = [d for d in emu.deliveries() if d["event"] == "pull_request"]
    assert [d["status_code"] for d in deliveries] == [202]
    # one urgent job: who made the head (issue 10), its check runs, then the plan (issue 16)
    assert crew.pending() == 1

    crew.work()

    plans = crew.audit("plan")
    assert len(plans) == 1
    assert plans[0]["head_sha"] == pr["head_sha"]
    assert sorted(plans[0]["files"]) == ["app.py", "docs/x.md"]
    assert plans[0]["config"] == "ok"
    # The job authenticated as the installation and read what it planned from.
    calls = [(r["method"], r["path"], r["status"]) for r in emu.requests()]
    assert ("POST", f"/app/installations/{_inst(emu)}/access_tokens", 201) in calls
    assert ("GET", "/repos/octo/shop/pulls/1/files", 200) in [
        (m, p.split("?")[0], s) for m, p, s in calls]


def _inst(emu) -> int:
    return next(iter(emu.store.installations.values())).id


def test_broken_config_fails_a_check_with_file_and_line(crew: Crew) -> None:
    emu = crew.emulator
    emu.create_repo("octo", "cfg", {"README.md": "# x\n",
                                    ".github/shipcrew.yml": "generate:\n  mode: sometimes\n"})
    pr = emu.open_pull("octo", "cfg", "feature", {"docs/x.md": "x\n"}, user="alice")
    crew.work()
    runs = [r for r in emu.state("octo", "cfg")["check_runs"] if r["name"] == "shipcrew / config"]
    assert len(runs) == 1
    run = runs[0]
    assert (run["head_sha"], run["conclusion"]) == (pr["head_sha"], "failure")
    [note] = run["annotations"]
    assert (note["path"], note["start_line"]) == (".github/shipcrew.yml", 2)
    assert "generate.mode" in note["message"]
    # The crew still planned, with the defaults.
    assert crew.audit("plan")[0]["config"] == "error"

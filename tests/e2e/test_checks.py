"""app.checks against the emulator, which enforces GitHub's limits."""

from __future__ import annotations

from app import checks
from app.github import client_for
from tests.e2e.conftest import Crew


def test_annotations_go_out_in_batches_of_50(crew: Crew) -> None:
    emu = crew.emulator
    repo = emu.create_repo("octo", "many", {"a.txt": "a\n"})
    sha = emu.state("octo", "many")["branches"]["main"]
    gh = client_for(repo["installation_id"])
    notes = [checks.Annotation("a.txt", i + 1, "warning", f"note {i}") for i in range(120)]
    emu.clear_requests()
    run_id = checks.publish(gh, "octo", "many", name="shipcrew / policy", head_sha=sha,
                            conclusion="failure", title="t", summary="x" * 70_000,
                            annotations=notes)
    [run] = [r for r in emu.state("octo", "many")["check_runs"] if r["id"] == run_id]
    assert [a["message"] for a in run["annotations"]] == [f"note {i}" for i in range(120)]
    assert len(run["output"]["summary"]) == checks.MAX_OUTPUT_CHARS
    calls = [(r["method"], r["status"]) for r in emu.requests()
             if "check-runs" in r["path"]]
    assert calls == [("POST", 201), ("PATCH", 200), ("PATCH", 200)]


def test_start_then_complete_the_same_run(crew: Crew) -> None:
    emu = crew.emulator
    repo = emu.create_repo("octo", "one", {"a.txt": "a\n"})
    sha = emu.state("octo", "one")["branches"]["main"]
    gh = client_for(repo["installation_id"])
    run_id = checks.start(gh, "octo", "one", name="shipcrew / pipeline", head_sha=sha,
                          title="Detecting stacks")
    checks.publish(gh, "octo", "one", name="shipcrew / pipeline", head_sha=sha,
                   conclusion="success", title="Done", summary="ok", check_run_id=run_id,
                   actions=[checks.Action("Apply fixes", "Commit the safe fixes", "apply-fixes")])
    [run] = emu.state("octo", "one")["check_runs"]
    assert (run["id"], run["status"], run["conclusion"]) == (run_id, "completed", "success")
    assert run["actions"][0]["identifier"] == "apply-fixes"

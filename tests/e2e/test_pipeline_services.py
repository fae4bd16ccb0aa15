"""`services:` and "could not tell", the way a team meets them: a PR on (emulated) GitHub.

A FastAPI project whose entry point detection cannot find gets no image, and the
`shipcrew / pipeline` check run says what it saw and which `services:` entry settles it; the
same entry on the default branch then yields the image. A broken entry fails
`shipcrew / config` at its line.
"""

from __future__ import annotations

from typing import Any

from jobs.pipeline.github import CHECK_NAME
from tests.e2e.conftest import Crew

OWNER = "octo"
# The application is assembled in a module detection does not read as one (no `app = ...`).
SERVICE = {
    "requirements.txt": "fastapi==0.115.0\nuvicorn==0.30.0\n",
    "api/__init__.py": "",
    "api/routes.py": "from fastapi import APIRouter\nrouter = APIRouter()\n",
    "api/server.py": "from fastapi import FastAPI\n\n\ndef assemble():\n    return FastAPI()\n",
}
SERVICES = (
    "services:\n"
    "  - path: .\n"
    "    language: python\n"
    "    port: 8080\n"
    '    start: "uvicorn api.server:assemble --factory --host 0.0.0.0 --port 8080"\n'
)


def _pipeline_run(crew: Crew, name: str, head_sha: str) -> dict[str, Any]:
    [run] = [
        r
        for r in crew.emulator.state(OWNER, name)["check_runs"]
        if r["name"] == CHECK_NAME and r["head_sha"] == head_sha
    ]
    return run


def test_could_not_tell_then_settled_by_services(crew: Crew) -> None:
    emu = crew.emulator
    emu.create_repo(OWNER, "api", {"README.md": "# api\n"})
    pr = emu.open_pull(OWNER, "api", "feature", SERVICE, user="alice")
    crew.work()
    summary = _pipeline_run(crew, "api", pr["head_sha"])["output"]["summary"]
    assert "## Could not tell" in summary
    assert "which module creates the fastapi application" in summary
    assert "fastapi is a runtime dependency (requirements.txt)" in summary
    assert 'path: "."' in summary and "language: python" in summary
    branch = emu.state(OWNER, "api")["files"]["feature"]
    assert "Dockerfile" not in branch and ".github/workflows/ci.yml" in branch

    emu.create_repo(OWNER, "api2", {"README.md": "# api\n", ".github/shipcrew.yml": SERVICES})
    pr = emu.open_pull(OWNER, "api2", "feature", SERVICE, user="alice")
    crew.work()
    run = _pipeline_run(crew, "api2", pr["head_sha"])
    assert run["conclusion"] == "success" and "Could not tell" not in run["output"]["summary"]
    assert "services: port, start set in .github/shipcrew.yml" in run["output"]["summary"]
    branch = emu.state(OWNER, "api2")["files"]["feature"]
    assert '"api.server:assemble", "--factory"' in branch["Dockerfile"]
    assert "containerPort: 8080" in branch["deploy/helm/api2/values.yaml"]


def test_a_broken_services_entry_fails_the_config_check_at_its_line(crew: Crew) -> None:
    emu = crew.emulator
    config = "services:\n  - path: ../outside\n    port: 70000\n"
    emu.create_repo(OWNER, "bad", {"README.md": "# x\n", ".github/shipcrew.yml": config})
    emu.open_pull(OWNER, "bad", "feature", SERVICE, user="alice")
    crew.work()
    [run] = [
        r for r in emu.state(OWNER, "bad")["check_runs"] if r["name"] == "shipcrew / config"
    ]
    assert run["conclusion"] == "failure"
    notes = sorted((n["start_line"], n["message"]) for n in run["annotations"])
    assert [line for line, _ in notes] == [2, 3]
    assert "services.0.path" in notes[0][1] and "services.0.port" in notes[1][1]

"""The tree shows the crew: one package per agent, no agent reaching into another's GitHub
edge, no import cycle between agents, and the RQ job paths of the last release still run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from rq.utils import import_attribute

ROOT = Path(__file__).parents[1]
AGENTS = ("pipeline", "auditor", "release")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def _agent(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "jobs" and parts[1] in AGENTS else None


def _graph() -> dict[str, set[str]]:
    """Agent -> the other agents its modules import."""
    edges: dict[str, set[str]] = {a: set() for a in AGENTS}
    for agent in AGENTS:
        for path in (ROOT / "jobs" / agent).rglob("*.py"):
            edges[agent].update(o for o in map(_agent, _imports(path)) if o and o != agent)
    return edges


def test_no_agent_imports_another_agents_github_edge() -> None:
    """The command runner and the offline crew compose agents; agents never reach into
    each other's GitHub edge (what two agents share lives in app/)."""
    for agent in AGENTS:
        for path in (ROOT / "jobs" / agent).rglob("*.py"):
            for module in _imports(path):
                other = _agent(module)
                if other and other != agent and module.startswith(f"jobs.{other}.github"):
                    pytest.fail(f"{path.relative_to(ROOT)} imports {module}")


def test_no_import_cycle_between_agents() -> None:
    edges = _graph()

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n}))
                   for n in edges[start])

    assert [a for a in AGENTS if reaches(a, a)] == []


def test_shared_git_data_lives_in_app() -> None:
    assert "jobs.pipeline.github.read_head" not in _imports(ROOT / "jobs/auditor/github.py")
    assert "app.gitdata.read_head" in _imports(ROOT / "jobs/auditor/github.py")


@pytest.mark.parametrize("path", [
    # the job paths the last release enqueued (a job waiting in Redis across an upgrade)
    "jobs.planner.plan_pull_request",
    "jobs.pipeline.generate_for_pull_request",
    "jobs.auditor.audit_pull_request",
    "jobs.auditor.on_check_run_action",
    "jobs.auditor.rerun",
    "jobs.commands.handle_comment",
    "jobs.release.on_protection_rule",
    "jobs.release.reevaluate",
    "jobs.release.recheck",
    "jobs.deploy.on_deployment_status",
    # and the new canonical ones
    "jobs.command_runner.handle_comment",
    "jobs.release.on_deployment_status",
])
def test_job_paths_resolve_to_callables(path: str) -> None:
    assert callable(import_attribute(path))


def test_old_aliases_run_the_new_code() -> None:
    from jobs import command_runner, commands, deploy, release

    assert commands.handle_comment is command_runner.handle_comment
    assert deploy.on_deployment_status is release.on_deployment_status

"""The pure parts of the pipeline engineer's GitHub glue: reading a tarball, never writing
over unreadable files, deciding the outcome, and what the check run says."""

from __future__ import annotations

import io
import re
import tarfile

from app.config import GenerateMode, PoliciesConfig
from app.gitdata import read_archive
from jobs.pipeline.github import deliver, policy_gate, protect_unreadable
from jobs.pipeline.plan import gate, plan_generation
from jobs.pipeline.report import check_output
from jobs.pipeline.validate import ValidationReport
from tests.jobs.conftest import repo

NO_GITHUB = None  # these outcomes are decided before any GitHub call


def _tarball(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path, data in entries.items():
            info = tarfile.TarInfo(f"octo-demo-abc1234/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for path, target in (links or {}).items():
            info = tarfile.TarInfo(f"octo-demo-abc1234/{path}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return out.getvalue()


def test_read_archive_strips_the_top_directory_and_keeps_text_only() -> None:
    data = _tarball({"app.py": b"print(1)\n", "logo.png": b"\x89PNG\0\0", "big.txt": b"x" * 50},
                    links={"Dockerfile": "docker/Dockerfile"})
    files, present = read_archive(data, max_file_bytes=20)
    assert files == {"app.py": "print(1)\n"}
    assert present == {"app.py", "logo.png", "big.txt", "Dockerfile"}


def test_a_path_that_exists_unreadable_is_never_created_over() -> None:
    files = repo("py-fastapi-uv")
    plan = protect_unreadable(plan_generation(files), {"Dockerfile"})
    [docker] = [a for a in plan.artifacts if a.path == "Dockerfile"]
    assert (docker.action, docker.reason) == (
        "skip", "exists and is not a text file shipcrew can read")
    assert "Dockerfile" not in plan.changes and ".dockerignore" in plan.changes


def test_a_validation_failure_in_commit_mode_fails_and_commits_nothing() -> None:
    files = repo("py-fastapi-uv")
    generated = plan_generation(files).changes
    # Everything is up to date except a Dockerfile hadolint rejects.
    broken = generated["Dockerfile"].replace("USER", "RUN sudo true\nUSER", 1)
    plan = plan_generation({**files, **generated})
    plan.artifacts = [a.model_copy(update={"content": broken, "action": "update"})
                      if a.path == "Dockerfile" else a for a in plan.artifacts]
    plan, report = gate(plan)
    assert plan.changes == {}
    outcome = deliver(NO_GITHUB, NO_GITHUB, "0" * 40, plan, GenerateMode.COMMIT, fork=False)
    assert (outcome.status, outcome.conclusion, outcome.commit) == ("failed", "failure", None)
    title, summary, _ = check_output(plan, report, outcome, GenerateMode.COMMIT, fork=False)
    assert title == "1 generated files failed validation; nothing committed"
    assert "**hadolint**: 1 files, 1 errors" in summary
    assert "DL3004" in summary  # hadolint's rule for sudo, named in the check run
    # The same failure on a fork is never a failure.
    fork = deliver(NO_GITHUB, NO_GITHUB, "0" * 40, plan, GenerateMode.COMMIT, fork=True)
    assert fork.conclusion == "neutral"


def test_suggestions_carry_every_proposed_file() -> None:
    plan = plan_generation(repo("py-fastapi-uv"))
    outcome = deliver(NO_GITHUB, NO_GITHUB, "0" * 40, plan, GenerateMode.SUGGEST, fork=False)
    assert (outcome.status, outcome.conclusion) == ("suggested", "neutral")
    assert outcome.suggested == plan.changes
    _, summary, text = check_output(plan, ValidationReport(results=[], timings={}), outcome,
                                    GenerateMode.SUGGEST, fork=False)
    assert "generate.mode is suggest" in summary and "| `.` (orders-api) | python |" in summary
    assert all(f"### `{path}`" in text for path in plan.changes)


def test_an_enforced_policy_finding_keeps_the_file_out_unless_audit_only() -> None:
    plan = plan_generation(repo("py-fastapi-uv"))
    rootful = re.sub(r"(?m)^USER .*\n", "", plan.changes["Dockerfile"])
    plan.artifacts = [a.model_copy(update={"content": rootful}) if a.path == "Dockerfile"
                      else a for a in plan.artifacts]
    gated, findings = policy_gate(plan, PoliciesConfig())
    assert [f.rule for f in findings] == ["DKR002"]
    assert "Dockerfile" not in gated.changes and ".dockerignore" in gated.changes
    [docker] = [a for a in gated.artifacts if a.path == "Dockerfile"]
    assert docker.reason.startswith("failed validation: policy DKR002: ")
    audit_only, _ = policy_gate(plan, PoliciesConfig(mode="audit"))
    assert "Dockerfile" in audit_only.changes

"""The auditor through the emulator: verdict check runs, Apply fixes, modes, permissions."""

from __future__ import annotations

import json

import pytest

from app.queue import JobSpec, enqueue
from tests.e2e.conftest import Crew

pytestmark = pytest.mark.timeout(60)

CHECK = "shipcrew / policy"
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: agent  # node agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
        - name: agent
          image: ghcr.io/acme/agent:2.4.1
          ports:
            - containerPort: 8080
          securityContext:
            privileged: true
"""
PRIVILEGED_LINE = DEPLOYMENT.splitlines().index("            privileged: true") + 1
BASE = {"README.md": "# infra\n"}


def policy_runs(crew: Crew, repo: str, sha: str | None = None) -> list[dict]:
    runs = crew.emulator.state("octo", repo)["check_runs"]
    return [r for r in runs if r["name"] == CHECK and (sha is None or r["head_sha"] == sha)]


def open_privileged(crew: Crew, repo: str, base: dict[str, str] | None = None,
                    extra: dict[str, str] | None = None) -> dict:
    crew.emulator.create_repo("octo", repo, {**BASE, **(base or {})})
    pr = crew.emulator.open_pull("octo", repo, "agent", {"k8s/agent.yaml": DEPLOYMENT,
                                                         **(extra or {})}, user="alice")
    crew.work()
    return pr


def test_privileged_deployment_fails_then_apply_fixes_passes(crew: Crew) -> None:
    emu = crew.emulator
    pr = open_privileged(crew, "fixme")
    (run,) = policy_runs(crew, "fixme", pr["head_sha"])
    assert run["conclusion"] == "failure"
    k8s001 = [a for a in run["annotations"] if a["title"].startswith("K8S001")]
    assert [(a["path"], a["start_line"], a["annotation_level"]) for a in k8s001] == [
        ("k8s/agent.yaml", PRIVILEGED_LINE, "failure")]
    assert "Fix: Remove `securityContext.privileged: true`" in k8s001[0]["message"]
    assert "| K8S001 |" in run["output"]["summary"]
    assert [a["identifier"] for a in run["actions"]] == ["apply-fixes"]
    verdict = json.loads(crew.conn.get(f"shipcrew:verdict:octo/fixme:{pr['head_sha']}"))
    assert verdict["verdict"] == "fail" and "K8S001" in verdict["failures"]
    assert verdict["check_run_id"] == run["id"]
    assert crew.audit("verdict")[0]["head_sha"] == pr["head_sha"]

    commits_before = len(emu.state("octo", "fixme")["commits"])
    emu.control("POST", f"/repos/octo/fixme/check-runs/{run['id']}/action",
                {"identifier": "apply-fixes", "user": "octo"})
    crew.work()

    state = emu.state("octo", "fixme")
    assert len(state["commits"]) == commits_before + 1
    (pull,) = state["pulls"]
    fixed = state["files"]["agent"]["k8s/agent.yaml"]
    assert "privileged: false" in fixed and "  name: agent  # node agent\n" in fixed
    new_head = pull["head_sha"]
    assert new_head != pr["head_sha"]
    (rerun,) = policy_runs(crew, "fixme", new_head)
    assert rerun["conclusion"] == "success", rerun["output"]["summary"]
    assert not [a for a in rerun["annotations"] if a["annotation_level"] == "failure"]
    assert json.loads(crew.conn.get(f"shipcrew:verdict:octo/fixme:{new_head}"))[
        "verdict"] == "pass"


def test_audit_mode_reports_without_failing_and_a_pr_cannot_weaken_policy(crew: Crew) -> None:
    config = ".github/shipcrew.yml"
    pr = open_privileged(crew, "modes", base={config: "policies:\n  rules:\n    K8S001: audit\n"},
                         extra={config: "policies:\n  mode: audit\n"})
    (run,) = policy_runs(crew, "modes", pr["head_sha"])
    # K8S001 is audit on the default branch; the PR's own "everything audit" is ignored, so
    # the other hard rule it breaks (K8S004: may run as root) still fails the check.
    levels = {a["title"].split(":")[0]: a["annotation_level"] for a in run["annotations"]}
    assert levels["K8S001"] == "notice"
    assert levels["K8S004"] == "failure"
    assert run["conclusion"] == "failure"
    verdict = json.loads(crew.conn.get(f"shipcrew:verdict:octo/modes:{pr['head_sha']}"))
    assert "K8S001" not in verdict["failures"] and "K8S004" in verdict["failures"]


def test_requester_without_write_permission_is_refused(crew: Crew) -> None:
    emu = crew.emulator
    pr = open_privileged(crew, "perm")
    (run,) = policy_runs(crew, "perm", pr["head_sha"])
    commits_before = len(emu.state("octo", "perm")["commits"])
    emu.control("POST", f"/repos/octo/perm/check-runs/{run['id']}/action",
                {"identifier": "apply-fixes", "user": "mallory"})
    crew.work()
    state = emu.state("octo", "perm")
    assert len(state["commits"]) == commits_before
    (after,) = policy_runs(crew, "perm", pr["head_sha"])
    assert after["conclusion"] == "failure"
    assert "@mallory asked to apply fixes but has `read` permission" in after["output"][
        "summary"]
    assert crew.audit("apply_fixes")[0]["status"] == "refused"


def test_rerequested_check_run_audits_again(crew: Crew) -> None:
    emu = crew.emulator
    pr = open_privileged(crew, "again")
    (run,) = policy_runs(crew, "again", pr["head_sha"])
    # The emulator has no control call for "Re-run": enqueue what the route plans for it.
    enqueue(crew.conn, "rerun-test", JobSpec("rerun", "jobs.auditor.rerun", {
        "installation_id": next(iter(emu.store.installations.values())).id,
        "repo": "octo/again", "delivery_id": "rerun-test", "head_sha": run["head_sha"]}))
    crew.work()
    assert len(policy_runs(crew, "again", pr["head_sha"])) == 2


TEAM_RULE = ('package main\n\nimport rego.v1\n\n'
             'deny contains "team: no ConfigMaps here" if input.kind == "ConfigMap"\n')
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"


def test_a_broken_config_fails_closed_and_says_so(crew: Crew) -> None:
    config = ".github/shipcrew.yml"
    crew.emulator.create_repo("octo", "broken", {
        **BASE, "policy/team.rego": TEAM_RULE,
        config: "policies:\n  dirs: [policy]\n  mode: strict\n"})
    pr = crew.emulator.open_pull("octo", "broken", "cm", {"k8s/cm.yaml": CONFIGMAP},
                                 user="alice")
    crew.work()
    (run,) = policy_runs(crew, "broken", pr["head_sha"])
    # Built-in policies alone pass a ConfigMap; the team's rule could not be loaded.
    assert run["conclusion"] == "failure"
    summary = run["output"]["summary"]
    assert "**CONFIG001**" in summary and "`policies.dirs`" in summary
    assert ".github/shipcrew.yml:3" in summary and "built-in only" in summary
    verdict = json.loads(crew.conn.get(f"shipcrew:verdict:octo/broken:{pr['head_sha']}"))
    assert verdict["failures"] == ["CONFIG001"]


def test_excluded_findings_are_listed_on_the_check_run(crew: Crew) -> None:
    crew.emulator.create_repo("octo", "excl", {
        **BASE, ".github/shipcrew.yml": "policies:\n  exclude: ['tests/fixtures/**']\n"})
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"
    pr = crew.emulator.open_pull("octo", "excl", "certs", {"tests/fixtures/key.pem": key},
                                 user="alice")
    crew.work()
    (run,) = policy_runs(crew, "excl", pr["head_sha"])
    assert run["conclusion"] == "success", run["output"]["summary"]
    assert ("SEC001 in `tests/fixtures/key.pem` (policies.exclude `tests/fixtures/**`)"
            in run["output"]["summary"])

from __future__ import annotations

import time
from pathlib import Path

import pytest
from regopy import Interpreter

from app import POLICIES_DIR
from jobs.policy_engine import PolicyError, PolicySet, run_tests, v0_problems

DATA = Path(__file__).parent / "data"
USER_POLICY = DATA / "conftest_policy"


def test_v0_rule_is_rejected_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "old.rego").write_text(
        'package main\n\n# a comment with deny[x] {\ndeny[msg] {\n  input.kind == "Pod"\n'
        '  msg := "no pods"\n}\n')
    with pytest.raises(PolicyError, match=r"old\.rego:4: Rego v0 syntax"):
        PolicySet.load([tmp_path])


@pytest.mark.parametrize("src", [
    "allow {\n  true\n}\n", "f(x) = y {\n  y := x\n}\n", "p = 1 {\n  true\n}\n",
])
def test_other_v0_heads(src: str) -> None:
    assert v0_problems("package main\n" + src)


@pytest.mark.parametrize("src", [
    'deny contains msg if {\n msg := "x"\n}\n', "obj := {\n \"a\": 1,\n}\n",
    "f(x) := y if {\n y := {\"a\": x}\n}\n", 'p := "{" if { true }\n',
    "allow if {\n  true\n} else := false\n",
])
def test_v1_heads_are_accepted(src: str) -> None:
    assert not v0_problems("package main\nimport rego.v1\n" + src)


def test_compile_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.rego").write_text(
        'package main\n\ndeny contains msg if {\n  input.kind ==\n}\n')
    with pytest.raises(PolicyError, match=r"bad\.rego:4: "):
        PolicySet.load([tmp_path])


def test_missing_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not found"):
        PolicySet.load([tmp_path / "nope"])


def test_conftest_policy_dir_works_unchanged() -> None:
    policies = PolicySet.load([USER_POLICY])
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"selector": {"matchLabels": {}}, "template": {"spec": {}}}}
    got = {(r.rule, r.msg) for r in policies.evaluate(deployment)}
    assert got == {
        ("deny", "Containers must not run as root"),
        ("deny_missing_app_label", "Containers must provide app label for pod selectors"),
        ("violation", "Deployment web has no team label"),
    }
    legacy = dict(deployment, metadata={"name": "legacy-app"})
    assert "deny_missing_app_label" not in {r.rule for r in policies.evaluate(legacy)}
    service = {"kind": "Service", "spec": {"type": "LoadBalancer"}}
    assert [(r.rule, r.level) for r in policies.evaluate(service)] == [("warn", "warn")]
    dockerfile = [{"Cmd": "from", "Value": ["openjdk:8"], "Flags": [], "Stage": 0}]
    assert [r.msg for r in policies.evaluate(dockerfile)] == ["unallowed image found openjdk:8"]
    # conftest verify-style tests in the same directory run too
    assert all(o.passed for o in run_tests([USER_POLICY]))


def test_only_main_namespace_by_default(tmp_path: Path) -> None:
    (tmp_path / "other.rego").write_text(
        'package other\n\nimport rego.v1\n\ndeny contains "other" if true\n')
    (tmp_path / "main.rego").write_text(
        'package main\n\nimport rego.v1\n\ndeny contains "main" if true\n')
    assert [r.msg for r in PolicySet.load([tmp_path]).evaluate({})] == ["main"]
    every = PolicySet.load([tmp_path], namespaces=["*"])
    assert sorted(r.msg for r in every.evaluate({})) == ["main", "other"]


def test_input_strings_with_quotes_round_trip() -> None:
    policies = PolicySet.load([POLICIES_DIR])
    wf = {"on": "push", "jobs": {'b"x\n': {"steps": [{"run": 'echo "${{ github.head_ref }}"'}]}}}
    results = policies.evaluate(wf)
    assert any(r.data.get("id") == "GHA004" for r in results)


def test_compiled_bundle_is_faster_than_a_fresh_interpreter() -> None:
    policies = PolicySet.load([POLICIES_DIR])
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "a", "image": "nginx"}]}}
    n = 20
    start = time.perf_counter()
    for _ in range(n):
        policies.evaluate(doc)
    bundled = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for _ in range(3):
        rego = Interpreter()
        for name, src in policies.modules.items():
            rego.add_module(name, src)
        rego.set_input_term('{"kind": "Pod"}')
        rego.query("x := [r | some r in data.main.deny]")
    fresh = (time.perf_counter() - start) / 3
    assert bundled < fresh


def test_regopy_output_bug_becomes_a_clear_error(tmp_path: Path) -> None:
    # regopy 1.5.2 does not escape quotes that sprintf puts in a string: the output is not JSON.
    (tmp_path / "p.rego").write_text(
        'package main\n\nimport rego.v1\n\n'
        'deny contains sprintf("bad %s", [input.v]) if input.v\n')
    policies = PolicySet.load([tmp_path])
    with pytest.raises(PolicyError, match="policy evaluation failed"):
        policies.evaluate({"v": ["x"]})

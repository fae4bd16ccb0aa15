from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from regopy import Interpreter

from app import POLICIES_DIR
from jobs.auditor.engine import PolicyError, PolicySet, run_tests, v0_problems

DATA = Path(__file__).parents[1] / "data"
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


def _many_inputs() -> list[object]:
    pods = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
             "spec": {"containers": [{"name": "a", "image": "nginx" if i % 2 else "nginx:1.27",
                                      "securityContext": {"privileged": i % 3 == 0}}]}}
            for i in range(12)]
    workflow = {"on": "pull_request_target", "jobs": {"b": {"steps": [
        {"uses": "actions/checkout@v4", "with": {"ref": "${{ github.head_ref }}"}}]}}}
    return [*pods, workflow, pods[0], {}, workflow, pods[5]]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_evaluate_many_equals_evaluate_one_by_one(workers: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    policies = PolicySet.load([POLICIES_DIR])
    values = _many_inputs()
    expected = [policies.evaluate(v) for v in values]
    monkeypatch.setattr("jobs.auditor.engine.PER_WORKER", 2)  # start threads for a few inputs
    assert policies.evaluate_many(iter(values), workers=workers) == expected
    assert len(policies._workers) == workers - 1  # each thread had its own bundle
    assert any(expected) and expected[0] == expected[13]


def test_evaluate_many_evaluates_equal_inputs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    policies = PolicySet.load([POLICIES_DIR])
    seen: list[str] = []
    real = policies._evaluate_text

    def counting(runtime: object, bundle: object, text: str) -> object:
        seen.append(text)
        return real(runtime, bundle, text)  # type: ignore[arg-type]

    monkeypatch.setattr(policies, "_evaluate_text", counting)
    values = _many_inputs()
    policies.evaluate_many(values, workers=1)
    assert len(seen) == len(set(seen)) == 14 < len(values)


def test_evaluate_many_puts_a_failure_in_place(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "p.rego").write_text(
        'package main\n\nimport rego.v1\n\n'
        'deny contains sprintf("bad %s", [input.v]) if input.v\n')
    policies = PolicySet.load([tmp_path])
    monkeypatch.setattr("jobs.auditor.engine.PER_WORKER", 1)
    got = policies.evaluate_many([{"v": 1}, {"v": ["x"]}, {}], workers=2)
    assert [r.msg for r in got[0]] == ["bad 1"]  # type: ignore[union-attr]
    assert isinstance(got[1], PolicyError) and got[2] == []


def test_evaluate_many_stops_its_threads_when_the_inputs_fail(
        monkeypatch: pytest.MonkeyPatch) -> None:
    policies = PolicySet.load([POLICIES_DIR])
    monkeypatch.setattr("jobs.auditor.engine.PER_WORKER", 1)

    def inputs() -> Iterator[object]:
        yield from _many_inputs()
        raise RuntimeError("parser bug")

    with pytest.raises(RuntimeError, match="parser bug"):
        policies.evaluate_many(inputs(), workers=2)
    assert policies.evaluate_many([{}], workers=2) == [[]]  # not left locked

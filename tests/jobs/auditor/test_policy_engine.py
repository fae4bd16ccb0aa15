from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import POLICIES_DIR
from jobs.auditor import budget
from jobs.auditor.engine import PolicyError, PolicySet, TimedOut, run_tests, v0_problems

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
    with pytest.raises(PolicyError, match=r"bad\.rego:5: expecting expression"):
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


def test_engine_errors_name_the_file_and_carry_no_rust_backtrace(tmp_path: Path) -> None:
    # `some i, x in X` where X is a number: an error in regorus (undefined in OPA).
    (tmp_path / "p.rego").write_text(
        'package main\n\nimport rego.v1\n\n'
        'deny contains sprintf("bad %v", [x]) if {\n\tsome i, x in input.v\n}\n')
    policies = PolicySet.load([tmp_path])
    assert [r.msg for r in policies.evaluate({"v": ["x"]})] == ["bad x"]
    with pytest.raises(PolicyError) as err:
        policies.evaluate({"v": 3})
    text = str(err.value)
    assert text.startswith(f"policy evaluation failed: {tmp_path / 'p.rego'}:6: ")
    assert "expects array/set/object" in text
    assert "backtrace" not in text.lower() and "\n" not in text


def test_builtin_policies_tolerate_non_collections_where_opa_does() -> None:
    policies = PolicySet.load([POLICIES_DIR])
    odd = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": 3, "volumes": "x"}},
           {"on": "push", "permissions": {}, "jobs": {"b": {"steps": "echo"}}}]
    for value in odd:
        policies.evaluate(value)  # no PolicyError


def test_strings_are_escaped_in_results() -> None:
    # regopy 1.5.2 emitted `%v` of an object unescaped: the whole manifest's findings were lost.
    policies = PolicySet.load([POLICIES_DIR])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "a", "image": "nginx"}],
                    "volumes": [{"name": "d", "hostPath": {"type": "Directory"}}]}}
    ids = [r.data.get("id") for r in policies.evaluate(pod)]
    assert "K8S003" in ids and len(ids) > 5


def test_backslash_n_in_a_script_is_not_a_line_break() -> None:
    # regopy split input strings at a literal backslash-n: GHA004 landed a line too low.
    policies = PolicySet.load([POLICIES_DIR])
    script = 'printf "building\\n"\necho "${{ github.head_ref }}"\n'
    wf = {"on": "push", "permissions": {}, "jobs": {"b": {"steps": [{"run": script}]}}}
    offsets = [r.data["line_offset"] for r in policies.evaluate(wf) if r.data.get("id") == "GHA004"]
    assert offsets == [1]


@pytest.mark.parametrize(("expr", "want"), [
    ('sprintf("%q", ["a"])', '"\\"a\\""'), ('regex.match("(?i)^abc$", "ABC")', "true"),
    ('object.union({"a": {"b": 1}}, {"a": {"c": 2}})', '{"a": {"b": 1, "c": 2}}'),
])
def test_builtins_behave_as_in_opa(tmp_path: Path, expr: str, want: str) -> None:
    (tmp_path / "p.rego").write_text(
        f"package main\n\nimport rego.v1\n\ndeny contains json.marshal({expr}) if true\n")
    import json
    assert [json.loads(r.msg) for r in PolicySet.load([tmp_path]).evaluate({})] == [
        json.loads(want)]


def test_division_by_zero_is_an_error_not_a_result(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text(
        'package main\n\nimport rego.v1\n\ndeny contains "x" if 1 / input.n > 0\n')
    policies = PolicySet.load([tmp_path])
    assert [r.msg for r in policies.evaluate({"n": 1})] == ["x"]
    with pytest.raises(PolicyError, match="divide by zero"):
        policies.evaluate({"n": 0})


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
    monkeypatch.setattr("jobs.auditor.engine.PER_WORKER", 2)  # a process for a few inputs
    assert policies.evaluate_many(iter(values), workers=workers) == expected
    assert any(expected) and expected[0] == expected[13]


def test_evaluate_many_evaluates_equal_inputs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = budget.run

    def counting(fn: object, items: list[str], procs: int, limit: float) -> object:
        seen.append(len(items))
        return real(fn, items, procs, limit)  # type: ignore[arg-type]

    monkeypatch.setattr(budget, "run", counting)
    values = _many_inputs()
    PolicySet.load([POLICIES_DIR]).evaluate_many(values, workers=1)
    assert seen == [14] and len(values) == 17


def test_evaluate_many_puts_a_failure_in_place(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "p.rego").write_text(
        'package main\n\nimport rego.v1\n\n'
        'deny contains sprintf("bad %v", [x]) if {\n\tsome i, x in input.v\n}\n')
    policies = PolicySet.load([tmp_path])
    monkeypatch.setattr("jobs.auditor.engine.PER_WORKER", 1)
    got = policies.evaluate_many([{"v": [1]}, {"v": 3}, {}], workers=2)
    assert [r.msg for r in got[0]] == ["bad 1"]  # type: ignore[union-attr]
    assert isinstance(got[1], PolicyError) and got[2] == []


SLOW = ('package main\n\nimport rego.v1\n\n'
        'deny contains sprintf("%d", [n]) if {\n'
        '\tn := count([x | some i in numbers.range(1, input.n);'
        ' some j in numbers.range(1, input.n); x := i * j])\n}\n')


@pytest.mark.parametrize("workers", [1, 2])
def test_an_input_over_its_budget_is_stopped_and_the_rest_evaluated(
        tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "p.rego").write_text(SLOW)
    policies = PolicySet.load([tmp_path])
    monkeypatch.setattr("jobs.auditor.engine.PER_WORKER", 1)
    started = time.perf_counter()
    got = policies.evaluate_many([{"n": 2}, {"n": 100_000}, {"n": 3}, {"n": 4}],
                                 workers=workers, budget=0.5)
    assert time.perf_counter() - started < 5  # the slow one alone would take minutes
    assert isinstance(got[1], TimedOut) and "took too long" in str(got[1])
    assert [[r.msg for r in g] for g in (got[0], got[2], got[3])] == [["4"], ["9"], ["16"]]



def test_evaluate_many_raises_what_the_inputs_raise(
        monkeypatch: pytest.MonkeyPatch) -> None:
    policies = PolicySet.load([POLICIES_DIR])
    monkeypatch.setattr("jobs.auditor.engine.PER_WORKER", 1)

    def inputs() -> Iterator[object]:
        yield from _many_inputs()
        raise RuntimeError("parser bug")

    with pytest.raises(RuntimeError, match="parser bug"):
        policies.evaluate_many(inputs(), workers=2)
    assert policies.evaluate_many([{}], workers=2) == [[]]

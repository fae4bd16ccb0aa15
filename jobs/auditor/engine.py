"""Rego policies in conftest's convention, compiled once and evaluated many times (regorus).

conftest looks in namespace `main` for rules named `deny`, `violation` and `warn`, optionally
suffixed (`deny_run_as_root`), each producing strings or objects with `msg`; `exception`
rules exempt inputs from `deny_<name>` / `violation_<name>`. We do the same, so a team's
policy directory works unchanged, and read our own optional keys from result objects:
`id`, `severity`, `recourse`, `fix`, `line`, `path` (a path into the input, or a file path).

The engine is regorus (Microsoft's Rust Rego interpreter, `gordon-to-regorus` on PyPI). It
holds the GIL while it evaluates, so `evaluate_many` runs inputs in forked processes
(jobs.auditor.budget), which also bounds the time of each input: one that takes longer than
`BUDGET` seconds is stopped and reported, never left to stall the worker.

One difference from OPA that users' policies may meet: `some i, x in X` where X is neither an
array, a set nor an object is a runtime error in regorus (undefined in OPA); guard it with
`is_array(X)` / `is_object(X)`. Such an error is reported as POLICY002 on that file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("RUST_LIB_BACKTRACE", "0")  # regorus errors without a Rust backtrace

import regorus  # noqa: E402

from jobs.auditor import budget as budgeted  # noqa: E402
from jobs.auditor.sources import (  # noqa: E402
    PACKAGE_RE,
    PolicyError,
    engine_error,
    policy_files,
    read_modules,
    strip_code,
    v0_problems,
)

__all__ = ["BUDGET", "PolicyError", "PolicySet", "RawResult", "TestOutcome", "TimedOut",
           "policy_files", "read_modules", "run_tests", "v0_problems"]

RULE_RE = re.compile(r"^(deny|violation|warn)(_[A-Za-z0-9_]+)?$")
# Processes evaluating inputs in parallel (evaluate_many); one more starts for every
# PER_WORKER distinct inputs, up to WORKERS.
WORKERS = max(1, min(2, os.cpu_count() or 1))
PER_WORKER = 24
BUDGET = 10.0  # seconds one input may take (a 1,500-step workflow takes ~0.2 s)


class TimedOut(PolicyError):
    """An input whose evaluation took longer than its budget (POLICY003)."""


@dataclass(frozen=True)
class RawResult:
    namespace: str
    rule: str  # the Rego rule name: deny, warn_foo, ...
    msg: str
    data: dict[str, Any] = field(default_factory=dict)  # the result object, if any

    @property
    def level(self) -> str:
        """deny and violation block, warn does not (conftest's failures and warnings)."""
        return "warn" if self.rule.startswith("warn") else "deny"


def _engine(modules: dict[str, str], data: dict[str, Any] | None = None) -> regorus.Engine:
    engine = regorus.Engine()
    try:
        for name, src in modules.items():
            engine.add_policy(name, src)
        if data:
            engine.add_data_json(json.dumps(data))
    except RuntimeError as exc:
        raise PolicyError(f"policy does not compile: {engine_error(str(exc))}") from exc
    return engine


class PolicySet:
    """Compiled policies: build once, then `evaluate` each input in well under a millisecond."""

    def __init__(self, modules: dict[str, str], namespaces: Sequence[str] = ("main",),
                 data: dict[str, Any] | None = None) -> None:
        self.modules = modules
        # Query only conftest's rule names: helper rules are not results.
        self.queries: list[tuple[str, str]] = sorted({
            (ns, rule) for ns, rule in _rule_names(modules.values())
            if ns in namespaces or "*" in namespaces
        })
        self.namespaces = sorted({ns for ns, _ in self.queries})
        self._engine = _engine(modules, data)
        self._query = "; ".join(f"q{i} := [r | some r in data.{ns}.{rule}]"
                                for i, (ns, rule) in enumerate(self.queries))
        if self.queries:  # regorus compiles on first use: a broken policy fails here
            self._engine.set_input_json("{}")
            try:
                self._engine.eval_query_as_json(self._query)
            except RuntimeError as exc:
                if _STATIC_ERROR_RE.search(str(exc)):  # else a runtime error on `{}`: input's
                    raise PolicyError(f"policy does not compile: {engine_error(str(exc))}"
                                      ) from exc

    @classmethod
    def load(cls, dirs: list[Path], namespaces: Sequence[str] = ("main",)) -> PolicySet:
        """Every *.rego under `dirs` except *_test.rego, plus data from `data/*.json`."""
        files = policy_files(dirs)
        data: dict[str, Any] = {}
        for d in dirs:
            for p in sorted(d.glob("data/*.json")) if d.is_dir() else []:
                try:
                    data.update(json.loads(p.read_text()))
                except (OSError, ValueError) as exc:
                    raise PolicyError(f"{p}: invalid JSON data: {exc}") from exc
        return cls(read_modules(files), namespaces, data)

    def evaluate(self, value: Any) -> list[RawResult]:
        """The results for one input, in this process (no time budget)."""
        outcome = self._parse(self._safe_raw(json.dumps(value)))
        if isinstance(outcome, PolicyError):
            raise outcome
        return outcome

    def evaluate_many(self, values: Iterable[Any], workers: int | None = None,
                      budget: float | None = None) -> list[list[RawResult] | PolicyError]:
        """`evaluate` for each value, in order (a PolicyError in place of a failed one, a
        TimedOut for one that took longer than `budget` seconds; default BUDGET).

        Equal inputs are evaluated once: Rego is deterministic. Distinct inputs are shared out
        among forked processes (one per PER_WORKER inputs, up to `workers`).
        """
        order = [json.dumps(v) for v in values]
        distinct = list(dict.fromkeys(order))
        if not self.queries:
            return [[] for _ in order]
        wanted = WORKERS if workers is None else max(1, workers)
        procs = max(1, min(wanted, len(distinct) // PER_WORKER))
        limit = BUDGET if budget is None else budget
        raw = budgeted.run(self._raw, distinct, procs, limit)
        outcomes: dict[str, list[RawResult] | PolicyError] = {}
        for text, got in zip(distinct, raw, strict=True):
            if isinstance(got, budgeted.Timeout):
                outcomes[text] = TimedOut(f"took too long: policy evaluation stopped after "
                                          f"{limit:g} s")
            elif isinstance(got, budgeted.Failure):
                outcomes[text] = PolicyError(f"policy evaluation failed: {got.message}"[:500])
            else:
                outcomes[text] = self._parse(got)
        return [outcomes[t] for t in order]

    def _raw(self, text: str) -> str:
        """The engine's JSON answer for one input (raises budget.Failure on errors)."""
        if not self.queries:
            return "{}"
        try:
            self._engine.set_input_json(text)
            return str(self._engine.eval_query_as_json(self._query))
        except RuntimeError as exc:
            raise budgeted.Failure(engine_error(str(exc))) from None

    def _parse(self, out: str | PolicyError) -> list[RawResult] | PolicyError:
        if isinstance(out, PolicyError):
            return out
        first = (json.loads(out).get("result") or [{}])[0]
        bindings = first.get("bindings", {})
        docs: dict[str, dict[str, Any]] = {}
        for i, (ns, rule) in enumerate(self.queries):
            docs.setdefault(ns, {})[rule] = bindings.get(f"q{i}") or []
        return [r for ns, doc in docs.items() for r in _results(ns, doc)]

    def _safe_raw(self, text: str) -> str | PolicyError:
        try:
            return self._raw(text)
        except budgeted.Failure as exc:
            return PolicyError(f"policy evaluation failed: {exc.message}"[:500])


# Errors regorus reports on first evaluation that no input can cause: the policy is broken.
_STATIC_ERROR_RE = re.compile(r"error: (var \S+ is unsafe|could not find|.*not defined|"
                              r"recursion|.*cyclic|.*conflict|multiple default|invalid ref|"
                              r".*import)")

_RULE_HEAD_RE = re.compile(r"^((?:deny|violation|warn|exception)(?:_\w+)?)\b(?!\s*\()",
                           re.MULTILINE)


def _rule_names(sources: Iterable[str]) -> set[tuple[str, str]]:
    names = set()
    for src in sources:
        package = PACKAGE_RE.search(src)
        if package:
            stripped = strip_code(src)
            names |= {(package.group(1), m.group(1)) for m in _RULE_HEAD_RE.finditer(stripped)}
    return names


def _results(namespace: str, doc: dict[str, Any]) -> list[RawResult]:
    # conftest: `exception contains ["foo"]` exempts deny_foo/violation_foo ("" = deny/violation)
    exempt = {name for names in doc.get("exception") or [] if isinstance(names, list)
              for name in names if isinstance(name, str)}
    results = []
    for rule in sorted(doc):
        match = RULE_RE.match(rule)
        if not match or not isinstance(doc[rule], list):
            continue
        suffix = (match.group(2) or "_")[1:]
        if match.group(1) != "warn" and suffix in exempt:
            continue
        for item in doc[rule]:
            if isinstance(item, str):
                results.append(RawResult(namespace, rule, item))
            elif isinstance(item, dict) and isinstance(item.get("msg"), str):
                results.append(RawResult(namespace, rule, item["msg"], item))
            else:  # conftest rejects these too: a result must carry a message
                results.append(RawResult(namespace, rule, json.dumps(item)[:300]))
    return results


# --- tests (`test_*` rules in *_test.rego), conftest verify / opa test style -----------------


@dataclass(frozen=True)
class TestOutcome:
    name: str  # package.rule
    passed: bool
    detail: str = ""


_TEST_RE = re.compile(r"^(test_\w+)\s+if\b", re.MULTILINE)


def run_tests(dirs: list[Path]) -> list[TestOutcome]:
    """Run the `test_*` rules of *_test.rego files as `opa test` does: each is evaluated with
    an empty input (tests bring theirs with `with input as`) and passes when it is true."""
    modules = read_modules(policy_files(dirs, tests=True))
    engine = _engine(modules)
    engine.set_input_json("{}")
    outcomes = []
    for name, src in modules.items():
        package = PACKAGE_RE.search(src)
        if not name.endswith("_test.rego") or not package:
            continue
        for rule in dict.fromkeys(m.group(1) for m in _TEST_RE.finditer(strip_code(src))):
            full = f"{package.group(1)}.{rule}"
            try:
                result = engine.eval_rule(f"data.{full}")
            except RuntimeError as exc:
                outcomes.append(TestOutcome(full, False, f"error: {engine_error(str(exc))}"))
                continue
            outcomes.append(TestOutcome(full, result is True, f"result: {result!r}"))
    return outcomes

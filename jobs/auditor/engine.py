"""Rego policies in conftest's convention, compiled once and evaluated many times (regopy).

conftest looks in namespace `main` for rules named `deny`, `violation` and `warn`, optionally
suffixed (`deny_run_as_root`), each producing strings or objects with `msg`; `exception`
rules exempt inputs from `deny_<name>` / `violation_<name>`. We do the same, so a team's
policy directory works unchanged, and read our own optional keys from result objects:
`id`, `severity`, `recourse`, `fix`, `line`, `path` (a path into the input, or a file path).

Sources are read and Rego v0 refused in jobs.auditor.sources. Inputs are evaluated in parallel
threads (regopy releases the GIL), equal inputs once.
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regopy import Bundle, Interpreter, LogLevel, RegoError
from regopy.rego_shared import (
    rego_bundle_query,
    rego_free_output,
    rego_output_ok,
    rego_output_string,
)

from jobs.auditor.sources import (
    PACKAGE_RE,
    PolicyError,
    compile_error,
    policy_files,
    read_modules,
    strip_code,
    v0_problems,
)

__all__ = ["PolicyError", "PolicySet", "RawResult", "TestOutcome", "policy_files",
           "read_modules", "run_tests", "v0_problems"]

RULE_RE = re.compile(r"^(deny|violation|warn)(_[A-Za-z0-9_]+)?$")
# Threads evaluating inputs in parallel (evaluate_many); each extra one costs a bundle build
# (~40 ms, once per process), so only batches of PER_WORKER inputs per thread get one.
WORKERS = max(1, min(4, os.cpu_count() or 1))
PER_WORKER = 24


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


def _interpreter(modules: dict[str, str], data: dict[str, Any] | None = None) -> Interpreter:
    rego = Interpreter()
    rego.log_level = LogLevel.NONE  # errors come back in the exception, not on stdout
    try:
        for name, src in modules.items():
            rego.add_module(name, src)
        if data:
            rego.add_data_json(json.dumps(data))
    except RegoError as exc:
        raise PolicyError(compile_error(str(exc), modules)) from exc
    return rego


class PolicySet:
    """Compiled policies: build once, then `evaluate` each input in well under a millisecond."""

    def __init__(self, modules: dict[str, str], namespaces: Sequence[str] = ("main",),
                 data: dict[str, Any] | None = None) -> None:
        started = time.perf_counter()
        self.modules = modules
        # Query only conftest's rule names: evaluating a whole package would also serialise
        # helper rules, and regopy fails to turn some of those (sets of arrays of objects) to JSON.
        self.queries: list[tuple[str, str]] = sorted({
            (ns, rule) for ns, rule in _rule_names(modules.values())
            if ns in namespaces or "*" in namespaces
        })
        self.namespaces = sorted({ns for ns, _ in self.queries})
        self._bundle: Bundle | None = None
        self._runtime = Interpreter()
        self._data = data
        self._busy = threading.Lock()
        self._building = threading.Lock()
        self._workers: dict[int, tuple[Interpreter, Bundle]] = {}
        if self.queries:
            self._bundle = self._build(_interpreter(modules, data))
        self.build_seconds = time.perf_counter() - started

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
        with self._busy:
            outcome = self._evaluate_text(self._runtime, self._bundle, json.dumps(value))
        if isinstance(outcome, PolicyError):
            raise outcome
        return outcome

    def evaluate_many(self, values: Iterable[Any], workers: int | None = None,
                      ) -> list[list[RawResult] | PolicyError]:
        """`evaluate` for each value, in order (a PolicyError in place of a failed one).

        Equal inputs are evaluated once: Rego is deterministic. regopy calls C through ctypes,
        which releases the GIL, so inputs are shared out among threads, each with its own
        interpreter and bundle (rego-cpp does not promise a bundle may be shared). A thread
        starts for every PER_WORKER distinct inputs, up to `workers`, while `values` is still
        being produced: a generator that parses files overlaps with evaluation.
        """
        wanted = WORKERS if workers is None else workers
        order: list[str] = []
        outcomes: dict[str, list[RawResult] | PolicyError] = {}
        todo: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        threads: list[threading.Thread] = []

        def work(slot: int) -> None:
            try:
                runtime, bundle = self._worker_runtime(slot)
            except PolicyError:  # cannot happen once the main bundle built; others carry on
                return
            while (text := todo.get()) is not None:
                try:
                    outcomes[text] = self._evaluate_text(runtime, bundle, text)
                except Exception as exc:  # never lose an input in a thread
                    outcomes[text] = PolicyError(f"policy evaluation failed: {exc!r}"[:500])

        with self._busy:  # one batch at a time: a runtime serves one thread
            queued: set[str] = set()
            try:
                for value in values:
                    text = json.dumps(value)
                    order.append(text)
                    if text in queued:
                        continue
                    queued.add(text)
                    todo.put(text)
                    if (self._bundle is not None and len(threads) + 1 < wanted
                            and len(queued) >= PER_WORKER * (len(threads) + 1)):
                        threads.append(threading.Thread(target=work, args=(len(threads) + 1,),
                                                        daemon=True))
                        threads[-1].start()
            finally:
                for _ in range(len(threads) + 1):
                    todo.put(None)  # FIFO: every input is taken before any thread stops
                try:
                    work(0)
                finally:
                    for thread in threads:
                        thread.join()
        return [outcomes[t] for t in order]

    def _worker_runtime(self, slot: int) -> tuple[Interpreter, Bundle | None]:
        """Slot 0 is the main runtime; others get their own bundle, built on first use (in
        their thread, while slot 0 already evaluates)."""
        if slot == 0:
            return self._runtime, self._bundle
        with self._building:
            if slot not in self._workers:
                self._workers[slot] = (Interpreter(), self._build(_interpreter(self.modules,
                                                                              self._data)))
            return self._workers[slot]

    def _build(self, builder: Interpreter) -> Bundle:
        query = "; ".join(f"q{i} := [r | some r in data.{ns}.{rule}]"
                          for i, (ns, rule) in enumerate(self.queries))
        try:
            bundle = builder.build(query)
        except RegoError as exc:
            raise PolicyError(compile_error(str(exc), self.modules)) from exc
        if not bundle.ok():
            raise PolicyError("policy does not compile (regopy build failed)")
        return bundle

    def _evaluate_text(self, runtime: Interpreter, bundle: Bundle | None,
                       text: str) -> list[RawResult] | PolicyError:
        if bundle is None:
            return []
        # set_input(Input(...)) keeps input strings unescaped in regopy 1.5.2 (a quote in a
        # workflow breaks the output JSON); a JSON term is parsed and escaped correctly.
        try:
            runtime.set_input_term(text)
        except RegoError as exc:
            return PolicyError(f"policy evaluation failed: input not accepted ({exc})"[:500])
        out, ok = _query_bundle(runtime, bundle)
        # Runtime errors (e.g. recursion) can come back with ok() true but as an error dump.
        if not ok or not out.lstrip().startswith(("{", "[", "undefined")):
            return PolicyError(f"policy evaluation failed: {_runtime_error(out)}")
        if out == "undefined":
            return []
        try:
            output = json.loads(out)
        except ValueError as exc:  # regopy emitted invalid JSON (see the notes above)
            return PolicyError(f"policy evaluation failed: invalid output ({exc})")
        first = output[0] if isinstance(output, list) and output else output
        bindings = first.get("bindings", {}) if isinstance(first, dict) else {}
        docs: dict[str, dict[str, Any]] = {}
        for i, (ns, rule) in enumerate(self.queries):
            docs.setdefault(ns, {})[rule] = bindings.get(f"q{i}") or []
        return [r for ns, doc in docs.items() for r in _results(ns, doc)]


_RULE_HEAD_RE = re.compile(r"^((?:deny|violation|warn|exception)(?:_\w+)?)\b(?!\s*\()",
                           re.MULTILINE)


def _query_bundle(runtime: Interpreter, bundle: Bundle) -> tuple[str, bool]:
    """The raw output text (regopy's Output would raise a bare JSONDecodeError on errors)."""
    impl = rego_bundle_query(runtime._impl, bundle._impl)
    try:
        return rego_output_string(impl), bool(rego_output_ok(impl))
    finally:
        rego_free_output(impl)


def _runtime_error(text: str) -> str:
    msgs = re.findall(r"\(errormsg \d+:([^\n]*?)\)\s*$", text, re.MULTILINE)
    return "; ".join(dict.fromkeys(msgs)) or text.strip().splitlines()[0][:300]


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


_TEST_RE = re.compile(r"^(test_\w+)\s+if\s*\{", re.MULTILINE)
_WITH_INPUT = "with input as "


def _body_end(src: str, start: int) -> int:
    depth = 1
    i = start
    while depth and i < len(src):
        depth += {"{": 1, "}": -1}.get(src[i], 0)
        i += 1
    return i - 1


def _term_end(src: str, start: int) -> int:
    """End of the Rego term at `start`: the first newline or `;` outside brackets."""
    depth, i = 0, start
    while i < len(src):
        ch = src[i]
        if ch == '"':
            i += 1
            while i < len(src) and src[i] != '"':
                i += 2 if src[i] == "\\" else 1
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return i
            depth -= 1
        elif ch in "\n;" and depth == 0:
            return i
        i += 1
    return i


def _split_test(body: str) -> tuple[str, str | None, str]:
    """A test body without its `with input as E` clauses, E (one input per test), and the
    statements before the first clause (they may define variables E uses)."""
    first = body.find(_WITH_INPUT)
    prelude = body[: body.rfind("\n", 0, first) + 1] if first >= 0 else ""
    terms, out, pos = [], [], 0
    while (at := body.find(_WITH_INPUT, pos)) >= 0:
        end = _term_end(body, at + len(_WITH_INPUT))
        terms.append(body[at + len(_WITH_INPUT):end].strip())
        out.append(body[pos:at])
        pos = end
    out.append(body[pos:])
    if len(set(terms)) > 1:
        raise PolicyError("a test may use only one `with input as` value; split it")
    return "".join(out), terms[0] if terms else None, prelude


def run_tests(dirs: list[Path]) -> list[TestOutcome]:
    """Run `test_*` rules of *_test.rego files (OPA/conftest test syntax).

    regopy 1.5.2 crashes the process (SIGSEGV) when a rule calling any built-in is evaluated
    under `with input as`. So each test is run the way policies run in production: its
    `with input as E` clause is removed, E is evaluated on its own (local `x := ...`
    assignments of the test are kept for it), and the test body is evaluated with E as the
    input document. Hence one input value per test.
    """
    modules = read_modules(policy_files(dirs, tests=True))
    plans: list[tuple[str, str, str | None]] = []  # (package.rule, module, input rule)
    rewritten: dict[str, str] = {}
    for name, src in modules.items():
        if not name.endswith("_test.rego"):
            rewritten[name] = src
            continue
        package = PACKAGE_RE.search(src)
        assert package
        new, pos = [], 0
        for m in _TEST_RE.finditer(src):
            if m.start() < pos:
                continue
            end = _body_end(src, m.end())
            try:
                body, term, prelude = _split_test(src[m.end():end])
            except PolicyError as exc:
                line = src.count("\n", 0, m.start()) + 1
                raise PolicyError(f"{name}:{line}: {m.group(1)}: {exc}") from exc
            new.append(src[pos:m.end()] + body + "}")
            input_rule = None
            if term:
                input_rule = f"shipcrew_input_{m.group(1)}"
                new.append(f"\n\n{input_rule} := __v if {{\n{prelude}\n__v := {term}\n}}\n")
            plans.append((f"{package.group(1)}.{m.group(1)}", package.group(1), input_rule))
            pos = end + 1
        new.append(src[pos:])
        rewritten[name] = "".join(new)
    rego = _interpreter(rewritten)
    outcomes = []
    for full, package_name, input_rule in plans:
        value: Any = None
        if input_rule:
            rego.set_input_term("{}")
            got = rego.query(f"x := data.{package_name}.{input_rule}")
            value = got[0].bindings.get("x") if got.ok() and len(got) else None
            if value is None:
                outcomes.append(TestOutcome(full, False, "its `with input as` value is undefined"))
                continue
        rego.set_input_term(json.dumps(value) if input_rule else "{}")
        out = rego.query(f"x := data.{full}")
        result = out[0].bindings.get("x") if out.ok() and len(out) else None
        outcomes.append(TestOutcome(full, result is True, f"result: {result!r}"))
    return outcomes

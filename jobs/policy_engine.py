"""Rego policies in conftest's convention, compiled once and evaluated many times (regopy).

conftest looks in namespace `main` for rules named `deny`, `violation` and `warn`, optionally
suffixed (`deny_run_as_root`), each producing strings or objects with `msg`; `exception`
rules exempt inputs from `deny_<name>` / `violation_<name>`. We do the same, so a team's
policy directory works unchanged, and read our own optional keys from result objects:
`id`, `severity`, `recourse`, `fix`, `line`, `path` (a path into the input, or a file path).

regopy silently reads Rego v0 (`deny[msg] { ... }`) as something else, so v0 rule heads are
rejected here with the file and line, before compiling.
"""

from __future__ import annotations

import json
import re
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

RULE_RE = re.compile(r"^(deny|violation|warn)(_[A-Za-z0-9_]+)?$")
PACKAGE_RE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)


class PolicyError(ValueError):
    """A policy directory that cannot be used; the message names the file and line."""


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


def _strip(src: str) -> str:
    """Rego source without comments and string contents (they may hold braces or `if`)."""
    src = re.sub(r"`[^`]*`", lambda m: "``" + "\n" * m.group(0).count("\n"), src)
    src = re.sub(r'"(\\.|[^"\\\n])*"', '""', src)
    return re.sub(r"#[^\n]*", "", src)


_V1_HEAD_OK = re.compile(r"(\bif\b|\bcontains\b|:=\s*\{$|=\s*\{$|^\s*(package|import|default)\b)")


def v0_problems(src: str) -> list[tuple[int, str]]:
    """Lines whose top-level rule head opens a body without `if`: Rego v0 syntax."""
    problems = []
    depth = 0
    for n, line in enumerate(_strip(src).splitlines(), 1):
        text = line.strip()
        if depth == 0 and text.endswith("{") and not _V1_HEAD_OK.search(text):
            problems.append((n, text))
        elif depth == 0 and re.match(r"^[\w.]+\[[^\]]*\]\s*\{", text):
            problems.append((n, text))
        depth = max(0, depth + line.count("{") + line.count("[") + line.count("(")
                    - line.count("}") - line.count("]") - line.count(")"))
    return problems


def policy_files(dirs: Iterable[Path], tests: bool = False) -> list[Path]:
    out: list[Path] = []
    for d in dirs:
        if d.is_file() and d.suffix == ".rego":
            out.append(d)
            continue
        if not d.is_dir():
            raise PolicyError(f"{d}: policy directory not found")
        out.extend(sorted(p for p in d.rglob("*.rego")
                          if tests or not p.name.endswith("_test.rego")))
    return out


def read_modules(files: Sequence[Path]) -> dict[str, str]:
    modules: dict[str, str] = {}
    for path in files:
        try:
            src = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{path}: unreadable: {exc}") from exc
        if not PACKAGE_RE.search(src):
            raise PolicyError(f"{path}:1: no package declaration")
        bad = v0_problems(src)
        if bad:
            line, text = bad[0]
            raise PolicyError(
                f"{path}:{line}: Rego v0 syntax is not supported ({text!r}); write Rego v1: "
                "`deny contains msg if {{ ... }}` (see `opa fmt --v0-v1`)")
        modules[str(path)] = src
    return modules


def _interpreter(modules: dict[str, str], data: dict[str, Any] | None = None) -> Interpreter:
    rego = Interpreter()
    rego.log_level = LogLevel.NONE  # errors come back in the exception, not on stdout
    try:
        for name, src in modules.items():
            rego.add_module(name, src)
        if data:
            rego.add_data_json(json.dumps(data))
    except RegoError as exc:
        raise PolicyError(_compile_error(str(exc), modules)) from exc
    return rego


_ERROR_RE = re.compile(r"\(error \d+:([^|\n]*)\|(\d+)\|\d+\s*\(errormsg \d+:([^\n]*?)\)\s*$",
                       re.MULTILINE)


def _compile_error(text: str, modules: dict[str, str]) -> str:
    """regopy reports errors as an AST dump with byte offsets: name the file, line and reason."""
    problems = []
    for name, offset, msg in _ERROR_RE.findall(text):
        src = modules.get(name)
        line = src.count("\n", 0, int(offset)) + 1 if src is not None else "?"
        problems.append(f"{name}:{line}: {msg}")
    if not problems:
        return f"policy does not compile: {_first_error(text)}"
    return "policy does not compile: " + "; ".join(dict.fromkeys(problems))


def _first_error(text: str) -> str:
    return "\n".join(text.strip().splitlines()[:12])


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
        if self.queries:
            builder = _interpreter(modules, data)
            query = "; ".join(f"q{i} := [r | some r in data.{ns}.{rule}]"
                              for i, (ns, rule) in enumerate(self.queries))
            try:
                bundle = builder.build(query)
            except RegoError as exc:
                raise PolicyError(_compile_error(str(exc), modules)) from exc
            if not bundle.ok():
                raise PolicyError("policy does not compile (regopy build failed)")
            self._bundle = bundle
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
        if self._bundle is None:
            return []
        # set_input(Input(...)) keeps input strings unescaped in regopy 1.5.2 (a quote in a
        # workflow breaks the output JSON); a JSON term is parsed and escaped correctly.
        self._runtime.set_input_term(json.dumps(value))
        text, ok = _query_bundle(self._runtime, self._bundle)
        # Runtime errors (e.g. recursion) can come back with ok() true but as an error dump.
        if not ok or not text.lstrip().startswith(("{", "[", "undefined")):
            raise PolicyError(f"policy evaluation failed: {_runtime_error(text)}")
        if text == "undefined":
            return []
        try:
            output = json.loads(text)
        except ValueError as exc:  # regopy emitted invalid JSON (see the notes above)
            raise PolicyError(f"policy evaluation failed: invalid output ({exc})") from exc
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
            stripped = _strip(src)
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

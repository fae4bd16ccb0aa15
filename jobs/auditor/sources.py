"""Policy sources: finding the *.rego files, reading them, refusing Rego v0, naming errors.

Rego v0 rule heads (`deny[msg] { ... }`) are rejected here with the file, the line and the
v1 spelling, before compiling; the engine's errors are turned into file:line: reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

PACKAGE_RE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)


class PolicyError(ValueError):
    """A policy directory that cannot be used; the message names the file and line."""


def strip_code(src: str) -> str:
    """Rego source without comments and string contents (they may hold braces or `if`)."""
    src = re.sub(r"`[^`]*`", lambda m: "``" + "\n" * m.group(0).count("\n"), src)
    src = re.sub(r'"(\\.|[^"\\\n])*"', '""', src)
    return re.sub(r"#[^\n]*", "", src)


_V1_HEAD_OK = re.compile(r"(\bif\b|\bcontains\b|:=\s*\{$|=\s*\{$|^\s*(package|import|default)\b)")


def v0_problems(src: str) -> list[tuple[int, str]]:
    """Lines whose top-level rule head opens a body without `if`: Rego v0 syntax."""
    problems = []
    depth = 0
    for n, line in enumerate(strip_code(src).splitlines(), 1):
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


_LOCATION_RE = re.compile(r"-->\s*(.+?):(\d+):\d+")
_MESSAGE_RE = re.compile(r"^error: (.+)$", re.MULTILINE)


def engine_error(text: str) -> str:
    """regorus's error text as `file:line: reason` (no source excerpt, no Rust backtrace)."""
    text = text.split("Stack backtrace:", 1)[0]
    where = _LOCATION_RE.search(text)
    message = _MESSAGE_RE.search(text)
    reason = message.group(1).strip() if message else " ".join(text.split())[:300]
    return f"{where.group(1)}:{where.group(2)}: {reason}" if where else reason

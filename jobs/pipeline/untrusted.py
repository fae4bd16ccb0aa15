"""Values read from a repository, checked before they reach a generated file.

Every name, path, version, port and command that detection reads from a pull request is
attacker-controlled, and the files we generate are run by GitHub Actions (which evaluates
`${{ ... }}` before any shell sees the text), by a shell, and by Docker. A value is accepted
only in the shape its ecosystem allows (npm's package-name rules, Python dotted module paths,
versions, integer ports, relative paths of plain characters), and no accepted value can carry
`${{`, a newline or a shell metacharacter. A refused value raises `UntrustedValue`, whose
message names the field, the file it came from and the rule - the pipeline engineer turns it
into a skipped artifact with that reason, never into a generated file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jobs.pipeline.stacks.model import Stack

# One shell word that no shell, YAML plain scalar, GitHub expression or Dockerfile treats
# specially: no spaces, quotes, `$`, backquotes, `;|&<>(){}[]!#\`, no control characters.
WORD = re.compile(r"[A-Za-z0-9._/@+=:,*%~^-]+")
PATH = re.compile(r"[A-Za-z0-9._@+*-]+(?:/[A-Za-z0-9._@+*-]+)*")
DNS_LABEL = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
# https://github.com/npm/validate-npm-package-name: lowercase, URL-safe, at most 214 chars.
NPM_NAME = re.compile(r"(?:@[a-z0-9~-][a-z0-9._~-]*/)?[a-z0-9~-][a-z0-9._~-]*")
PYTHON_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]{0,31}")
# Inside double quotes `[`, `]` are literal too (pip extras: ".[dev]"); `$`, `\`, `!` and
# backquotes are not, so they stay out.
_QUOTED = re.compile(r'"[A-Za-z0-9._/@+=:,*%~^\[\]-]+"')
_NEVER = ("${{", "\n", "\r")


class UntrustedValue(ValueError):
    def __init__(self, field: str, value: object, rule: str, source: str | None = None) -> None:
        shown = repr(value)[:80]
        where = f" (from {source})" if source else ""
        super().__init__(f"refused {field} {shown}{where}: {rule}")
        self.field, self.value, self.rule, self.source = field, value, rule, source


def _never(field: str, value: str, source: str | None) -> None:
    for bad in _NEVER:
        if bad in value:
            raise UntrustedValue(field, value, f"contains {bad!r}", source)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise UntrustedValue(field, value, "contains a control character", source)


def _matching(pattern: re.Pattern[str], rule: str, max_len: int = 214) -> Callable[..., str]:
    def check(field: str, value: object, source: str | None = None) -> str:
        if not isinstance(value, str):
            raise UntrustedValue(field, value, "not a string", source)
        _never(field, value, source)
        if len(value) > max_len or not pattern.fullmatch(value):
            raise UntrustedValue(field, value, rule, source)
        if pattern is PATH and (value.startswith("/") or ".." in value.split("/")):
            raise UntrustedValue(field, value, "not a relative path inside the repo", source)
        return value
    return check


word = _matching(WORD, "not a single word of letters, digits and ._/@+=:,*%~^-")
path = _matching(PATH, "not a relative path of letters, digits and ._@+*-", 1024)
dns_label = _matching(DNS_LABEL, "not a DNS-1123 label", 63)
npm_name = _matching(NPM_NAME, "not a valid npm package name (lowercase, URL-safe, <= 214)")
python_module = _matching(PYTHON_MODULE, "not a dotted Python module path")
version = _matching(VERSION, "not a version (letters, digits and .+_- only)", 32)


def port(field: str, value: object, source: str | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise UntrustedValue(field, value, "not an integer port 1-65535", source)
    return value


def command(field: str, value: object, source: str | None = None) -> str:
    """A command line for a workflow `run:` or a Dockerfile `RUN`: plain words only."""
    if not isinstance(value, str):
        raise UntrustedValue(field, value, "not a string", source)
    _never(field, value, source)
    for w in value.split(" "):
        if not w or not (WORD.fullmatch(w) or _QUOTED.fullmatch(w)):
            raise UntrustedValue(field, value, "contains a shell metacharacter or a quote "
                                 "(only plain words separated by single spaces)", source)
    return value


def exec_words(field: str, value: object, source: str | None = None) -> list[str]:
    """An exec-form command (JSON array, no shell): any printable text but `${{`."""
    if not isinstance(value, list) or not value:
        raise UntrustedValue(field, value, "not a non-empty list of words", source)
    for w in value:
        if not isinstance(w, str):
            raise UntrustedValue(field, value, "not a list of strings", source)
        _never(field, w, source)
    return value


def check_stack(stack: Stack) -> Stack:
    """Every field of `stack` a template may splice, in the shape it must have."""
    source = "/".join(p for p in (stack.path, stack.manifests[0] if stack.manifests else "")
                      if p and p != ".") or None
    dns_label("stack name", stack.name, source)
    path("stack path", stack.path, source)
    if stack.workspace_root is not None:
        path("workspace root", stack.workspace_root, source)
    for label, value in (("framework", stack.framework), ("build tool", stack.build_tool)):
        if value is not None:
            word(label, value, source)
    if stack.version is not None:
        version("runtime version", stack.version, source)
    if stack.port is not None:
        port("port", stack.port, source)
    for label, cmd in (("install command", stack.install_command),
                       ("test command", stack.test_command),
                       ("lint command", stack.lint_command),
                       ("build command", stack.build_command)):
        if cmd is not None:
            command(label, cmd, source)
    if stack.start_command is not None:
        exec_words("start command", stack.start_command, source)
        if stack.language == "python":  # uvicorn / gunicorn targets: "package.module:app"
            for w in stack.start_command:
                target = re.fullmatch(r"([^:=]+):([A-Za-z_]\w*)(?:\(\))?", w)
                if target:
                    python_module("application module", target.group(1), source)
    for b in stack.binaries:
        path("binary", b, source)
    for m in stack.manifests:
        path("manifest", m, source)
    return stack


def check_words(field: str, values: Iterable[Any]) -> None:
    """Template context built from repository paths (lockfiles, manifests, requirements):
    every string in it must be a plain word."""
    for value in values:
        if isinstance(value, str) and value:
            command(field, value)
        elif isinstance(value, Mapping):
            check_words(field, value.values())
        elif isinstance(value, list | tuple):
            check_words(field, value)

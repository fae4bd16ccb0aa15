"""`/crew explain RULE`: what a policy rule checks and how to satisfy it, read from the Rego.

The built-in policies build each result as `{"id": "GHA001", ..., msg, recourse}` (directly or
through a helper such as `gha_result("GHA001", "hard", sprintf(msg, ...), recourse, loc)`).
So the second sentence-like string literal after the rule id in its rule body is the
recourse; the first, the message template, is often built by concatenation and not shown.
Rules written differently are still found and named, with a note that their recourse could
not be read.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from app import POLICIES_DIR
from jobs.auditor.report import TITLES

_LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"(\s*:)?')
_HEADER = re.compile(r"^#\s*-+\s*([A-Z][A-Z0-9]*[0-9]):\s*(.*?)\s*-*\s*$", re.MULTILINE)
MIN_SENTENCE = 20


def _unescape(text: str) -> str:
    return text.replace('\\"', '"').replace("\\\\", "\\")


def find_rule(rule: str, policy_dirs: list[Path]) -> tuple[Path, str] | None:
    """The policy file that defines `rule` and the body of the first rule producing it."""
    needle = f'"{rule}"'
    for d in policy_dirs:
        for path in sorted(d.glob("*.rego")):
            if path.stem.endswith("_test"):
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            at = text.find(needle)
            if at == -1:
                continue
            end = text.find("\n}", at)
            return path, text[at + len(needle): end if end != -1 else len(text)]
    return None


def known_rules(policy_dirs: list[Path]) -> dict[str, str]:
    """Every rule id and its title: each `# --- ID: title ---` header of a policy, and the
    report's titles (which win)."""
    found: dict[str, str] = {}
    for d in policy_dirs:
        for path in sorted(d.glob("*.rego")):
            found.update(_HEADER.findall(path.read_text(encoding="utf-8", errors="replace")))
    return dict(sorted({**found, **TITLES}.items()))


def close_rules(rule: str, known: list[str], n: int = 3) -> list[str]:
    """Rules a typo most likely meant: the same family (K8S, GHA, ...) by nearest number first,
    then any look-alike."""
    m = re.fullmatch(r"([A-Z][A-Z0-9]*?)([0-9]+)", rule)
    family = [k for k in known if m and re.fullmatch(rf"{m.group(1)}[0-9]+", k)]
    if m and family:
        number = int(m.group(2))
        return sorted(family, key=lambda k: (abs(int(k[len(m.group(1)):]) - number), k))[:n]
    return difflib.get_close_matches(rule, known, n=n, cutoff=0.5)


def unknown_rule(rule: str, known: dict[str, str]) -> str:
    close = close_rules(rule, list(known))
    text = f"`{rule}` is not a rule of the policies here."
    if close:
        names = ", ".join(f"`{c}` ({known[c]})" for c in close)
        text += f" The closest {'one is' if len(close) == 1 else 'ones are'}: {names}."
    return text + f" All {len(known)} rules: {', '.join(known)}."


def explain(rule: str, policy_dirs: list[Path] | None = None) -> str:
    rule = rule.upper()
    dirs = policy_dirs if policy_dirs is not None else [POLICIES_DIR]
    found = find_rule(rule, dirs)
    if found is None:
        return unknown_rule(rule, known_rules(dirs))
    path, body = found
    sentences = [_unescape(m.group(1)) for m in _LITERAL.finditer(body)
                 if not m.group(2) and len(m.group(1)) >= MIN_SENTENCE]
    title = TITLES.get(rule) or next(
        (t for r, t in _HEADER.findall(path.read_text(encoding="utf-8")) if r == rule), rule)
    where = f"policies/{path.name}" if path.parent == POLICIES_DIR else path.name
    lines = [f"**{rule}: {title}** (`{where}`)"]
    if len(sentences) >= 2:
        lines += ["", f"How to satisfy it: {sentences[1]}"]
    else:
        lines += ["", "Its message and recourse could not be read from the policy source; "
                  "see the finding's annotation on the `shipcrew / policy` check run."]
    lines += ["", f"To accept a failing `{rule}` on this PR: `/crew waive {rule} <reason>` "
              "(needs maintain permission; recorded with your reason)."]
    return "\n".join(lines)

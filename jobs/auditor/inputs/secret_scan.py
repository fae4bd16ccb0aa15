"""Secret candidates in added lines, for SEC001.

Regex matching runs here (Python's engine), with the patterns of policies/data/secrets.json;
the policy decides. A candidate carries the pattern and the line, never the matched text.

The scan is linear in the size of a file, whatever its lines look like: the literals a secret
starts with (each pattern's `anchors`) are found with str.find, and each full pattern is only
tried there, anchored, on a bounded window.
Lines of any length are scanned (a key in a minified bundle is still a key).
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from app import POLICIES_DIR
from app.files import Files

SECRETS_DATA = POLICIES_DIR / "data" / "secrets.json"
WINDOW = 512  # characters a secret may span from its anchor (the longest token is ~200)


@dataclass(frozen=True)
class Pattern:
    id: str
    description: str
    regex: re.Pattern[str]


@cache
def load_patterns(path: Path = SECRETS_DATA) -> tuple[tuple[Pattern, ...], tuple[str, ...]]:
    conf = json.loads(path.read_text())["shipcrew"]["secrets"]
    patterns = tuple(Pattern(p["id"], p["description"], re.compile(p["regex"]))
                     for p in conf["patterns"])
    return patterns, tuple(conf.get("placeholders", ()))


@cache
def _anchors(path: Path = SECRETS_DATA) -> tuple[tuple[tuple[str, ...], bool], ...]:
    """Per pattern: the literals a match starts with, and whether case is ignored."""
    conf = json.loads(path.read_text())["shipcrew"]["secrets"]
    return tuple((tuple(p["anchors"]), bool(p.get("anchors_ignore_case")))
                 for p in conf["patterns"])


def _hits(text: str) -> list[tuple[int, int]]:
    """(offset, pattern index) of every anchor: str.find, which scans at memchr speed."""
    hits = []
    lowered: str | None = None
    for index, (literals, ignore_case) in enumerate(_anchors()):
        hay = text
        if ignore_case:
            lowered = text.lower() if lowered is None else lowered
            if len(lowered) != len(text):  # a character whose lower case is longer
                hits += [(m.start(), index) for m in re.finditer(
                    "|".join(map(re.escape, literals)), text, re.IGNORECASE)]
                continue
            hay = lowered
            literals = tuple(lit.lower() for lit in literals)
        for lit in literals:
            at = hay.find(lit)
            while at >= 0:
                hits.append((at, index))
                at = hay.find(lit, at + 1)
    hits.sort()
    return hits


def _line_starts(text: str) -> list[int]:
    starts = [0]
    find = text.find
    at = find("\n")
    while at >= 0:
        starts.append(at + 1)
        at = find("\n", at + 1)
    return starts


def scan_text(text: str, wanted: set[int] | None = None) -> list[tuple[int, Pattern, str]]:
    """(line, pattern, matched value): the first pattern (in file order) found on each line."""
    patterns, _ = load_patterns()
    starts: list[int] | None = None
    per_line: dict[int, dict[int, str]] = {}  # line -> pattern index -> first value
    regexes = [p.regex.match for p in patterns]
    for at, index in _hits(text):
        found = regexes[index](text, at, at + WINDOW)
        if not found:
            continue
        starts = starts if starts is not None else _line_starts(text)
        line = bisect_right(starts, at)
        if wanted is None or line in wanted:
            per_line.setdefault(line, {}).setdefault(index, found.group(0))
    out = []
    for line in sorted(per_line):
        index = min(per_line[line])
        out.append((line, patterns[index], per_line[line][index]))
    return out


def secret_candidates(files: Files, changed: dict[str, set[int]] | None) -> list[dict[str, object]]:
    """Candidates on the added lines of each file (every line when `changed` is None)."""
    _, placeholders = load_patterns()
    out: list[dict[str, object]] = []
    for path in sorted(files):
        wanted = None if changed is None else changed.get(path)
        if changed is not None and not wanted:
            continue
        for line, pattern, value in scan_text(files[path], wanted):
            out.append({
                "path": path, "line": line, "pattern": pattern.id,
                "description": pattern.description,
                "placeholder": any(ph in value for ph in placeholders),
            })
    return out

"""Secret candidates in added lines, for SEC001.

Regex matching runs here (Python's engine, linear prefilter first), with the patterns of
policies/data/secrets.json so a team can extend them; the policy decides. A candidate carries
the pattern and the line, never the matched text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from app import POLICIES_DIR
from app.files import Files

SECRETS_DATA = POLICIES_DIR / "data" / "secrets.json"
MAX_LINE = 4096  # minified bundles: scanning megabyte lines is slow and finds noise


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
def _prefilters(path: Path = SECRETS_DATA) -> tuple[re.Pattern[str], ...]:
    """Each pattern without its leading `\\b`: that anchor stops `re` from scanning for the
    literal prefix (10x slower on a whole file); without it a pattern matches a superset, so
    a file none of these match cannot hold a candidate."""
    patterns, _ = load_patterns(path)
    return tuple(re.compile(re.sub(r"^\\b", "", p.regex.pattern)) for p in patterns)


def secret_candidates(files: Files, changed: dict[str, set[int]] | None) -> list[dict[str, object]]:
    """Candidates on the added lines of each file (every line when `changed` is None)."""
    patterns, placeholders = load_patterns()
    prefilters = _prefilters()
    out: list[dict[str, object]] = []
    for path in sorted(files):
        lines_wanted = None if changed is None else changed.get(path)
        if lines_wanted is not None and not lines_wanted:
            continue
        if changed is not None and lines_wanted is None:
            continue
        text = files[path]
        if not any(p.search(text) for p in prefilters):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if (lines_wanted is not None and n not in lines_wanted) or len(line) > MAX_LINE:
                continue
            for p in patterns:
                m = p.regex.search(line)
                if m:
                    value = m.group(0)
                    out.append({
                        "path": path, "line": n, "pattern": p.id, "description": p.description,
                        "placeholder": any(ph in value for ph in placeholders),
                    })
                    break
    return out

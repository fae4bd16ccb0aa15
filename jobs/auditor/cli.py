"""`shipcrew audit PATH`: the verdict on a local tree, in a fresh process (what a CI step pays).

Start-up is most of that process's time, so this module imports little: it reads the tree,
starts the Helm renders of any charts (each a child process that takes longer to start than
anything else here), and only then imports the parsers, the engine and, when the repository
has a `.github/shipcrew.yml`, the config models.
"""

from __future__ import annotations

import sys
from pathlib import Path

from app import CONFIG_PATH, POLICIES_DIR
from app.files import decode, read_tree
from app.findings import Verdict
from jobs.auditor import charts
from jobs.auditor.report import FORMATS, render


def cli_audit(path: Path, fmt: str, policy_dirs: list[Path]) -> int:
    """`shipcrew audit PATH`: 0 pass/review, 1 fail, 2 usage or input error."""
    if fmt not in FORMATS:
        print(f"shipcrew audit: unknown format {fmt!r} (use {', '.join(FORMATS)})",
              file=sys.stderr)
        return 2
    if not path.exists():
        print(f"shipcrew audit: {path}: no such file or directory", file=sys.stderr)
        return 2
    if path.is_dir():
        files = read_tree(path)
        base = path
    else:
        text = _decode(path)
        if text is None:
            print(f"shipcrew audit: {path}: not a text file", file=sys.stderr)
            return 2
        files, base = {path.name if path.is_absolute() else path.as_posix(): text}, Path(".")
    renders = charts.start_charts(files)
    try:
        return _audit(files, base, fmt, policy_dirs, renders)
    finally:
        charts.close(renders)


def _audit(files: dict[str, str], base: Path, fmt: str, policy_dirs: list[Path],
           renders: dict[str, object]) -> int:
    from jobs.auditor.core import PolicyError, audit_files, load_policies

    config = None
    if CONFIG_PATH in files:  # pydantic and the config models load only for a repo with one
        from app.config import ConfigError, parse_config

        parsed = parse_config(files[CONFIG_PATH])
        if isinstance(parsed, ConfigError):
            print(f"shipcrew audit: invalid config:\n{parsed.summary()}", file=sys.stderr)
            return 2
        config = parsed.policies
    dirs = [*policy_dirs, *(base / d for d in (config.dirs if config else []))]
    try:
        load_policies([POLICIES_DIR, *dirs])
    except PolicyError as exc:
        print(f"shipcrew audit: {exc}", file=sys.stderr)
        return 2
    result = audit_files(files, policy_dirs=dirs, config=config, renders=renders)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for line in result.excluded:
        print(f"excluded: {line}", file=sys.stderr)
    print(render(result.findings, result.verdict, fmt))
    return 1 if result.verdict is Verdict.FAIL else 0


def _decode(path: Path) -> str | None:
    try:
        return decode(path.read_bytes())
    except OSError:
        return None

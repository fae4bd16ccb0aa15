"""A repository as plain data: repo-relative path -> text. Binary files are left out."""

from __future__ import annotations

import os
from pathlib import Path

SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", "target", "dist", "build",
             ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".shipcrew"}
MAX_FILE_BYTES = 10 * 1024 * 1024

Files = dict[str, str]


def decode(data: bytes) -> str | None:
    """Text of a file, or None when it is binary (NUL byte or not UTF-8)."""
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def read_tree(root: Path, max_bytes: int = MAX_FILE_BYTES) -> Files:
    """Every text file under `root`, keyed by its POSIX path relative to `root`."""
    files: Files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            full = Path(dirpath, name)
            if full.is_symlink() or not full.is_file() or full.stat().st_size > max_bytes:
                continue
            text = decode(full.read_bytes())
            if text is not None:
                files[full.relative_to(root).as_posix()] = text
    return files


def write_tree(root: Path, files: Files) -> None:
    for rel, text in files.items():
        target = (root / rel).resolve()
        if not target.is_relative_to(root.resolve()):
            raise ValueError(f"refusing to write outside {root}: {rel}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

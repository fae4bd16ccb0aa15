"""Read-only helpers over `Files` scoped to one project directory."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from collections.abc import Iterator
from typing import Any

from app.files import Files
from jobs.pipeline.stacks.model import join

# Directories whose manifests and sources never describe a deployable project.
IGNORED_SEGMENTS = {
    "node_modules", "vendor", "third_party", "testdata", "fixtures", "examples", "example",
    "docs", "test", "tests", "__tests__", ".github", "deploy", "migrations", "target", "dist",
    "build", ".venv", "venv",
}


def ignored(path: str) -> bool:
    return any(seg in IGNORED_SEGMENTS for seg in path.split("/")[:-1])


class Tree:
    """The repository seen from directory `root` ("." for the repository root)."""

    def __init__(self, files: Files, root: str = ".") -> None:
        self.files = files
        self.root = root

    def at(self, root: str) -> Tree:
        return Tree(self.files, root)

    def path(self, rel: str) -> str:
        return join(self.root, rel)

    def has(self, rel: str) -> bool:
        return self.path(rel) in self.files

    def text(self, rel: str) -> str | None:
        return self.files.get(self.path(rel))

    def first(self, *rels: str) -> str | None:
        """The first of `rels` that exists (relative name)."""
        return next((r for r in rels if self.has(r)), None)

    def toml(self, rel: str) -> dict[str, Any]:
        text = self.text(rel)
        if text is None:
            return {}
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return {}

    def json(self, rel: str) -> dict[str, Any]:
        text = self.text(rel)
        if text is None:
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}

    def walk(self, *suffixes: str, skip_tests: bool = True) -> Iterator[tuple[str, str]]:
        """(path relative to root, text) of files under root ending with `suffixes`."""
        prefix = "" if self.root == "." else self.root + "/"
        for path in sorted(self.files):
            if not path.startswith(prefix) or not path.endswith(suffixes):
                continue
            rel = path[len(prefix):]
            if skip_tests and (ignored(rel) or _is_test_file(rel)):
                continue
            yield rel, self.files[path]

    def dirs_matching(self, pattern: str, manifest: str) -> list[str]:
        """Directories (repo-relative) matching a workspace glob that hold `manifest`."""
        pattern = pattern.strip().rstrip("/").removeprefix("./")
        found = []
        for path in self.files:
            if not path.endswith("/" + manifest):
                continue
            directory = path[: -len(manifest) - 1]
            rel = directory if self.root == "." else directory.removeprefix(self.root + "/")
            if rel != directory or self.root == ".":
                if fnmatch.fnmatchcase(rel, pattern) and "node_modules" not in rel:
                    found.append(directory)
        return sorted(found)


def _is_test_file(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return bool(re.match(r"(test_.*\.py|.*_test\.(py|go)|.*\.(test|spec)\.[jt]sx?|conftest\.py)$",
                         name))


def first_match(pattern: str, texts: list[str], flags: int = re.M) -> str | None:
    for text in texts:
        m = re.search(pattern, text, flags)
        if m:
            return m.group(1)
    return None

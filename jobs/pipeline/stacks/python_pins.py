"""What a Python project's pins say about its image: the newest Python an old framework pin
still runs on, and the dependencies that compile against system libraries.

A Django 1.10 project on Python 3.13 crashes on import (`collections.Iterator` is gone since
3.10); the cap comes from Django's own supported-versions table. `psycopg2` (not -binary),
`mysqlclient` and `uwsgi` ship no Linux wheels: pip compiles them, which needs a compiler and
the library headers in the build stage and the shared library at run time.
"""

from __future__ import annotations

import re
from typing import Any

from jobs.pipeline.stacks.runtime import allows
from jobs.pipeline.stacks.tree import Tree

# Django release line -> newest Python it supports (docs.djangoproject.com, FAQ: install).
DJANGO_PYTHON = (("5.1", "3.13"), ("5.0", "3.12"), ("4.2", "3.12"), ("4.1", "3.11"),
                 ("4.0", "3.10"), ("3.2", "3.10"), ("3.1", "3.9"), ("3.0", "3.9"),
                 ("2.2", "3.9"), ("2.1", "3.7"), ("2.0", "3.7"), ("1.11", "3.7"),
                 ("1.10", "3.5"), ("1.9", "3.5"), ("1.8", "3.5"))
NEWEST_DJANGO = "5.2"
# requirement name -> (Debian packages to build it, Debian packages it needs at run time)
NATIVE = {
    "psycopg2": (["gcc", "libc6-dev", "libpq-dev"], ["libpq5"]),
    "mysqlclient": (["gcc", "libc6-dev", "pkg-config", "default-libmysqlclient-dev"],
                    ["libmariadb3"]),
    "uwsgi": (["gcc", "libc6-dev"], []),
}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:2])


def spec_of(tree: Tree, py: dict[str, Any], name: str, requirement_files: list[str]) -> str | None:
    """The version range the project gives `name` (requirements, pyproject, Pipfile, setup)."""
    pattern = re.compile(rf"^\s*{re.escape(name)}(?:\[[^\]]*\])?\s*([<>=!~^][^;#\n]*)",
                         re.I | re.M)
    texts = [tree.text(r) or "" for r in requirement_files]
    texts += [d for d in py.get("project", {}).get("dependencies", []) if isinstance(d, str)]
    for text in texts:
        m = pattern.search(text)
        if m:
            return m.group(1).strip()
    poetry = py.get("tool", {}).get("poetry", {}).get("dependencies", {})
    pipfile = tree.toml("Pipfile").get("packages", {})
    for table in (poetry, pipfile):
        for key, value in table.items():
            if key.lower() == name:
                value = value.get("version") if isinstance(value, dict) else value
                return value if isinstance(value, str) and value != "*" else None
    setup = re.search(rf"[\"']{re.escape(name)}\s*([<>=!~][^\"']*)[\"']",
                      tree.text("setup.py") or "", re.I)
    return setup.group(1).strip() if setup else None


def python_cap(framework: str | None, spec: str | None) -> tuple[str, str] | None:
    """(newest Python, the framework line that sets it) when an old pin caps the version."""
    if framework != "django" or not spec:
        return None
    lines = [NEWEST_DJANGO] + [line for line, _ in DJANGO_PYTHON]
    exact = re.match(r"\s*===?\s*(\d+\.\d+)", spec)
    line = exact.group(1) if exact else next((v for v in lines if allows(spec, v)), None)
    cap = dict(DJANGO_PYTHON).get(line or NEWEST_DJANGO)
    return (cap, f"django {line}") if cap else None


def capped(version: str, cap: tuple[str, str] | None, reasons: list[str]) -> str:
    if cap is None or _key(version) <= _key(cap[0]):
        return version
    reasons.append(f"{cap[1]} runs on Python {cap[0]} at most: the image uses {cap[0]}, not "
                   f"{version}")
    return cap[0]


def native_deps(runtime: set[str]) -> list[str]:
    return sorted(name for name in NATIVE if name in runtime)


def apt_packages(deps: list[str]) -> dict[str, list[str]]:
    return {"build": sorted({p for d in deps for p in NATIVE[d][0]}),
            "runtime": sorted({p for d in deps for p in NATIVE[d][1]})}

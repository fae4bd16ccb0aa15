"""Runtime facts shared by the language detectors: version ranges, ports, kept Dockerfiles.

Version ranges come in npm semver (`^22.1`, `>=12 <21`, `18 || 20`), PEP 440 (`>=3.9,<4`,
`~=3.10`, `==3.11.*`) and Poetry (`^3.9`) forms. `newest` picks the first candidate (callers
order them newest supported first) that the range allows.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from jobs.pipeline.stacks.tree import Tree

HIGH = 10_000
# Ports that belong to the service's dependencies, never to the service itself.
DEPENDENCY_PORTS = {"3306", "5432", "6379", "27017", "9200", "9300", "11211", "5672", "2181",
                    "9092", "1433", "1521", "8529", "26257", "4222"}
ENV_FILES = (".env", ".env.example", ".env.sample", "example.env", "env.example", ".env.dist",
             ".env.template", "sample.env")
ENV_PORT = re.compile(r"^\s*(?:export\s+)?(?:\w*_)?(?:PORT|ADDR|ADDRESS|BIND|LISTEN)\w*\s*[=:]\s*"
                      r"[\"']?(?:[\w.\[\]]*:)?(\d{2,5})[\"']?\s*$", re.M)


def _parts(text: str) -> list[int]:
    return [int(p) for p in re.findall(r"\d+", text)[:3]]


def _cmp(a: list[int], b: list[int]) -> int:
    n = max(len(a), len(b))
    a, b = a + [0] * (n - len(a)), b + [0] * (n - len(b))
    return (a > b) - (a < b)


def _allows(candidate: list[int], alternative: str, depth: int) -> bool:
    tokens = re.findall(r"(\^|~=|~|>=|<=|>|<|==|!=|=)?\s*v?(\d+(?:\.(?:\d+|[x*]))*(?:\.\*)?)"
                        r"|(\*)", alternative)
    if " - " in alternative:  # hyphen range
        low, high = alternative.split(" - ", 1)
        top = _parts(high)
        return _cmp(candidate, _parts(low)) >= 0 and _cmp(candidate[:len(top)], top) <= 0
    for op, raw, star in tokens:
        if star:
            continue
        wild = "x" in raw or "*" in raw
        version = _parts(raw)
        if not version:
            continue
        if op in ("", "=", "==") and (wild or op == "" or len(version) < len(candidate)):
            if _cmp(candidate[:len(version)], version) != 0:
                return False
        elif op in ("=", "=="):
            if _cmp(candidate, version) != 0:
                return False
        elif op == "!=":
            if _cmp(candidate[:len(version)], version) == 0:
                return False
        elif op in ("^", "~", "~="):
            at = {"^": next((i for i, p in enumerate(version) if p != 0), len(version) - 1),
                  "~=": max(0, len(version) - 2), "~": min(1, len(version) - 1)}[op]
            # Some release of the candidate line must fit: compare only what it fixes.
            keep = min(at + 1, depth)
            if _cmp(candidate, version) < 0 or candidate[:keep] != version[:keep]:
                return False
        elif op == ">=" and _cmp(candidate, version) < 0:
            return False
        elif op == ">" and _cmp(candidate[:len(version)], version) <= 0:
            return False
        elif op == "<" and _cmp(candidate, version) >= 0:
            return False
        elif op == "<=" and _cmp(candidate[:len(version)], version) > 0:
            return False
    return True


def allows(spec: str, version: str) -> bool:
    """Whether `spec` allows the newest release of `version` (a major or major.minor)."""
    parts = _parts(version)
    return any(_allows(parts + [HIGH], alt.strip(), len(parts)) for alt in spec.split("||"))


def newest(candidates: tuple[str, ...], spec: str) -> str | None:
    """The first candidate (newest supported first) the range allows, else None."""
    return next((c for c in candidates if allows(spec, c)), None)


def pick(preferred: tuple[str, ...], fallback: tuple[str, ...], spec: str) -> str | None:
    """Newest preferred (supported LTS) version inside the range, else any newer/older one."""
    return newest(preferred, spec) or newest(fallback, spec)


def env_port(tree: Tree) -> str | None:
    """A listen port from the env files a project ships (`PORT=8080`, `ADDRESS=:9090`)."""
    for rel in ENV_FILES:
        for match in ENV_PORT.finditer(tree.text(rel) or ""):
            if match.group(1) not in DEPENDENCY_PORTS:
                return match.group(1)
    return None


def dockerfile_facts(text: str) -> tuple[int | None, str | None]:
    """(first EXPOSEd port, CMD/ENTRYPOINT line) of a human Dockerfile, final stage only."""
    stage = re.split(r"^\s*FROM\s", text, flags=re.M | re.I)[-1]
    expose = re.search(r"^\s*EXPOSE\s+(\d{2,5})", stage, re.M | re.I)
    cmd = re.findall(r"^\s*(?:CMD|ENTRYPOINT)\s+(.+)$", stage, re.M | re.I)
    return (int(expose.group(1)) if expose else None), (" ".join(cmd) if cmd else None)


# A config file's listen port: `port: 8536` (YAML, HJSON), `port = 8000` (TOML), `"port": 80`.
CONFIG_FILES = ("config/defaults.hjson", "config/config.hjson", "config/default.yaml",
                "config/default.yml", "config/default.toml", "config/base.yaml",
                "configuration/base.yaml", "configuration/base.yml", "configuration.yaml",
                "config.yaml", "config.yml", "config.toml", "Rocket.toml", "settings.yaml")
CONFIG_PORT = re.compile(r"^(\s*)[\"']?port[\"']?\s*[:=]\s*(\d{2,5})\b", re.M)
# Sections whose port is a dependency's or a side listener's, never the service's.
NOT_SERVICE = re.compile(r"database|db|redis|postgres|mysql|mongo|smtp|e?mail|cache|prometheus|"
                         r"metrics|pictrs|federation|proxy|queue|broker", re.I)


def config_port(tree: Tree) -> tuple[str, str] | None:
    """(port, "file:line") of the first listen port in a config file the project ships."""
    for rel in CONFIG_FILES:
        text = tree.text(rel)
        for m in CONFIG_PORT.finditer(text or ""):
            before = text[:m.start()].splitlines() if text else []
            section = next((line for line in reversed(before) if line.strip() and
                            len(line) - len(line.lstrip()) < len(m.group(1)) and
                            not line.lstrip().startswith(("#", "//"))), "")
            if m.group(2) in DEPENDENCY_PORTS or NOT_SERVICE.search(section):
                continue
            return m.group(2), f"{tree.path(rel)}:{len(before) + 1}"
    return None


def procfile_web(tree: Tree) -> list[str] | None:
    """The words of the Procfile's `web:` process (`./target/release/app server`)."""
    m = re.search(r"^web:\s*(.+)$", tree.text("Procfile") or "", re.M)
    return m.group(1).split() if m else None


COMPOSE_FILES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")


def compose_port(root: Tree, name: str) -> tuple[int, str] | None:
    """(container port, evidence) of the compose service that runs `name` (a project
    directory's name): its service key, image or build names it; `ports: - "8081:8081"`."""
    for rel in COMPOSE_FILES:
        try:
            data: Any = yaml.safe_load(root.text(rel) or "") or {}
        except yaml.YAMLError:
            continue
        services = data.get("services", data) if isinstance(data, dict) else {}
        for key, spec in (services.items() if isinstance(services, dict) else []):
            if not isinstance(spec, dict):
                continue
            build = spec.get("build")
            build = build.get("context", "") if isinstance(build, dict) else build or ""
            names = {str(key), str(spec.get("image", "")).rsplit("/", 1)[-1].split(":")[0],
                     str(build).rstrip("/").rsplit("/", 1)[-1]}
            if name not in names and not any(n and name.endswith("-" + n) for n in names):
                continue
            for port in spec.get("ports") or []:
                m = re.fullmatch(r"(?:[\d.]+:)?(?:\d+:)?(\d{2,5})(?:/tcp)?", str(port).strip())
                if m:
                    return int(m.group(1)), f"{root.path(rel)} ({key})"
    return None

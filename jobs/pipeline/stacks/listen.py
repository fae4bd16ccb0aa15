"""Servers that listen on the loopback interface: in a container nothing else can reach them.

A listen address of 127.0.0.1/localhost in an env file the project ships
(`BIND_ADDRESS=127.0.0.1:8088`) or next to the env variable that sets it (`"LISTEN_ADDR":` …
`"127.0.0.1:8080"`) is fixed in the image: it sets that variable to 0.0.0.0. A loopback address
in code with no such variable (`e.Start("127.0.0.1:8585")`, `[127, 0, 0, 1].into()`) cannot
be fixed from outside, so the `shipcrew / pipeline` check run warns with the file and line.
"""

from __future__ import annotations

import re

from jobs.pipeline.stacks.model import Stack
from jobs.pipeline.stacks.runtime import DEPENDENCY_PORTS, ENV_FILES
from jobs.pipeline.stacks.tree import Tree

SOURCES = {"go": (".go",), "rust": (".rs",), "java": (".java", ".kt")}
ENV_NAME = r"[A-Z][A-Z0-9_]*(?:ADDR|ADDRESS|BIND|LISTEN|HOST)[A-Z0-9_]*"
ENV_LINE = re.compile(rf"^\s*(?:export\s+)?({ENV_NAME})\s*=\s*[\"']?(?:127\.0\.0\.1|localhost)"
                      r"(?::(\d{2,5}))?[\"']?\s*$", re.M)
LITERAL = re.compile(r"[\"'](?:127\.0\.0\.1|localhost)(?::(\d{2,5}))?[\"']|"
                     r"\[\s*127\s*,\s*0\s*,\s*0\s*,\s*1\s*\]|Ipv4Addr::(?:LOCALHOST|new\(\s*127\b)")
# A line that hands an address to a server (the literal is its listen address, not a client's).
BINDS = re.compile(r"\b(?:bind|Bind|listen|Listen|ListenAndServe|Start|Run|Addr|addr|ip|host)\b")
NEARBY_NAME = re.compile(rf"[\"']({ENV_NAME})[\"']")
# Addresses of what the service connects to, not where it listens.
CLIENT = re.compile(r"DB|DATABASE|REDIS|MONGO|POSTGRES|PG|MYSQL|SQL|SMTP|MAIL|CACHE|KAFKA|AMQP|"
                    r"RABBIT|ELASTIC|NATS|QUEUE|BROKER|PROXY|UPSTREAM|REMOTE|API_URL|CLIENT")


def check(stack: Stack, tree: Tree, kept: str | None = None) -> None:
    """Set an env variable that moves the server off loopback, or warn with the evidence.

    With a kept Dockerfile (`kept`, its text) nothing is set: it is a warning, unless that
    Dockerfile already sets the variable."""
    if not stack.is_service or stack.port is None or stack.language not in SOURCES:
        return
    if stack.port < 1024 and kept is None:
        stack.warnings.append(
            f"the server listens on port {stack.port}, below 1024: the image runs as user 10001 "
            "without NET_BIND_SERVICE, so it cannot bind it. Configure a port of 1024 or more "
            f"and set it in `.github/shipcrew.yml` (`services: - path: {stack.path}, port: …`).")
    for rel in ENV_FILES:
        text = tree.text(rel) or ""
        for var in ENV_LINE.finditer(text):
            if var.group(2) in DEPENDENCY_PORTS or CLIENT.search(var.group(1)):
                continue
            at = text.count("\n", 0, var.start()) + 1
            _set(stack, var.group(1), var.group(2), f"{tree.path(rel)}:{at}", kept)
    for rel, text in tree.walk(*SOURCES.get(stack.language, ())):
        lines = text.splitlines()
        for number, line in enumerate(lines, 1):
            m = LITERAL.search(line)
            if m is None or line.lstrip().startswith(("//", "#", "*")):
                continue
            port = m.group(1)
            if port in DEPENDENCY_PORTS or (port and int(port) != stack.port):
                continue
            array = not m.group(0).startswith(("'", '"'))
            if not (port or array and re.search(r"port", text, re.I) or BINDS.search(line)):
                continue
            where = f"{tree.path(rel)}:{number}"
            name = next((n.group(1) for n in map(NEARBY_NAME.search,
                                                  reversed(lines[max(0, number - 4):number]))
                         if n), None)
            if name and CLIENT.search(name):
                continue  # a client's address (DB_HOST …)
            if name:
                _set(stack, name, port, where, kept)
            elif not stack.env and not stack.warnings:
                _warn(stack, where, m.group(0))
            return


def _set(stack: Stack, name: str, port: str | None, where: str, kept: str | None) -> None:
    """The variable held an address (host:port) or only a host: keep that shape."""
    value = f"0.0.0.0:{port}" if port else "0.0.0.0"
    if name in stack.env or kept is not None and re.search(rf"^\s*ENV\s+{name}\b", kept, re.M):
        return
    if kept is not None:
        stack.warnings.append(f"`{where}` listens on loopback by default, and the kept "
                              f"Dockerfile does not set {name}: add `ENV {name}={value}` to "
                              "it, or the Service cannot reach the server.")
        return
    stack.env[name] = value
    stack.reasons.append(f"{where} listens on loopback by default: the image sets "
                         f"{name}={stack.env[name]} so the Service can reach it")


def _warn(stack: Stack, where: str, literal: str) -> None:
    stack.warnings.append(
        f"`{where}` binds {literal} (loopback): in a container no other pod, and not the "
        f"Kubernetes Service, can reach port {stack.port}. Make the server listen on "
        f"0.0.0.0:{stack.port} (or read the address from an environment variable), or keep a "
        f"Dockerfile that does and name it in `.github/shipcrew.yml` (`services: - path: "
        f"{stack.path}, dockerfile: …`).")

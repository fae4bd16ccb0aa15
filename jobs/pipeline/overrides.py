"""`services:` in .github/shipcrew.yml: the answers a team gives once, over detection.

Pure: detected stacks and the config entries in, stacks out. An entry for a directory
detection did not report runs that language's detector there first, so every field the entry
leaves out still comes from the code.
"""

from __future__ import annotations

import shlex

from app.config import ServiceConfig
from app.files import Files
from jobs.pipeline.stacks import Stack, detect_at
from jobs.pipeline.stacks.model import DEFAULT_PORTS, dns_label
from jobs.pipeline.stacks.runtime import dockerfile_facts


def apply_services(stacks: list[Stack], services: list[ServiceConfig], files: Files,
                   ) -> list[Stack]:
    by_path = {s.path: s for s in stacks}
    for entry in services:
        stack = by_path.get(entry.path)
        if stack is None or (entry.language and entry.language != stack.language):
            language = entry.language or (stack.language if stack else None)
            if language is None or language == "unknown":
                stack = stack or Stack(path=entry.path, name=dns_label(entry.path),
                                       language="unknown")
                stack.reasons.append("services: entry without `language` for a directory "
                                     "detection does not know: nothing generated")
                by_path[entry.path] = stack
                continue
            stack = detect_at(files, entry.path, language)
        _apply(stack, entry)
        if entry.dockerfile:
            kept = files.get(entry.dockerfile)
            if kept is None:
                stack.undecided = f"services: dockerfile {entry.dockerfile} does not exist"
            elif entry.port is None:
                stack.port = dockerfile_facts(kept)[0] or stack.port
        by_path[entry.path] = stack
    return sorted(by_path.values(), key=lambda s: s.path)


def _apply(stack: Stack, entry: ServiceConfig) -> None:
    said = []
    for key, attr in (("name", "name"), ("kind", "kind"), ("port", "port"),
                      ("start", "start_command"), ("build", "build_command"),
                      ("test", "test_command"), ("install", "install_command"),
                      ("version", "version"), ("dockerfile", "dockerfile")):
        value = getattr(entry, key)
        if value is not None:
            setattr(stack, attr, value)
            said.append(key)
    if entry.kind is None and (entry.start or entry.port or entry.dockerfile):
        stack.kind = "service"
    if stack.kind == "service":
        stack.port = stack.port or DEFAULT_PORTS.get(stack.framework or "", 8080)
        if stack.start_command is None and stack.dockerfile is None:
            stack.undecided = "the command that starts the service"
            return
    stack.undecided = None
    stack.reasons.append(f"services: {', '.join(said)} set in .github/shipcrew.yml")


def snippet(stack: Stack) -> str:
    """The `services:` entry that would settle what detection could not tell."""
    start = " ".join(shlex.quote(w) for w in stack.start_command) if stack.start_command else (
        "<command that starts the server>")
    port = stack.port or DEFAULT_PORTS.get(stack.framework or "", 8080)
    lines = ["services:", f"  - path: {_yaml(stack.path)}", f"    language: {stack.language}",
             "    kind: service", f"    port: {port}", f"    start: {_yaml(start)}"]
    return "\n".join(lines)


def _yaml(value: str) -> str:
    """A double-quoted YAML scalar (safe for any text a repository can contain)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("`", "'")
    return '"' + "".join(c if c.isprintable() else " " for c in escaped) + '"'

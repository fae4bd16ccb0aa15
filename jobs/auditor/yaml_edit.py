"""Minimal edits of YAML text at the lines and columns ruamel.yaml reports.

A round-trip dump would re-indent sequences and re-flow long lines; these edits leave every
byte they do not touch as it was. Callers check that the result still parses.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq


class Text:
    """Edits against the original text: spans replaced within a line (columns of the original,
    applied right to left, so edits on one line never shift each other), and insertions before
    lines."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines(keepends=True)
        if self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"
        self.inserts: dict[int, list[str]] = defaultdict(list)
        self.spans: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
        self.changed = False

    def insert(self, before: int, text: str) -> None:
        self.inserts[before].append(text)
        self.changed = True

    def replace(self, line: int, start: int, end: int, text: str) -> None:
        if self.lines[line][start:end] != text:
            self.spans[line].append((start, end, text))
            self.changed = True

    def render(self) -> str:
        out = []
        for i, line in enumerate([*self.lines, ""]):
            out.extend(self.inserts.get(i, []))
            # Right to left; at one column the edit made first ends up first.
            for start, end, new in sorted(reversed(self.spans.get(i, [])), key=lambda s: -s[0]):
                line = line[:start] + new + line[end:]
            out.append(line)
        return "".join(out)


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def block(items: dict[str, Any], col: int) -> str:
    out = []
    for key, value in items.items():
        if isinstance(value, dict) and value:
            out.append(f"{' ' * col}{key}:\n{block(value, col + 2)}")
        elif isinstance(value, list) and value:
            out.append(f"{' ' * col}{key}:\n")
            out.extend(item(v, " " * (col + 2) + "- ") for v in value)
        else:
            out.append(f"{' ' * col}{key}: {flow(value)}\n")
    return "".join(out)


def item(value: Any, prefix: str) -> str:
    """A block sequence item written after `prefix` (its indentation and dash)."""
    if not isinstance(value, dict) or not value:
        return f"{prefix}{flow(value)}\n"
    return prefix + block(value, len(prefix))[len(prefix):]


def add_keys(text: Text, node: CommentedMap, items: dict[str, Any]) -> bool:
    """Add `items` to the mapping `node` where it is written; False when that is not safe."""
    if not items:
        return True
    if node.fa.flow_style():
        line, col = node.lc.line, node.lc.col
        current = text.lines[line]
        end, depth = col, 0
        while end < len(current):
            depth += {"{": 1, "}": -1}.get(current[end], 0)
            if depth == 0:
                break
            end += 1
        if end >= len(current):
            return False  # a flow mapping over several lines: leave it to a human
        sep = ", " if len(node) else ""
        text.replace(line, end, end, sep + flow(items)[1:-1])
        return True
    keys = list(node)
    if not keys:
        return False
    first_line, col = node.lc.key(keys[0])
    if len(keys) > 1:
        at = node.lc.key(keys[1])[0]  # the first key's value ends before the second key
    elif not isinstance(node[keys[0]], dict | list):
        at = first_line + 1
    elif not text.lines[first_line][:col].strip():
        at = first_line
    else:
        return False
    text.insert(at, block(items, col))
    return True


def prepend(text: Text, seq: CommentedSeq, value: Any) -> bool:
    """Add `value` as the first item of the sequence `seq` (order does not matter to callers)."""
    line, col = seq.lc.line, seq.lc.col
    current = text.lines[line]
    if seq.fa.flow_style() or not seq:
        if current[col:col + 1] != "[":
            return False
        text.replace(line, col + 1, col + 1, flow(value) + (", " if seq else ""))
        return True
    first, item_col = seq.lc.item(0)
    prefix = text.lines[first][:item_col]
    if not re.fullmatch(r"\s*-\s+", prefix):
        return False  # `- - x` and friends: leave it to a human
    text.insert(first, item(value, prefix))
    return True


def set_scalar(text: Text, node: CommentedMap, key: str, value: Any) -> bool:
    line, col = node.lc.key(key)
    current = text.lines[line]
    m = re.compile(rf"""(["']?{re.escape(key)}["']?\s*:\s*)([^\s,}}#]+)""").match(current, col)
    if m is None:
        return False
    text.replace(line, m.start(2), m.end(2), scalar(value))
    return True


def ensure(text: Text, node: CommentedMap, wanted: dict[str, Any]) -> bool:
    """Add what `node` lacks of `wanted`, recursing into mappings it already has."""
    missing = {k: v for k, v in wanted.items() if k not in node}
    ok = add_keys(text, node, missing)
    for key, value in wanted.items():
        if key in node and isinstance(value, dict):
            if not isinstance(node[key], CommentedMap):
                return False
            ok = ensure(text, node[key], value) and ok
    return ok


def merge(into: dict[str, Any], items: dict[str, Any]) -> None:
    for key, value in items.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into.setdefault(key, copy.deepcopy(value))  # never alias a caller's constant


class Edits:
    """The text plus the keys each fix wants added per mapping, merged before they are
    written: two fixes that both add a missing `securityContext` must add it once."""

    def __init__(self, source: str) -> None:
        self.text = Text(source)
        self.wants: dict[int, tuple[CommentedMap, dict[str, Any]]] = {}

    def want(self, node: CommentedMap, items: dict[str, Any]) -> None:
        merge(self.wants.setdefault(id(node), (node, {}))[1], items)

    def flush(self) -> None:
        for node, items in self.wants.values():
            ensure(self.text, node, items)
        self.wants.clear()

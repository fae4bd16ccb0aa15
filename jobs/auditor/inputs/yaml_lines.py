"""Fast YAML loading for policy inputs: libyaml's event stream, ruamel's YAML 1.2 meaning.

ruamel's round-trip loader is pure Python and costs ~2 ms for a 50-line manifest, about half of
an audit. libyaml (PyYAML's C parser) emits the same events twenty times faster; this module
builds from them exactly what `inputs.plain` makes of a ruamel tree (YAML 1.2 scalars resolved
with ruamel's own rules, aliases shared), plus the lines `inputs.yaml_line_of` would give.
Anything unusual — a parse error, explicit tags, directives, merge keys, complex or duplicate
keys, reused anchors, deep nesting, an alias bomb — raises `Unsupported`, and the caller takes
the ruamel path, so messages and limits stay the same.

Only events are used, never `yaml.compose`: libyaml's Cython composer recurses on the C stack
and crashes the process on deeply nested input (`[[[[...` 30 000 deep), the event parser does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

AVAILABLE = bool(getattr(yaml, "__with_libyaml__", False))
MAX_DEPTH = 64  # ruamel's recursive composer fails near 300 levels: let it judge deep input
# Characters the two parsers treat differently: line breaks in YAML 1.1 (libyaml) but not 1.2
# (ruamel); tabs and byte-order marks, which ruamel refuses in places libyaml accepts them.
_ODD_CHARS = ("\t", "\ufeff", "\x85", "\u2028", "\u2029")

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_CONSTRUCTED = {_INT, "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"}


class Unsupported(Exception):
    """Input the fast path does not reproduce exactly: use ruamel."""


class TooDeep(ValueError):
    """Nesting deeper than ruamel can read (its scanner is quadratic on it): not YAML to judge."""


TOO_DEEP = 250  # ruamel's recursive composer gives up near 300 levels, after seconds


# ruamel's implicit resolvers for YAML 1.2 (its default), in its order: (tag, flags, first
# characters, regexp). A copy, so that `shipcrew audit` need not import ruamel for YAML this
# module reads; tests/jobs/auditor/test_inputs_yaml.py compares it with ruamel's own table.
RUAMEL_1_2: list[tuple[str, int, tuple[str, ...], str]] = [
    ('tag:yaml.org,2002:bool', re.X, tuple('tTfF'),
     '^(?:true|True|TRUE|false|False|FALSE)$'),
    ('tag:yaml.org,2002:float', re.X, tuple('-+0123456789.'),
     '^(?:\n'
     '         [-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+]?[0-9]+)?\n'
     '        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)\n'
     '        |[-+]?\\.[0-9_]+(?:[eE][-+][0-9]+)?\n'
     '        |[-+]?\\.(?:inf|Inf|INF)\n'
     '        |\\.(?:nan|NaN|NAN))$'),
    ('tag:yaml.org,2002:int', re.X, tuple('-+0123456789'),
     '^(?:[-+]?0b[0-1_]+\n'
     '        |[-+]?0o?[0-7_]+\n'
     '        |[-+]?[0-9_]+\n'
     '        |[-+]?0x[0-9a-fA-F_]+)$'),
    ('tag:yaml.org,2002:merge', 0, tuple('<'),
     '^(?:<<)$'),
    ('tag:yaml.org,2002:null', re.X, ('~', 'n', 'N', ''),
     '^(?: ~\n'
     '        |null|Null|NULL\n'
     '        | )$'),
    ('tag:yaml.org,2002:timestamp', re.X, tuple('0123456789'),
     '^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]\n'
     '        |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?\n'
     '        (?:[Tt]|[ \\t]+)[0-9][0-9]?\n'
     '        :[0-9][0-9] :[0-9][0-9] (?:\\.[0-9]*)?\n'
     '        (?:[ \\t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$'),
    ('tag:yaml.org,2002:value', 0, tuple('='),
     '^(?:=)$'),
    ('tag:yaml.org,2002:yaml', 0, tuple('!&*'),
     '^(?:!|&|\\*)$'),
]
_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _tag, _flags, _first, _pattern in RUAMEL_1_2:
    for _ch in _first:
        _RESOLVERS.setdefault(_ch, []).append((_tag, re.compile(_pattern, _flags)))


def _resolve(value: str) -> str:
    for tag, regexp in _RESOLVERS.get(value[:1], ()):
        if regexp.match(value):
            return str(tag)
    return _STR


@lru_cache(maxsize=4096)
def _ruamel_scalar(value: str) -> Any:
    """What ruamel's round-trip constructor makes of a plain scalar (ints, floats, dates)."""
    from ruamel.yaml import YAML

    yaml_rt = YAML(typ="rt")
    return yaml_rt.load(value)


@lru_cache(maxsize=65536)
def _implicit(value: str) -> tuple[Any, Any]:
    """A plain (unquoted, untagged) scalar as ruamel constructs it, and its `inputs.plain`
    form; cached, since keys and common values repeat across every file."""
    obj = _construct(value)
    return obj, _plain_scalar(obj)


def _construct(value: str) -> Any:
    tag = _resolve(value)
    if tag == _STR:
        return value
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return value[0] in "tT"
    if tag == _INT and value.isascii() and value.isdigit() and (value[0] != "0" or value == "0"):
        return int(value)
    if tag not in _CONSTRUCTED:
        raise Unsupported(f"scalar tagged {tag}")  # merge keys, `=`: ruamel builds objects
    return _ruamel_scalar(value)


def _plain_scalar(obj: Any) -> Any:
    """`inputs.plain` of a constructed scalar."""
    if isinstance(obj, bool | int | float) or obj is None:
        return obj
    return str(obj)


@dataclass(slots=True)
class Lines:
    """Where a mapping's keys or a sequence's items start (0-based, as ruamel's `lc`)."""

    line: int
    keys: dict[str, tuple[int, Lines | None]] | None = None  # key -> (line, child)
    items: list[tuple[int, Lines | None]] | None = None


# A finished node: (plain value, its lines if a collection, expanded size, start line).
_Node = tuple[Any, "Lines | None", int, int]


def load_documents(text: str, max_nodes: int) -> list[tuple[Any, Lines | None]]:
    """Each non-null document of `text` as (plain data, lines); raises Unsupported."""
    if not AVAILABLE or any(ch in text for ch in _ODD_CHARS):
        raise Unsupported("libyaml unavailable, or tabs, BOMs, unusual line breaks")
    parser = yaml.CSafeLoader(text)
    try:
        return _documents(parser, text, max_nodes)
    except yaml.YAMLError as exc:  # ruamel words the error (and may even accept the input)
        raise Unsupported(str(exc)) from exc
    finally:
        parser.dispose()


def _documents(parser: Any, text: str, max_nodes: int) -> list[tuple[Any, Lines | None]]:
    get_event = parser.get_event
    source: list[str] = []  # the text's lines, split when a block scalar needs checking
    docs: list[tuple[Any, Lines | None]] = []
    anchors: dict[str, _Node] = {}
    # Open collections: [is_mapping, data, lines, size, start line, anchor, pending key].
    stack: list[list[Any]] = []
    deep = False
    while True:
        event = get_event()
        cls = type(event)
        node: _Node | None = None
        if cls is yaml.ScalarEvent:
            if event.tag is not None:
                raise Unsupported("explicit tag")
            if event.implicit[0]:
                obj, value = _implicit(event.value)
            else:
                obj = value = event.value
                if event.style in ("|", ">"):
                    source = source or _LINE_BREAK.split(text)
                    _check_block_scalar(source, event.start_mark.line, event.start_mark.column)
            node = (value, None, 1, event.start_mark.line)
            if stack and stack[-1][0] and stack[-1][6] is None:
                # ruamel builds keys its own way (and `inputs.plain` turns them into str):
                # only string keys are taken here.
                if not isinstance(obj, str) or event.anchor is not None:
                    raise Unsupported("non-string or anchored key")
                stack[-1][6] = (obj, event.start_mark.line)
                node = None
        elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
            if event.tag is not None:
                raise Unsupported("explicit tag")
            if stack and stack[-1][0] and stack[-1][6] is None:
                raise Unsupported("complex key")
            if len(stack) >= TOO_DEEP:
                raise TooDeep(f"nesting deeper than {TOO_DEEP} levels "
                              f"(line {event.start_mark.line + 1})")
            deep = deep or len(stack) >= MAX_DEPTH
            line = event.start_mark.line
            if cls is yaml.MappingStartEvent:
                stack.append([True, {}, Lines(line, keys={}), 1, line, event.anchor, None])
            else:
                stack.append([False, [], Lines(line, items=[]), 1, line, event.anchor, None])
            if event.anchor is not None:
                anchors.setdefault(event.anchor, (None, None, 0, line))  # open: recursion
            continue
        elif cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
            _, data, lines, size, line, anchor, _ = stack.pop()
            node = (data, lines, size, line)
            if anchor is not None:
                _anchor(anchors, anchor, node)
        elif cls is yaml.AliasEvent:
            node = anchors.get(event.anchor)
            if node is None or node[2] == 0:
                raise Unsupported("undefined or recursive alias")
            if stack and stack[-1][0] and stack[-1][6] is None:
                raise Unsupported("alias as key")
        elif cls is yaml.DocumentStartEvent:
            if event.version is not None or event.tags:
                raise Unsupported("directive")
            continue
        elif cls is yaml.StreamEndEvent:
            if deep:
                raise Unsupported("deep nesting")
            return docs
        else:  # StreamStart, DocumentEnd
            continue
        if cls is yaml.ScalarEvent and event.anchor is not None and node is not None:
            _anchor(anchors, event.anchor, node)
        if node is None:
            continue
        if not stack:
            if node[2] > max_nodes:
                raise Unsupported("too many nodes")
            if node[0] is not None:
                docs.append((node[0], node[1]))
            anchors.clear()
            continue
        _add(stack[-1], node, max_nodes)


_LINE_BREAK = re.compile(r"\r\n?|\n")
_BLOCK_HEADER = re.compile(r"[|>](?:[+-]([1-9])?|([1-9])[+-]?)?(?: |$)")


def _check_block_scalar(lines: list[str], line: int, column: int) -> None:
    """Block scalars libyaml accepts and ruamel's scanner refuses: a header not followed by a
    space or the line end (`|-#`), and, without an indentation indicator, a first blank line
    of k > 0 spaces followed by lines indented deeper than k."""
    header = _BLOCK_HEADER.match(lines[line], column) if line < len(lines) else None
    if header is None:
        raise Unsupported("block scalar header")
    if header.group(1) or header.group(2):
        return
    first, deepest = -1, 0
    for text in lines[line + 1:]:
        body = text.lstrip(" ")
        deepest = max(deepest, len(text) - len(body))
        if body:
            break
        if first < 0:
            first = len(text)
    if first > 0 and deepest > first:
        raise Unsupported("block scalar indentation")


def _anchor(anchors: dict[str, _Node], name: str, node: _Node) -> None:
    old = anchors.get(name)
    if old is not None and old[2] != 0:
        raise Unsupported("reused anchor")  # ruamel warns about it
    anchors[name] = node


def _add(parent: list[Any], node: _Node, max_nodes: int) -> None:
    value, lines, size, line = node
    if parent[0]:
        key, key_line = parent[6]
        parent[6] = None
        if key in parent[1]:
            raise Unsupported("duplicate key")  # ruamel words the finding
        parent[1][key] = value
        parent[2].keys[key] = (key_line, lines)
    else:
        parent[1].append(value)
        parent[2].items.append((line, lines))
    parent[3] += size
    if parent[3] > max_nodes:
        raise Unsupported("too many nodes")


def line_finder(lines: Lines | None) -> Callable[[Any], int | None]:
    """`inputs.yaml_line_of` for a document loaded here."""

    def line_of(loc: Any) -> int | None:
        node, line = lines, (lines.line + 1 if lines is not None else None)
        for key in loc:
            if node is None:
                break
            if node.keys is not None and _has(node.keys, key):
                at, node = node.keys[key]
            elif (node.items is not None and isinstance(key, int)
                  and 0 <= key < len(node.items)):
                at, node = node.items[key]
            else:
                break
            line = at + 1
        return line

    return line_of


def _has(keys: dict[Any, Any], key: Any) -> bool:
    try:
        return key in keys
    except TypeError:  # an unhashable path element names no key
        return False

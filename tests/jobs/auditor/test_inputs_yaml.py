"""The libyaml fast path must give exactly what the ruamel path gives: data, lines, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobs.auditor import inputs
from jobs.auditor.inputs import yaml_lines as inputs_yaml

WORKFLOW = """# comment before the document
name: ci
on:
  pull_request:
    branches: [main]
  push:
permissions: {contents: read}
env:
  FLAG: on
  N: 017
  HEX: 0x1F
  OCT: 0o17
  F: 1.5e3
  NAN: .nan
  DAY: 2001-12-14
  WHEN: 2001-12-14t21:59:43.10-05:00
  EMPTY:
  TILDE: ~
  QUOTED: "true"
  SINGLE: 'x: y'
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4   # trailing comment
        with:
          ref: ${{ github.event.pull_request.head.sha }}

      - name: multi
        run: |
          echo "${{ github.event.issue.title }}"
          make test

      - run: >-
          folded
          text

          kept
      -   name: odd indent
          run: echo hi
      - {name: flow, run: "echo \\"quoted\\""}
"""

MANIFESTS = """---
apiVersion: v1
kind: Pod
metadata:
  name: a
  labels: &labels
    app: web
    tier: front
spec:
  containers:
  - name: app
    image: busybox
    securityContext:
      privileged: true
    env:
    - {name: A, value: "1"}
    - name: B
      value: plain scalar
        folded onto one line
---
# an empty document is skipped
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: b
  labels: &labels {app: api}
  annotations: *labels
spec:
  replicas: 3
  template:
    spec:
      containers: []
...
---
- a list document
- 2
"""


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[list[Any]]:
    out = [list(prefix), [*prefix, "missing"], [*prefix, 99]]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*prefix, i))
    return out


def _ruamel(text: str) -> list[tuple[Any, Any]]:
    trees, error = inputs.load_yaml("x.yaml", text)
    assert error is None
    return [(inputs.plain(t), inputs.yaml_line_of(t)) for t in trees]


@pytest.mark.parametrize("text", [WORKFLOW, MANIFESTS, "a: 1\n", "[1, {b: [2, 3]}]\n",
                                  "k:\n- x\n- - nested\n  - seq\n", "'just a string'\n", ""])
def test_fast_path_equals_ruamel_in_data_types_and_lines(text: str) -> None:
    fast = inputs_yaml.load_documents(text, inputs.MAX_NODES)
    slow = _ruamel(text)
    assert len(fast) == len(slow)
    for (data, lines), (want, want_line_of) in zip(fast, slow, strict=True):
        # json.dumps tells 1 from 1.0 from True, and keeps key order
        assert json.dumps(data) == json.dumps(want)
        line_of = inputs_yaml.line_finder(lines)
        for path in _paths(want):
            assert line_of(path) == want_line_of(path), path


def test_documents_record_lines_of_keys_and_items() -> None:
    docs, errors = inputs.yaml_documents(".github/workflows/ci.yml", WORKFLOW, "workflow")
    assert not errors and docs[0].tree is None  # came from libyaml
    line_of = docs[0].line_of
    assert line_of(["jobs", "build", "steps", 0, "with", "ref"]) == 27
    assert line_of(["jobs", "build", "steps", 1, "run"]) == 30
    assert line_of(["jobs", "build", "steps", 3, "run"]) == 40
    assert line_of(["jobs", "build", "steps", 4, "nope"]) == 41
    assert docs[0].input["on"]["push"] is None and docs[0].input["env"]["FLAG"] == "on"


@pytest.mark.parametrize("text", [
    "a: !Ref x\n", "a: !!str 1\n", "b: &x {k: 1}\nc:\n  <<: *x\n", "? [a, b]\n: 1\n",
    "1: one\n", "true: yes\n", "%YAML 1.1\n---\na: yes\n", "a:\n\tb: 1\n", "a: =\n",
    "a: &x 1\nb: &x 2\n", "a: &x [*x]\n", "a: " + "[" * 70 + "]" * 70 + "\n",
    "a: |-#\n  x\n", "a: |\n   \n           deeper\n", "a: 'x'\u2028\n",
])
def test_what_it_cannot_reproduce_goes_to_ruamel(text: str) -> None:
    with pytest.raises(inputs_yaml.Unsupported):
        inputs_yaml.load_documents(text, inputs.MAX_NODES)


def test_alias_bomb_is_left_to_ruamel_and_still_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    text = "apiVersion: v1\nkind: ConfigMap\n" + "\n".join(lines) + "\n"
    with pytest.raises(inputs_yaml.Unsupported, match="too many nodes"):
        inputs_yaml.load_documents(text, inputs.MAX_NODES)
    docs, errors = inputs.yaml_documents("k8s/bomb.yaml", text, None)
    assert not docs and "alias bomb" in errors[0].message


def test_deep_nesting_neither_crashes_nor_takes_long() -> None:
    # libyaml's composer (not used) segfaults on this; its event parser does not. ruamel's
    # scanner is quadratic on it (seconds): past TOO_DEEP levels the finding is ours.
    with pytest.raises(inputs_yaml.TooDeep, match="deeper than 250 levels"):
        inputs_yaml.load_documents("a: " + "[" * 30000 + "]" * 30000 + "\n", 10**6)
    text = "a: " + "[" * 400 + "]" * 400 + "\n"
    docs, errors = inputs.yaml_documents(".github/workflows/deep.yml", text, "workflow")
    assert not docs and errors[0].rule == "INPUT001" and "deeper than" in errors[0].message
    with pytest.raises(inputs_yaml.Unsupported, match="deep"):  # ruamel judges 64..250
        inputs_yaml.load_documents("a: " + "[" * 100 + "]" * 100 + "\n", 10**6)


@pytest.mark.parametrize("text", ["a: |-#\n  x\n", "a: |\n   \n           deeper\n",
                                  "a: [1, 2\nb: 3\n", "a: b: c\n"])
def test_errors_are_ruamels(text: str) -> None:
    _, expected = inputs.load_yaml("w.yml", text)
    docs, errors = inputs.yaml_documents("w.yml", text, "workflow")
    assert expected is not None and not docs
    assert [(e.message, e.line) for e in errors] == [(expected.message, expected.line)]


def test_complex_keys_are_a_finding_not_a_crash() -> None:
    docs, errors = inputs.yaml_documents("w.yml", "? [a, {b: 1}]\n: x\n", "workflow")
    assert not docs and errors[0].message.startswith("invalid YAML")


def test_the_resolver_table_is_ruamels() -> None:
    """yaml_lines keeps a copy of ruamel's YAML 1.2 resolvers (the CLI does not import ruamel)."""
    import re

    from ruamel.yaml.resolver import implicit_resolvers

    ours = [(tag, re.compile(pattern, flags).pattern, re.compile(pattern, flags).flags,
             tuple(first)) for tag, flags, first, pattern in inputs_yaml.RUAMEL_1_2]
    assert ours == [(tag, regexp.pattern, regexp.flags, tuple(first))
                    for versions, tag, regexp, first in implicit_resolvers if (1, 2) in versions]

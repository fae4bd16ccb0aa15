"""Choosing the delivery workflow and the inputs a dispatch may send."""

from __future__ import annotations

import pytest

from jobs.release.dispatch import choose_workflow, dispatch_inputs

WITH_INPUTS = """on:
  workflow_dispatch:
    inputs:
      environment: {type: string}
      sha: {type: string}
      dry_run: {type: boolean}
jobs: {}
"""


@pytest.mark.parametrize(("text", "inputs"), [
    (WITH_INPUTS, {"environment", "sha", "dry_run"}),
    ("on: workflow_dispatch\njobs: {}\n", set()),
    ("on: [push, workflow_dispatch]\njobs: {}\n", set()),
    ("on:\n  workflow_dispatch:\njobs: {}\n", set()),
    ("on:\n  push:\n    branches: [main]\njobs: {}\n", None),
    ("on: push\n", None),
    ("not: [valid", None),
    ("- a list\n", None),
    ("", None),
], ids=["inputs", "string", "list", "null", "push-only", "push-string", "bad-yaml", "list-doc",
        "empty"])
def test_dispatch_inputs(text: str, inputs: set[str] | None) -> None:
    assert dispatch_inputs(text) == inputs


def test_choose_workflow_prefers_delivery() -> None:
    ci = "on: [push, workflow_dispatch]\n"
    assert choose_workflow({"ci.yml": ci, "delivery.yml": WITH_INPUTS}) == (
        "delivery.yml", {"environment", "sha", "dry_run"})
    assert choose_workflow({"ci.yml": ci, "delivery-api.yml": ci, "delivery-web.yml": ci}) == (
        "delivery-api.yml", set())
    # A delivery workflow that cannot be dispatched loses to one that can.
    assert choose_workflow({"delivery.yml": "on: push\n", "release.yml": ci}) == (
        "release.yml", set())
    assert choose_workflow({"ci.yml": "on: push\n"}) is None
    assert choose_workflow({}) is None


def test_the_generated_delivery_workflow_takes_environment_and_sha() -> None:
    from pathlib import Path

    golden = Path(__file__).parents[1] / "golden/py-fastapi-uv/.github/workflows/delivery.yml"
    assert dispatch_inputs(golden.read_text()) == {"environment", "sha"}

"""Just enough of a GitHub Actions runner to say which commit a workflow run deploys.

The emulator does not execute workflows, so a test that asks "is the commit the gate judged
the commit that is deployed?" needs this model of what GitHub does with a dispatch:

- the run's `github.sha` is the head of the dispatched ref (that is what the protection rule
  is asked about, `deployment_protection_rule.sha`);
- a job runs its steps in order; a `run:` step is a real bash script (its `env:` expressions
  evaluated) and a non-zero exit fails the job there;
- `actions/checkout` checks out `with.ref` (evaluated), else `github.sha`.

Only the steps up to each job's first checkout are executed: that checkout decides what the
job builds and deploys. Expressions support what the delivery templates use in those steps:
`inputs.NAME`, `github.sha`, quoted literals, and `a || b`.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

from ruamel.yaml import YAML

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def evaluate(text: str, context: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        for operand in match.group(1).split("||"):
            value = _operand(operand.strip(), context)
            if value:
                return value
        return ""

    return _EXPR.sub(one, text)


def _operand(operand: str, context: dict[str, Any]) -> str:
    if operand[:1] in ("'", '"'):
        return operand[1:-1]
    value: Any = context
    for part in operand.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return str(value) if value else ""


def checked_out(workflow: str, job: str, github_sha: str, inputs: dict[str, str]) -> str | None:
    """The commit `job` checks out (and so builds or deploys), or None when a step before
    the checkout fails the job."""
    spec = YAML(typ="safe").load(workflow)["jobs"][job]
    context = {"github": {"sha": github_sha}, "inputs": inputs}
    for step in spec.get("steps") or []:
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            ref = (step.get("with") or {}).get("ref")
            return evaluate(str(ref), context) if ref else github_sha
        if "run" in step:
            env = {k: evaluate(str(v), context) for k, v in (step.get("env") or {}).items()}
            script = evaluate(step["run"], context)
            done = subprocess.run(["bash", "-e", "-c", script], capture_output=True, check=False,
                                  env={"PATH": os.environ["PATH"], "GITHUB_SHA": github_sha,
                                       **env})
            if done.returncode != 0:
                return None
    raise AssertionError(f"job {job} never checks out the repository")

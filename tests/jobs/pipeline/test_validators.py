from __future__ import annotations

import sys

import pytest

from app.files import read_tree
from jobs.pipeline.validate import kube_schema, tool_path, validate, validate_report
from tests.jobs.conftest import GOLDEN


def test_golden_outputs_pass_every_validator(repo_name: str) -> None:
    files = read_tree(GOLDEN / repo_name)
    report = validate_report(files)
    assert report.errors() == []
    tools = {r.tool for r in report.results}
    assert {"actionlint", "zizmor"} <= tools
    if any(p.endswith("Dockerfile") for p in files):
        assert {"hadolint", "helm"} <= tools
        assert set(report.timings) == {"actionlint", "zizmor", "hadolint",
                                       "helm+kubernetes-validate"}


def test_tools_come_from_the_running_venv() -> None:
    for tool in ("actionlint", "zizmor", "hadolint"):
        assert tool_path(tool).parent == tool_path("python").parent
        assert str(tool_path(tool)).startswith(sys.prefix)
        assert tool_path(tool).exists()


BAD_WORKFLOW = """on: pull_request
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""


def _by_tool(results: list) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in results:
        if not r.ok:
            out.setdefault(r.tool, []).append(r)
    return out


def test_workflow_problems_are_reported_by_actionlint_and_zizmor() -> None:
    bad = _by_tool(validate({".github/workflows/ci.yml": BAD_WORKFLOW}))
    assert any("node20" in r.message or "deprecated" in r.message for r in bad["actionlint"])
    assert any("untrusted" in r.message for r in bad["actionlint"])
    idents = " ".join(r.message for r in bad["zizmor"])
    assert "[unpinned-uses]" in idents and "[artipacked]" in idents
    assert all(r.path == ".github/workflows/ci.yml" and r.line for r in bad["zizmor"])


def test_hadolint_fails_at_warning_threshold() -> None:
    bad = _by_tool(validate({"svc/Dockerfile": "FROM python\nRUN pip install flask\n"}))
    codes = {r.message.split("]")[0].strip("[") for r in bad["hadolint"]}
    assert {"DL3006", "DL3013"} <= codes
    assert all(r.path == "svc/Dockerfile" for r in bad["hadolint"])


CHART = {"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n"}


@pytest.mark.parametrize(("template", "expected"), [
    ("apiVersion: v1\nkind: Servic\nmetadata:\n  name: x\n", "unknown or removed kind"),
    ("apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: x\n",
     "unknown or removed kind"),
    ("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n"
     "    - port: http-port\n      bogus: 1\n", "'bogus' was unexpected"),
    ("a: [b\n", "not YAML"),
    ("a: {{ .Values.x }\n", "unexpected"),
])
def test_broken_charts_fail(template: str, expected: str) -> None:
    results = validate({**CHART, "c/templates/x.yaml": template})
    failed = [r for r in results if not r.ok]
    assert any(expected in r.message for r in failed), failed


def test_all_schema_errors_of_one_object_are_reported() -> None:
    doc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
           "spec": {"ports": [{"port": "nope", "bogus": 1}]}}
    assert len(kube_schema([doc], "svc.yaml")) == 2


def test_custom_resources_only_warn() -> None:
    doc = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
           "metadata": {"name": "x"}}
    (result,) = kube_schema([doc], "sm.yaml")
    assert result.ok and result.level == "warning"

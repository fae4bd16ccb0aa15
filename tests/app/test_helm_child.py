"""The render child (app/helm_child.py): Helm's library called directly, the same answers as
helm-python's wrapper gives, and nothing imported that rendering does not need."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import helm, helm_check, helm_child
from app.files import write_tree

CHART = {"Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
         "values.yaml": "port: 80\nname: x\n",
         "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                              "  name: {{ .Release.Name }}-{{ .Release.Namespace }}\ndata:\n"
                              "  port: {{ .Values.port | quote }}\n  n: {{ .Values.name }}\n",
         "templates/x.json": '{"a": {{ .Values.port }}}\n',
         "templates/NOTES.txt": "installed {{ .Release.Name }}\n"}


def wrapper_reply(chart: dict[str, str], release: str, values: dict[str, Any] | None,
                  namespace: str, tmp: Path) -> dict[str, Any]:
    """What the helm-python wrapper answers (the check op's renderer, in this process)."""
    write_tree(tmp / "chart", chart)
    try:
        return {"ok": helm_check._render(tmp / "chart", release, values, namespace)}
    except helm.ChartError as exc:
        return helm._error(exc)


@pytest.mark.parametrize("case", ["plain", "values", "template error", "bad Chart.yaml",
                                  "fail", "no name"])
def test_the_child_answers_as_helm_pythons_wrapper(case: str, tmp_path: Path) -> None:
    chart, values, release, namespace = dict(CHART), None, "web", "default"
    if case == "values":
        values, namespace, release = {"port": 9, "name": "é\"\n"}, 'n"s', "r\\1"
    elif case == "template error":
        chart["templates/cm.yaml"] = "a: {{ .Values.port }\n"
    elif case == "bad Chart.yaml":
        chart["Chart.yaml"] = "name: [x\n"
    elif case == "fail":
        chart["templates/cm.yaml"] = '{{ fail "boom" }}\n'
    elif case == "no name":
        chart["Chart.yaml"] = "apiVersion: v2\nversion: 0.1.0\n"
    reply = helm._start("render", chart=chart, release=release, values=values,
                        namespace=namespace).result()
    assert reply == wrapper_reply(chart, release, values, namespace, tmp_path)
    assert ("ok" in reply) == (case in ("plain", "values"))


def test_a_chart_without_chart_yaml_is_answered_without_a_child() -> None:
    pending = helm._start("render", chart={"templates/a.yaml": "a: 1\n"}, release="r",
                          values=None, namespace="default")
    assert isinstance(pending, helm._Answered)
    assert pending.result()["error"]["message"] == "no Chart.yaml at the chart root"


def test_the_declarations_are_helm_pythons(monkeypatch: pytest.MonkeyPatch) -> None:
    from helm_python import _native

    declared: dict[str, tuple[Any, list[Any]]] = {}

    class Recorder:
        def __getattr__(self, name: str) -> Any:
            return declared.setdefault(name, type("Fn", (), {})())

    helm_child._declare(Recorder())  # type: ignore[arg-type]
    assert declared
    for name, fn in declared.items():
        restype, argtypes = _native.SIGNATURES[name]
        assert (fn.restype, fn.argtypes) == (restype, argtypes), name  # type: ignore[attr-defined]
    assert helm._library() == str(_native.library_path)
    assert helm_child.ABI.startswith(_native.EXPECTED_HELM_C_VERSION.rsplit(".", 1)[0])
    assert callable(ctypes.CDLL(helm._library()).helm_render)


def test_the_child_imports_only_ctypes(tmp_path: Path) -> None:
    write_tree(tmp_path / "chart", CHART)
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-X", "importtime", str(helm.CHILD), str(helm.HELM_MEMORY),
         str(helm.HELM_CPU_SECONDS), helm._library(),
         str(tmp_path / "chart"), json.dumps({"name": "web"})],
        input=b"", capture_output=True, check=True)
    assert done.stdout.startswith(b"O")
    imported = {line.split("|")[-1].strip() for line in done.stderr.decode().splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "ctypes" in imported
    assert not imported & {"json", "helm_python", "logging", "typing", "pathlib", "tempfile",
                           "re", "app"}


def test_garbage_past_the_memory_limit_still_renders() -> None:
    """Go's collector is off in the child until the heap nears GOMEMLIMIT (half the limit):
    a chart that allocates 1.5 GB in passing, 1 GiB being the limit, still renders."""
    chart = {"Chart.yaml": CHART["Chart.yaml"],
             "templates/x.yaml": '{{ range until 300000 }}{{ $x := repeat 5000 "x" }}{{ end }}'
                                 "a: 1\n"}
    assert helm.render_chart(chart) == {"templates/x.yaml": "a: 1\n"}

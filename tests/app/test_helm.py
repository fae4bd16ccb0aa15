"""A hostile chart from a pull request: Helm runs in a limited child, the worker survives."""

from __future__ import annotations

import resource
import time

import pytest

from app import helm
from app.helm import ChartError, render_chart

CHART = "apiVersion: v2\nname: evil\nversion: 0.1.0\n"


def _chart(template: str) -> dict[str, str]:
    return {"Chart.yaml": CHART, "templates/x.yaml": template}


def test_a_small_template_that_allocates_gigabytes_is_refused() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    with pytest.raises(ChartError, match="memory"):
        render_chart(_chart('{{ range until 400000000 }}x{{ end }}\n'))
    assert time.monotonic() - t0 < helm.HELM_TIMEOUT
    grew_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grew_kb < 100 * 1024  # the worker itself did not grow


def test_a_template_that_never_ends_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(helm, "HELM_CPU_SECONDS", 2)
    monkeypatch.setattr(helm, "HELM_TIMEOUT", 5.0)
    t0 = time.monotonic()
    with pytest.raises(ChartError, match="CPU|took over"):
        render_chart(_chart("{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}\n"))
    assert time.monotonic() - t0 < 8


def test_output_over_the_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(helm, "HELM_OUTPUT", 1024 * 1024)
    with pytest.raises(ChartError, match="over 1 MB"):
        render_chart(_chart('a: {{ repeat 3000000 "x" }}\n'))


def test_an_ordinary_chart_still_renders() -> None:
    template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
    out = render_chart(_chart(template), release="r1")
    assert "name: r1" in out["templates/x.yaml"]

"""Helm's answers by content (app.rendercache): the same chart is rendered by one child."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from app import helm
from app.helm import ChartError, check_chart, render_chart

CHART = {"Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
         "values.yaml": "port: 80\n",
         "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                              "  name: {{ .Release.Name }}\ndata:\n"
                              "  port: {{ .Values.port | quote }}\n"}


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ops of every Helm child started (the real child still runs)."""
    started: list[str] = []
    real = helm._isolated

    def counted(op: str, **request: Any) -> dict[str, Any]:
        started.append(op)
        return real(op, **request)

    monkeypatch.setattr(helm, "_isolated", counted)
    return started


def test_the_same_chart_is_rendered_once(redis_conn: redis.Redis, children: list[str]) -> None:
    first = render_chart(CHART, release="web", conn=redis_conn)
    assert render_chart(CHART, release="web", conn=redis_conn) == first
    assert "name: web" in first["templates/cm.yaml"]
    assert children == ["render"]
    other = render_chart(CHART, release="web", values={"port": 81}, conn=redis_conn)
    assert '"81"' in other["templates/cm.yaml"]
    render_chart({**CHART, "values.yaml": "port: 82\n"}, release="web", conn=redis_conn)
    render_chart(CHART, release="api", conn=redis_conn)
    assert children == ["render"] * 4  # values, files and release are all in the key


def test_a_check_serves_the_audits_render(redis_conn: redis.Redis,
                                          children: list[str]) -> None:
    check = check_chart(CHART, release="web", kube_version="v1.34.0", conn=redis_conn)
    assert check.error is None and any(m["severity"] == "info" for m in check.lint)
    assert render_chart(CHART, release="web", conn=redis_conn) == check.rendered
    again = check_chart(CHART, release="web", kube_version="v1.34.0", conn=redis_conn)
    assert (again.lint, again.rendered) == (check.lint, check.rendered)
    assert children == ["check"]
    check_chart(CHART, release="web", kube_version="v1.30.0", conn=redis_conn)
    assert children == ["check", "check"]  # the linter's Kubernetes version is in its key


def test_a_template_error_is_an_answer_too(redis_conn: redis.Redis,
                                           children: list[str]) -> None:
    broken = {**CHART, "templates/cm.yaml": "a: {{ .Values.port }\n"}
    for _ in range(2):
        with pytest.raises(ChartError, match="cm.yaml"):
            render_chart(broken, conn=redis_conn)
    not_yaml = {**CHART, "templates/cm.yaml": "a: [b\n"}
    for _ in range(2):
        assert "not YAML" in str(check_chart(not_yaml, conn=redis_conn).error)
    assert children == ["render", "check"]


def test_a_limit_is_never_kept(redis_conn: redis.Redis, children: list[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(helm, "HELM_OUTPUT", 64)
    big = {**CHART, "templates/cm.yaml": 'a: {{ repeat 1000 "x" }}\n'}
    for _ in range(2):
        with pytest.raises(ChartError, match="over 0 MB"):
            render_chart(big, conn=redis_conn)
        assert "over 0 MB" in str(check_chart(big, conn=redis_conn).error)
    assert children == ["render", "check"] * 2


def test_no_connection_outside_a_job_means_no_cache(children: list[str]) -> None:
    render_chart(CHART)
    render_chart(CHART)
    assert children == ["render", "render"]

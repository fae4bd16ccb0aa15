from __future__ import annotations

import pytest

from app.files import read_tree
from app.helm import ChartError, manifests, render_chart
from tests.jobs.conftest import GOLDEN


def chart(repo: str, name: str) -> dict[str, str]:
    prefix = f"deploy/helm/{name}/"
    return {p.removeprefix(prefix): t for p, t in read_tree(GOLDEN / repo).items()
            if p.startswith(prefix)}


def test_render_generated_chart() -> None:
    out = render_chart(chart("py-fastapi-uv", "orders-api"), release="orders-api",
                       values={"image": {"repository": "ghcr.io/acme/orders-api",
                                         "digest": "sha256:" + "a" * 64}})
    kinds = {d["kind"] for path, text in out.items() if path.endswith(".yaml")
             for d in manifests(text)}
    assert kinds == {"Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler",
                     "PodDisruptionBudget", "NetworkPolicy"}
    (deployment,) = manifests(out["templates/deployment.yaml"])
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert deployment["metadata"]["name"] == "orders-api"
    assert container["image"] == "ghcr.io/acme/orders-api@sha256:" + "a" * 64
    assert container["ports"][0]["containerPort"] == 8000
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["livenessProbe"]["tcpSocket"]["port"] == "http"


def test_ingress_is_optional() -> None:
    files = chart("node-express-npm", "inventory")
    assert manifests(render_chart(files)["templates/ingress.yaml"]) == []
    on = render_chart(files, values={"ingress": {"enabled": True}})
    (ingress,) = manifests(on["templates/ingress.yaml"])
    assert ingress["spec"]["rules"][0]["host"] == "inventory.example.com"


def test_broken_template_names_file_and_line() -> None:
    files = {"Chart.yaml": "apiVersion: v2\nname: x\nversion: 0.1.0\n",
             "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\n\ndata: {{ .Values.x }\n"}
    with pytest.raises(ChartError) as err:
        render_chart(files)
    assert (err.value.path, err.value.line) == ("templates/cm.yaml", 4)


def test_rendered_output_that_is_not_yaml_fails() -> None:
    files = {"Chart.yaml": "apiVersion: v2\nname: x\nversion: 0.1.0\n",
             "templates/cm.yaml": "kind: ConfigMap\ndata: [{{ .Release.Name }}\n"}
    with pytest.raises(ChartError) as err:
        render_chart(files)
    assert err.value.path == "templates/cm.yaml" and "not YAML" in err.value.message


def test_missing_chart_yaml() -> None:
    with pytest.raises(ChartError, match="Chart.yaml"):
        render_chart({"templates/a.yaml": "a: 1\n"})

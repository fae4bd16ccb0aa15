"""shipcrew's own delivery: the Dockerfile and deploy/helm/shipcrew pass shipcrew's auditor with
zero findings, the pipeline engineer's validation gate (hadolint, helm lint, helm template,
the Kubernetes schemas), and KEDA's ScaledObject schema (keda-scaledobject.schema.json)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from app.files import read_tree
from app.helm import manifests, render_chart
from app.queue import QUEUE_ORDER
from jobs.auditor.core import audit_files
from jobs.pipeline.validate import kube_schema, validate_report

ROOT = Path(__file__).parents[2]
CHART = ROOT / "deploy/helm/shipcrew"
KEDA = json.loads((Path(__file__).parent / "keda-scaledobject.schema.json").read_text())
VARIANTS = {
    "defaults": {},
    "monitoring, no KEDA, Redis password over TLS": {
        "serviceMonitor": {"enabled": True}, "keda": {"enabled": False},
        "redis": {"existingSecret": "redis", "tls": True},
        "existingSecret": "shipcrew-app"},
}


def _files(values: dict[str, Any] | None = None) -> dict[str, str]:
    files = {f"deploy/helm/shipcrew/{p}": t for p, t in read_tree(CHART).items()}
    files["Dockerfile"] = (ROOT / "Dockerfile").read_text()
    if values:
        merged = yaml.safe_load(files["deploy/helm/shipcrew/values.yaml"])
        for key, value in values.items():
            merged[key] = {**merged[key], **value} if isinstance(value, dict) else value
        files["deploy/helm/shipcrew/values.yaml"] = yaml.safe_dump(merged)
    return files


def _objects(values: dict[str, Any] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    rendered = render_chart(read_tree(CHART), release="crew", values=values)
    docs = [d for path, text in rendered.items() if path.endswith(".yaml")
            for d in manifests(text, path)]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


@pytest.mark.parametrize("values", VARIANTS.values(), ids=VARIANTS.keys())
def test_our_own_auditor_finds_nothing(values: dict[str, Any]) -> None:
    result = audit_files(_files(values))
    assert [f"{f.path}:{f.line} {f.rule_id} {f.message}" for f in result.findings] == []
    assert result.verdict.value == "pass"


def test_the_cli_audit_says_so() -> None:
    out = subprocess.run([sys.executable, "-m", "app.cli", "audit", str(ROOT / "deploy")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "0 finding(s)" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("values", VARIANTS.values(), ids=VARIANTS.keys())
def test_validation_gate_passes(values: dict[str, Any]) -> None:
    report = validate_report(_files(values))
    assert [r for r in report.results if not r.ok or r.level == "error"] == []
    # The only note: the custom resources have no Kubernetes schema (KEDA's is checked below).
    assert {r.message.split(":")[0] for r in report.results if r.level == "warning"} <= {
        "ScaledObject/shipcrew-worker", "ServiceMonitor/shipcrew"}
    assert {"hadolint", "kubernetes-validate"} <= {r.tool for r in report.results}
    assert "helm+kubernetes-validate" in report.timings


@pytest.mark.parametrize("values", VARIANTS.values(), ids=VARIANTS.keys())
def test_every_object_validates_against_its_schema(values: dict[str, Any]) -> None:
    objects = _objects(values)
    custom = {("ScaledObject", "keda.sh/v1alpha1"), ("ServiceMonitor", "monitoring.coreos.com/v1")}
    core = [d for d in objects.values() if (d["kind"], d["apiVersion"]) not in custom]
    assert [r.message for r in kube_schema(core, "chart") if not r.ok or r.level != "ok"] == []
    for doc in objects.values():
        if doc["kind"] == "ScaledObject":
            jsonschema.Draft202012Validator(KEDA).validate(doc)


def test_the_keda_schema_catches_what_keda_would_drop() -> None:
    so = _objects()[("ScaledObject", "crew-shipcrew-worker")]
    validator = jsonschema.Draft202012Validator(KEDA)
    assert not list(validator.iter_errors(so))
    broken = json.loads(json.dumps(so))
    broken["spec"]["triggers"][0]["metadata"]["listLength"] = 5  # KEDA wants strings
    broken["spec"]["triggers"][1]["metadata"]["listname"] = "typo"
    broken["spec"]["minReplicas"] = 1
    errors = sorted(e.message for e in validator.iter_errors(broken))
    assert any("5 is not of type 'string'" in e for e in errors)
    assert any("'listname' is not one of" in e for e in errors)
    assert any("'minReplicas' was unexpected" in e for e in errors)


def test_shape_web_workers_and_scaling() -> None:
    objects = _objects()
    web = objects[("Deployment", "crew-shipcrew-web")]
    assert web["spec"]["replicas"] >= 2
    [container] = web["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    pdb = objects[("PodDisruptionBudget", "crew-shipcrew-web")]
    assert pdb["spec"]["selector"]["matchLabels"] == web["spec"]["selector"]["matchLabels"]
    worker = objects[("Deployment", "crew-shipcrew-worker")]
    assert "replicas" not in worker["spec"]  # KEDA owns the count
    so = objects[("ScaledObject", "crew-shipcrew-worker")]
    assert so["spec"]["scaleTargetRef"]["name"] == "crew-shipcrew-worker"
    # one Redis list trigger per RQ queue the App really uses
    assert [t["metadata"]["listName"] for t in so["spec"]["triggers"]] == [
        f"rq:queue:{q.value}" for q in QUEUE_ORDER]
    env = {e["name"]: e for e in worker["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["REDIS_URL"]["value"] == "redis://$(REDIS_ADDRESS)/0"
    assert env["PRIVATE_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "crew-shipcrew"
    probe = worker["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    assert probe["exec"]["command"] == ["python", "-m", "app.probe", "worker"]
    assert ("NetworkPolicy", "crew-shipcrew") in objects
    assert ("ServiceMonitor", "crew-shipcrew") not in objects  # off unless the CRDs exist
    monitored = _objects({"serviceMonitor": {"enabled": True}})
    assert monitored[("ServiceMonitor", "crew-shipcrew")]["spec"]["endpoints"][0]["path"] == (
        "/metrics")

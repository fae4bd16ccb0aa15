from __future__ import annotations

import pytest

from app.findings import Finding, Fix
from app.pins import Pins
from jobs.auditor.core import audit_files
from jobs.auditor.fixes import apply_fixes, fix_files

PINS = Pins.load()
CHECKOUT = PINS.pins["actions/checkout"]

WORKFLOW = f"""# CI for the shop
name: ci
on: [push]

# the build
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@{CHECKOUT.ref.split('.')[0]}
      - uses: "actions/setup-python@v1"   # an old major: left to a human
      - run: make test  # keep me
"""

DOCKERFILE = """# syntax=docker/dockerfile:1
FROM python:3.12-slim AS build
RUN pip install build

FROM python:3.12-slim
COPY --from=build /app /app
RUN pip install /app \\
    && rm -rf /root/.cache
EXPOSE 8000
CMD ["python", "-m", "app"]
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web  # the storefront
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/web:1.2.3
          ports:
            - containerPort: 8080
          securityContext:
            privileged: true
        - name: sidecar
          image: ghcr.io/acme/sidecar:0.1.0
          securityContext: {allowPrivilegeEscalation: true}
          resources: {limits: {cpu: 100m}}
          livenessProbe: {tcpSocket: {port: 9000}}
          readinessProbe: {tcpSocket: {port: 9000}}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports: [{port: 80}]
"""


def rules_by_path(files: dict[str, str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in audit_files(files).findings:
        out.setdefault(f.path, set()).add(f.rule)
    return out


def fixed(files: dict[str, str]) -> dict[str, str]:
    findings = audit_files(files).findings
    changes = apply_fixes(files, findings, PINS)
    return {**files, **changes}


def test_workflow_pins_the_same_release_line_and_adds_permissions() -> None:
    files = {".github/workflows/ci.yml": WORKFLOW}
    before = audit_files(files).findings
    assert {"GHA001", "GHA002"} <= {f.rule for f in before}
    assert any(f.fix and f.fix.kind == "pin-action" for f in before)
    after = fixed(files)[".github/workflows/ci.yml"]
    assert f"actions/checkout@{CHECKOUT.sha} # {CHECKOUT.ref}" in after
    assert '"actions/setup-python@v1"   # an old major: left to a human' in after
    # Comments and formatting elsewhere are untouched; permissions sit above the comment.
    assert "# CI for the shop\nname: ci\non: [push]\n\npermissions:\n  contents: read\n\n" \
           "# the build\njobs:\n" in after
    assert "      - run: make test  # keep me\n" in after
    left = audit_files({".github/workflows/ci.yml": after}).findings
    assert "GHA001" not in {f.rule for f in left}
    assert [f.message for f in left if f.rule == "GHA002"] == [
        "action `actions/setup-python@v1` is not pinned to a full commit SHA"]


def test_dockerfile_gets_a_non_root_user_before_cmd() -> None:
    files = {"Dockerfile": DOCKERFILE}
    assert "DKR002" in rules_by_path(files)["Dockerfile"]
    after = fixed(files)["Dockerfile"]
    assert "    && rm -rf /root/.cache\nUSER 10001:10001\nEXPOSE 8000\n" in after
    assert "DKR002" not in rules_by_path({"Dockerfile": after}).get("Dockerfile", set())


def test_dockerfile_running_as_root_is_overridden() -> None:
    files = {"Dockerfile": "FROM alpine:3.20\nUSER root\nRUN apk add curl\n"}
    after = fixed(files)["Dockerfile"]
    assert after.endswith("RUN apk add curl\nUSER 10001:10001\n")
    assert "DKR002" not in rules_by_path({"Dockerfile": after}).get("Dockerfile", set())


def test_manifest_security_context_resources_probes_and_privileged() -> None:
    files = {"k8s/web.yaml": DEPLOYMENT}
    before = rules_by_path(files)["k8s/web.yaml"]
    assert {"K8S001", "K8S002", "K8S004", "K8S007"} <= before
    after = fixed(files)["k8s/web.yaml"]
    assert rules_by_path({"k8s/web.yaml": after}).get("k8s/web.yaml", set()) == set()
    assert "  name: web  # the storefront\n" in after
    # One edit per mapping, every fix's keys merged into it (no duplicated securityContext).
    assert "securityContext: {allowPrivilegeEscalation: false, runAsNonRoot: true, " \
           "runAsUser: 10001, capabilities: {drop: [ALL]}, readOnlyRootFilesystem: true}" in after
    assert after.count("securityContext:") == 3
    assert "            privileged: false\n            allowPrivilegeEscalation: false\n" in after
    assert "    spec:\n      securityContext:\n        seccompProfile:\n" \
           "          type: RuntimeDefault\n      automountServiceAccountToken: false\n" \
           "      volumes:\n        - name: tmp\n          emptyDir: {}\n" in after
    assert after.count("            - name: tmp\n              mountPath: /tmp\n") == 2
    assert "resources: {limits: {cpu: 100m, memory: 512Mi}, requests: {cpu: 100m, " \
           "memory: 128Mi}}" in after
    assert "spec:\n  ports: [{port: 80}]\n" in after


def test_probes_need_a_declared_port() -> None:
    pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
           "    - name: a\n      image: nginx:1.27\n")
    after = fixed({"pod.yaml": pod})["pod.yaml"]
    assert "livenessProbe" not in after
    assert "K8S007" in rules_by_path({"pod.yaml": after})["pod.yaml"]
    assert {"K8S002", "K8S004"}.isdisjoint(rules_by_path({"pod.yaml": after})["pod.yaml"])


def test_helm_templates_and_unknown_kinds_are_left_alone() -> None:
    finding = Finding(rule="K8S002", path="chart/templates/deployment.yaml", message="x",
                      fix=Fix(kind="add-resources", path="chart/templates/deployment.yaml"))
    files = {"chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
             "chart/templates/deployment.yaml": DEPLOYMENT}
    assert apply_fixes(files, [finding]) == {}
    other = finding.model_copy(update={"path": "k.yaml", "fix": Fix(kind="nope", path="k.yaml")})
    assert apply_fixes({"k.yaml": DEPLOYMENT}, [other]) == {}


def test_only_changed_files_are_returned_and_descriptions_name_them() -> None:
    files = {"Dockerfile": DOCKERFILE, "README.md": "hi\n",
             "Dockerfile.ok": "FROM alpine:3.20\nUSER 10001\n"}
    changes, done = fix_files(files, audit_files(files).findings, PINS)
    assert list(changes) == ["Dockerfile"]
    assert done == ["Dockerfile: add-user"]


@pytest.mark.parametrize("manifest", [
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, "
    "image: 'nginx:1.27'}]}\n",
])
def test_flow_style_pod_spec_is_not_broken(manifest: str) -> None:
    files = {"p.yaml": manifest}
    changes = apply_fixes(files, audit_files(files).findings, PINS)
    for text in changes.values():
        assert rules_by_path({"p.yaml": text})  # still parses and is evaluated


HARDENED_BUT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      serviceAccountName: api-reader
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      volumes:
      - name: cache
        emptyDir: {}
      containers:
      - name: api
        image: ghcr.io/acme/api:1.0.0
        ports: [{containerPort: 8080}]
        volumeMounts:
        - {name: cache, mountPath: /cache}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: false
          capabilities:
            drop:
            - NET_RAW
        resources: {limits: {cpu: 100m, memory: 64Mi}}
        livenessProbe: {tcpSocket: {port: 8080}}
        readinessProbe: {tcpSocket: {port: 8080}}
      - name: debug
        image: ghcr.io/acme/debug:1.0.0
        volumeMounts: [{name: scratch, mountPath: /tmp/}]
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          seccompProfile: {type: Unconfined}
          capabilities: {drop: [NET_RAW], add: [NET_ADMIN]}
        resources: {limits: {cpu: 100m, memory: 64Mi}}
        livenessProbe: {tcpSocket: {port: 8080}}
        readinessProbe: {tcpSocket: {port: 8080}}
"""


def test_existing_lists_are_extended_and_decisions_left_alone() -> None:
    files = {"k8s/api.yaml": HARDENED_BUT}
    before = audit_files(files).findings
    assert {f.rule for f in before} == {"K8S008", "K8S009", "K8S010"}
    after = fixed(files)["k8s/api.yaml"]
    # Items are added in the list's own style: block lists get a block item, flow a flow one.
    assert "      volumes:\n      - name: tmp\n        emptyDir: {}\n      - name: cache\n" in after
    assert "        volumeMounts:\n        - name: tmp\n          mountPath: /tmp\n" \
           "        - {name: cache, mountPath: /cache}\n" in after
    assert "          readOnlyRootFilesystem: true\n" in after
    assert "            drop:\n            - ALL\n            - NET_RAW\n" in after
    assert "capabilities: {drop: [ALL, NET_RAW], add: [NET_ADMIN]}" in after
    assert "volumeMounts: [{name: scratch, mountPath: /tmp/}]" in after  # /tmp already there
    left = audit_files({"k8s/api.yaml": after}).findings
    # An explicit Unconfined profile and an added capability are for a human to judge.
    lines = after.splitlines()
    unconfined = lines.index("          seccompProfile: {type: Unconfined}") + 1
    added = next(i for i, line in enumerate(lines, 1) if "add: [NET_ADMIN]" in line)
    assert sorted((f.rule, f.line) for f in left) == [("K8S009", added), ("K8S010", unconfined)]
    assert "NET_ADMIN" in next(f.message for f in left if f.rule == "K8S009")


def test_read_only_root_needs_a_usable_tmp_volume() -> None:
    pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
           "  automountServiceAccountToken: false\n"
           "  volumes: [{name: tmp, hostPath: {path: /tmp}}]\n  containers:\n"
           "    - name: a\n      image: nginx:1.27\n")
    after = fixed({"pod.yaml": pod})["pod.yaml"]
    assert "readOnlyRootFilesystem" not in after
    assert "K8S008" in rules_by_path({"pod.yaml": after})["pod.yaml"]
    assert "drop: [ALL]" in after or "- ALL" in after  # the other fixes still apply


def test_single_line_flow_pod_gets_every_edit_at_the_right_column() -> None:
    pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, "
           "image: 'nginx:1.27', ports: [{containerPort: 80}], securityContext: "
           "{privileged: true}, resources: {limits: {cpu: 1}}}]}\n")
    after = fixed({"p.yaml": pod})["p.yaml"]
    assert rules_by_path({"p.yaml": after}) == {}
    # Edits at several columns of one line, each at the column the parser reported.
    assert after.splitlines()[-1] == (
        "spec: {containers: [{name: a, image: 'nginx:1.27', ports: [{containerPort: 80}], "
        "securityContext: {privileged: false, allowPrivilegeEscalation: false, runAsNonRoot: "
        "true, runAsUser: 10001, capabilities: {drop: [ALL]}, readOnlyRootFilesystem: true}, "
        "resources: {limits: {cpu: 1, memory: 512Mi}, requests: {cpu: 100m, memory: 128Mi}}, "
        "livenessProbe: {tcpSocket: {port: 80}, periodSeconds: 10}, readinessProbe: {tcpSocket: "
        "{port: 80}, periodSeconds: 10}, volumeMounts: [{name: tmp, mountPath: /tmp}]}], "
        "securityContext: {seccompProfile: {type: RuntimeDefault}}, "
        "automountServiceAccountToken: false, volumes: [{name: tmp, emptyDir: {}}]}")


OLD_MAJORS = """on: [push]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
"""


def test_a_fix_is_claimed_only_when_its_finding_is_gone() -> None:
    # The pin table holds other major versions: pinning would change behaviour, so only
    # the permissions block is added, and only that is claimed.
    files = {".github/workflows/ci.yml": OLD_MAJORS}
    findings = audit_files(files).findings
    assert {f.rule for f in findings} >= {"GHA001", "GHA002"}
    changes, done = fix_files(files, findings, PINS)
    assert done == [".github/workflows/ci.yml: add-permissions"]
    left = audit_files(changes).findings
    assert {f.rule for f in left if f.rule.startswith("GHA002")} == {"GHA002"}
    assert "GHA001" not in {f.rule for f in left if f.severity.value == "hard"}


def test_nothing_is_committed_when_no_fix_applies() -> None:
    text = OLD_MAJORS.replace("jobs:", "permissions: {contents: read}\njobs:")
    files = {".github/workflows/ci.yml": text}
    assert fix_files(files, audit_files(files).findings, PINS) == ({}, [])


def test_a_partial_fix_says_how_many_it_fixed() -> None:
    text = OLD_MAJORS.replace("actions/setup-python@v5", f"actions/checkout@{CHECKOUT.ref}")
    files = {".github/workflows/ci.yml": text.replace("jobs:", "permissions: {}\njobs:")}
    _, done = fix_files(files, audit_files(files).findings, PINS)
    assert done == [".github/workflows/ci.yml: pin-action (1 of 2)"]

"""`shipcrew audit` loads only what the run needs, and a repository without a config is judged
exactly as one with the default config."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

from app import ROOT
from app.config import PoliciesConfig
from jobs.auditor import core
from jobs.auditor.core import audit_files

PRIVILEGED = """apiVersion: v1
kind: Pod
metadata:
  name: agent
spec:
  containers:
    - name: agent
      image: busybox:1.36
      securityContext:
        privileged: true
"""
PROBE = """
import json, sys
from pathlib import Path
from jobs.auditor.cli import cli_audit
code = cli_audit(Path(sys.argv[1]), "json", [])
heavy = sorted(m for m in ("pydantic", "multiprocessing", "githubkit", "starlette", "rq",
                           "app.config", "logging", "ruamel.yaml", "app.helm") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def _run(tree: Path) -> tuple[dict[str, object], str]:
    done = subprocess.run([sys.executable, "-c", PROBE, str(tree)], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=60)
    *said, last = done.stderr.strip().splitlines()
    return dict(json.loads(last)), "\n".join(said)


def test_no_config_loads_no_pydantic_nor_ruamel_and_a_broken_one_fails_closed(
        tmp_path: Path) -> None:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "pod.yaml").write_text(PRIVILEGED)
    assert _run(tmp_path)[0] == {"code": 1, "heavy": []}
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "shipcrew.yml").write_text("policies:\n  mode: [enforce\n")
    result, said = _run(tmp_path)
    assert result == {"code": 2, "heavy": ["app.config", "pydantic", "ruamel.yaml"]}
    assert "invalid config" in said and ".github/shipcrew.yml:3:1: invalid YAML" in said, said


def test_no_config_is_the_default_config() -> None:
    default = PoliciesConfig()
    assert (default.mode, default.legacy, default.rules, default.exclude, default.dirs) == (
        core.DEFAULT_MODE, core.DEFAULT_LEGACY, {}, [], [])
    files = {"k8s/pod.yaml": PRIVILEGED, "k8s/old.yaml": PRIVILEGED.replace("agent", "old")}
    changed = {"k8s/pod.yaml": {10}}  # old.yaml untouched: legacy, reported not blocking

    def judged(config: PoliciesConfig | None) -> object:
        return dataclasses.replace(audit_files(files, config=config, changed=changed),
                                   timings={})

    assert judged(None) == judged(default)
    assert {f.mode.value for f in audit_files(files, changed=changed).findings
            if f.path == "k8s/old.yaml"} == {"audit"}


CHART_PROBE = PROBE.replace('("pydantic",', '("subprocess", "tempfile", "helm_python", "pydantic",')


def test_a_chart_renders_without_subprocess_tempfile_or_helm_python(tmp_path: Path) -> None:
    chart = tmp_path / "deploy" / "web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "templates" / "pod.yaml").write_text(PRIVILEGED)
    done = subprocess.run([sys.executable, "-c", CHART_PROBE, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=60)
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result == {"code": 1, "heavy": ["app.helm"]}
    assert '"rule": "K8S' in done.stdout and "deploy/web/templates/pod.yaml" in done.stdout


def test_the_command_line_is_parsed_without_shutil() -> None:
    probe = ("import sys; from app.cli import parser; parser().parse_args(['audit', '.']); "
             "print(sorted(m for m in ('shutil', 'bz2', 'lzma') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, check=True, env={**os.environ, "COLUMNS": "60"})
    assert done.stdout.strip() == "[]"
    usage = subprocess.run([sys.executable, "-m", "app.cli", "audit", "--help"], cwd=ROOT,
                           capture_output=True, text=True, check=True,
                           env={**os.environ, "COLUMNS": "60"}).stdout
    assert "--format {text,json,sarif}" in usage
    assert max(len(line) for line in usage.splitlines()) <= 60

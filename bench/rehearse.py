"""Rehearse generated Python and Node images without Docker: interpret the Dockerfile.

    .venv/bin/python bench/rehearse.py [--timeout S] [REPO ...]

For each corpus repository (bench/realworld/corpus.json) whose generated Dockerfile is for
Python or Node, the snapshot is extracted into a scratch directory and the Dockerfile's
`WORKDIR`/`COPY`/`RUN`/`ENV`/`CMD` are interpreted there with the machine's own toolchains
(a venv, npm): container paths (/app, /opt/venv, /tmp) are mapped into the scratch directory,
`COPY --from` is a no-op (one directory holds both stages), and the command is started bound
to 127.0.0.1 with the port probed over HTTP (any HTTP answer counts: the server is up).

It does not prove an image builds on Docker (other base image, other Python/Node version);
it catches wrong install commands, wrong entry modules, missing runtime dependencies and
wrong ports. Services that need a database at start fail here and are reported as such.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.files import write_tree  # noqa: E402
from bench.realworld import load_corpus, missing, snapshot  # noqa: E402
from jobs.pipeline.plan import plan_generation  # noqa: E402

STEP_TIMEOUT = 600


def _map(text: str, root: Path) -> str:
    """Container paths -> scratch paths."""
    return re.sub(r"(?<![\w.$-])/(app|opt|src|tmp)\b", lambda m: f"{root}/{m.group(1)}", text)


def _words(arg: str) -> list[str]:
    arg = arg.strip()
    if arg.startswith("["):
        return [str(w) for w in json.loads(arg)]
    return ["sh", "-c", arg]


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", dockerfile)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, arg = line.partition(" ")
            out.append((op.upper(), arg.strip()))
    return out


def _probe(port: int, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited {proc.returncode} before answering"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            time.sleep(0.5)
            continue
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                return f"answers HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            return f"answers HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            return f"port open, no HTTP answer ({exc})"
    return "no answer before the timeout"


def rehearse(entry: dict[str, object], timeout: float) -> tuple[str, str]:
    files = snapshot(entry)
    plan = plan_generation(files)
    services = [s for s in plan.stacks if s.is_service and s.language in ("python", "node")]
    if not services:
        return "-", "no Python/Node service"
    stack = services[0]
    dockerfile = plan.changes.get(("" if stack.path == "." else stack.path + "/") + "Dockerfile")
    if dockerfile is None:
        return "kept", "the repository's own Dockerfile (not rehearsed)"
    if "corepack enable" in dockerfile:
        # corepack would install pnpm/yarn shims into the machine's Node: not in a scratch dir.
        return "-", f"{stack.build_tool}: corepack is not rehearsed"
    with tempfile.TemporaryDirectory(prefix="shipcrew-rehearse-") as tmp:
        root = Path(tmp)
        source = root / "context"
        write_tree(source, {**files, **plan.changes})
        context = source / (stack.build_root if stack.build_root != "." else "")
        shims = root / "shims"
        shims.mkdir()
        (shims / "python").symlink_to(shutil.which("python3") or sys.executable)
        env = {"HOME": str(root / "home"), "PATH": f"{shims}:{os.environ['PATH']}",
               "LANG": "C.UTF-8"}
        cwd = root
        cmd: list[str] | None = None
        log = root / "log.txt"
        for op, arg in _instructions(dockerfile):
            if op == "FROM" or op == "USER" or op == "EXPOSE":
                continue
            if op == "WORKDIR":
                cwd = Path(_map(arg, root))
                cwd.mkdir(parents=True, exist_ok=True)
            elif op == "ENV":
                for key, value in re.findall(r"(\w+)=(\"[^\"]*\"|\S+)", arg):
                    value = _map(value.strip('"'), root).replace("$PATH", env["PATH"])
                    env[key] = value
            elif op == "COPY" and not arg.startswith("--from"):
                *srcs, dest = shlex.split(arg)
                target = Path(_map(dest, root)) if dest.startswith("/") else cwd / dest
                for src in srcs:
                    path = context / src
                    if path.is_dir():
                        shutil.copytree(path, target, dirs_exist_ok=True)
                    else:
                        (target if dest.endswith("/") else target.parent).mkdir(
                            parents=True, exist_ok=True)
                        shutil.copy(path, target / path.name if dest.endswith("/") else target)
            elif op == "RUN":
                command = _map(re.sub(r"--mount=\S+", "", arg), root)
                with log.open("a") as out:
                    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdout=out,
                                          stderr=subprocess.STDOUT, timeout=STEP_TIMEOUT)
                if done.returncode != 0:
                    tail = log.read_text()[-400:].replace("\n", " ")
                    return "build failed", f"RUN {arg[:80]}: exit {done.returncode}: {tail}"
            elif op in ("CMD", "ENTRYPOINT"):
                cmd = [_map(w, root) for w in _words(arg)]
        if cmd is None:
            return "no command", "the Dockerfile has no CMD"
        cmd = [w.replace("0.0.0.0", "127.0.0.1") for w in cmd]
        with log.open("a") as out:
            proc = subprocess.Popen(cmd, cwd=cwd, env={**env, "HOSTNAME": "127.0.0.1",
                                                      "HOST": "127.0.0.1"},
                                    stdout=out, stderr=subprocess.STDOUT)
            try:
                result = _probe(stack.port or 0, proc, timeout)
            finally:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        ok = result.startswith("answers")
        detail = "" if ok else " | " + log.read_text()[-300:].replace("\n", " ")
        summary = f"{' '.join(cmd[:4])} :{stack.port} {result}{detail}"
        return ("starts" if ok else "no answer"), summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repos", nargs="*")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    corpus = [e for e in load_corpus() if not args.repos or e["repo"] in args.repos]
    corpus = [e for e in corpus if e["repo"] not in missing(corpus)]
    results = {}
    for entry in corpus:
        try:
            status, detail = rehearse(entry, args.timeout)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            status, detail = "error", f"{type(exc).__name__}: {exc}"
        results[entry["repo"]] = status
        print(f"{status:12} {entry['repo']:45} {detail[:400]}", flush=True)
    tried = [s for s in results.values() if s not in ("-", "kept")]
    started = sum(s == "starts" for s in tried)
    print(json.dumps({"rehearsed": len(tried), "starts": started}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

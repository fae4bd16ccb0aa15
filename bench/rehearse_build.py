"""A static build rehearsal of the generated Go, JVM and Rust Dockerfiles on the real corpus.

    .venv/bin/python bench/rehearse_build.py [REPO ...]

Maven Central, the Gradle plugin portal, crates.io and the Go module proxy are not reachable
from this machine (`mvn -q dependency:resolve` fails on the parent POM; `cargo fetch` cannot
resolve index.crates.io; there is no Go toolchain), so the build commands cannot run here.
What can be checked without them is what a build needs from the *repository*: the rehearsal
interprets each generated Dockerfile's WORKDIR / COPY against the snapshot and the build
context the delivery workflow passes, and at each build command checks that its inputs are
in the stage:

- every COPY source exists in the build context;
- Gradle: the wrapper (gradlew, gradle/wrapper/*) the command calls, the settings file, every
  module settings.gradle includes (Gradle configures them all), the `-p` module's build file;
- Maven: the wrapper, every `<module>`, the `-pl` module's pom;
- Go: the packages `go build` names, and every `//go:embed` target in them (a build output
  copied from an earlier stage counts);
- Rust: the `--bin` target, Cargo.lock under `--locked`, every workspace member.

SHIPCREW_CODE=DIR runs the rehearsal on another checkout's code (numbers before a change).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.environ.get("SHIPCREW_CODE") or str(Path(__file__).resolve().parent.parent))

from app.files import Files  # noqa: E402
from bench.realworld import git_dir, load_corpus, missing, snapshot  # noqa: E402
from jobs.pipeline.plan import plan_generation  # noqa: E402

try:
    from jobs.pipeline.stacks.jvm import gradle_modules  # noqa: E402
except ImportError:  # a checkout from before multi-module builds (SHIPCREW_CODE)
    def gradle_modules(settings: str) -> list[str]:
        return sorted({p.strip(":").replace(":", "/") for m in re.findall(
            r"\binclude\b\s*\(?([^)\n]*)", settings) for p in re.findall(r"[\"']([^\"']+)", m)})

Stage = dict[str, str]  # path in the image -> "ctx:<path>" or "stage"


def _context_files(files: Files, context: str) -> Files:
    prefix = "" if context == "." else context.rstrip("/") + "/"
    return {p[len(prefix):]: t for p, t in files.items() if p.startswith(prefix)}


def _resolve(workdir: str, dest: str) -> str:
    path = dest if dest.startswith("/") else f"{workdir.rstrip('/')}/{dest}"
    parts: list[str] = []
    for seg in path.split("/"):
        if seg == "..":
            parts = parts[:-1]
        elif seg not in ("", "."):
            parts.append(seg)
    return "/" + "/".join(parts)


def _copy(stage: Stage, ctx: Files, words: list[str], workdir: str, problems: list[str]) -> None:
    """COPY semantics: a file lands at DEST (or DEST/name when DEST is a directory), a
    directory's contents land under DEST."""
    *sources, dest = words
    target = _resolve(workdir, dest)
    into_dir = dest.endswith("/") or dest in (".", "./") or len(sources) > 1
    for src in sources:
        rel = "" if src in (".", "./") else src.removeprefix("./").strip("/")
        if rel in ctx:
            stage[_resolve(target, rel.rsplit("/", 1)[-1]) if into_dir else target] = "ctx:" + rel
            continue
        under = [p for p in ctx if not rel or p.startswith(rel + "/")]
        if not under:
            problems.append(f"COPY {src}: not in the build context")
        for path in under:
            stage[_resolve(target, path[len(rel):].lstrip("/"))] = "ctx:" + path


def _has(stage: Stage, path: str) -> bool:
    return path in stage or any(p.startswith(path.rstrip("/") + "/") for p in stage)


def _check_build(cmd: str, stage: Stage, workdir: str, problems: list[str]) -> None:
    def at(rel: str) -> str:
        return _resolve(workdir, rel)

    def need(rel: str, what: str) -> None:
        if not _has(stage, at(rel)):
            problems.append(f"{what}: {rel} is not in the image at `{cmd[:60]}`")

    words = shlex.split(cmd.replace("\\\n", " "))
    if "./gradlew" in words or "gradle" in words:
        if "./gradlew" in words:
            for rel in ("gradlew", "gradle/wrapper/gradle-wrapper.properties"):
                need(rel, "gradle wrapper")
        settings = next((stage_text for name in ("settings.gradle.kts", "settings.gradle")
                         if (stage_text := _text(stage, at(name))) is not None), None)
        for module in gradle_modules(settings or ""):
            need(module, "settings.gradle includes the module")
        if "-p" in words:
            module = words[words.index("-p") + 1]
            if not any(_has(stage, at(f"{module}/{b}")) for b in ("build.gradle",
                                                                     "build.gradle.kts")):
                problems.append(f"gradle -p {module}: no build file in the image")
    if "./mvnw" in words or "mvn" in words:
        if "./mvnw" in words:
            need(".mvn/wrapper/maven-wrapper.properties", "maven wrapper")
        for module in re.findall(r"<module>\s*([^<\s]+)\s*</module>", _text(stage, at("pom.xml"))
                                 or ""):
            need(f"{module}/pom.xml", "pom.xml lists the module")
    if "go" in words and "build" in words:
        for pkg in [w for w in words if w == "." or w.startswith("./")]:
            if not any(p.endswith(".go") and "/" not in p for p in _texts(stage, at(pkg))):
                problems.append(f"go build {pkg}: no Go files in the image")
        # Every package of the module (imported ones compile too; tests and testdata do not).
        for rel, text in _texts(stage, workdir).items():
            if not rel.endswith(".go") or rel.endswith("_test.go") or "testdata/" in rel:
                continue
            package = rel.rsplit("/", 1)[0] if "/" in rel else "."
            for line in re.findall(r"^//go:embed\s+(.+)$", text, re.M):
                for pattern in line.replace('"', " ").split():
                    target = pattern.removeprefix("all:").split("/", 1)[0]
                    if target and not any(c in target for c in "*?[") and not _has(
                            stage, at(f"{package}/{target}")):
                        problems.append(f"{rel}: //go:embed {pattern} matches nothing in the "
                                        "image")
    if "cargo" in words and "build" in words:
        if "--locked" in words:
            need("Cargo.lock", "cargo --locked")
        if "--bin" in words:
            binary = words[words.index("--bin") + 1]
            if not _cargo_has_bin(stage, workdir, binary):
                problems.append(f"cargo --bin {binary}: no such binary target in the image")


def _text(stage: Stage, path: str) -> str | None:
    src = stage.get(path)
    return FILES.get(src[4:]) if src and src.startswith("ctx:") else None


def _texts(stage: Stage, directory: str) -> dict[str, str]:
    prefix = directory.rstrip("/") + "/"
    return {p[len(prefix):]: t for p in stage if p.startswith(prefix)
            if (t := _text(stage, p)) is not None}


def _cargo_has_bin(stage: Stage, workdir: str, binary: str) -> bool:
    for path in stage:
        if not path.endswith("/Cargo.toml"):
            continue
        crate = path[: -len("/Cargo.toml")]
        text = _text(stage, path) or ""
        name = re.search(r'^\[package\][^\[]*?^name\s*=\s*"([^"]+)"', text, re.M | re.S)
        if name and name.group(1) == binary and _has(stage, f"{crate}/src/main.rs"):
            return True
        if re.search(rf'\[\[bin\]\][^\[]*name\s*=\s*"{re.escape(binary)}"', text):
            return True
        if _has(stage, f"{crate}/src/bin/{binary}.rs") or _has(
                stage, f"{crate}/src/bin/{binary}/main.rs"):
            return True
    return False


FILES: Files = {}


def rehearse(files: Files, hidden: Files | None = None) -> dict[str, list[str]]:
    """Per generated Dockerfile of a Go/JVM/Rust service: the problems its build would hit.
    `hidden`: committed paths detection never reads (dist/, build/), in the context too."""
    global FILES
    plan = plan_generation(files)
    out: dict[str, list[str]] = {}
    generated = plan.generated
    for workflow, text in generated.items():
        m = re.search(r'context: "([^"]*)"\s+file: "([^"]*)"', text)
        if not workflow.startswith(".github/workflows/delivery") or m is None:
            continue
        context, dockerfile = m.groups()
        body = generated.get(dockerfile)
        if body is None or not re.search(r"^FROM (golang|eclipse-temurin|maven|gradle|rust):",
                                         body, re.M):
            continue
        ctx = _context_files({**(hidden or {}), **files}, context)
        FILES = ctx
        problems: list[str] = []
        stage: Stage = {}
        workdir = "/"
        joined = re.sub(r"\\\n\s*", " ", body)
        for line in joined.splitlines():
            word, _, rest = line.strip().partition(" ")
            if word == "FROM":
                stage, workdir = {}, "/"
            elif word == "WORKDIR":
                workdir = _resolve(workdir, rest.strip())
            elif word == "COPY" and "--from=" in rest:
                *_, dest = rest.split()
                stage[_resolve(workdir, dest)] = "stage"
            elif word == "COPY":
                _copy(stage, ctx, [w for w in rest.split() if not w.startswith("--")],
                      workdir, problems)
            elif word == "RUN" and re.search(r"\b(go build|cargo build|gradlew|gradle |mvnw|mvn )",
                                             rest):
                command = re.sub(r"--mount=\S+\s*", "", rest)
                for part in re.split(r"&&", command):
                    _check_build(part.strip(), stage, workdir, problems)
        out[dockerfile] = list(dict.fromkeys(problems))
    return out


def main() -> int:
    wanted = set(sys.argv[1:])
    corpus = [e for e in load_corpus() if not wanted or e["repo"] in wanted]
    absent = set(missing(corpus))
    started = time.perf_counter()
    built = total = 0
    for entry in corpus:
        if entry["repo"] in absent:
            continue
        files = snapshot(entry)
        # read_tree skips dist/, build/ …: what the commit holds there is in the context too.
        gd = git_dir(entry["repo"])
        listed = subprocess.run(["git", f"--git-dir={gd}", "ls-tree", "-r", "--name-only",
                                 entry["commit"]], capture_output=True, text=True).stdout
        hidden = {p: "" for p in listed.splitlines() if p not in files}
        for dockerfile, problems in rehearse(files, hidden).items():
            total += 1
            built += not problems
            print(f"{'ok ' if not problems else 'BAD'} {entry['repo']} {dockerfile}")
            for problem in problems:
                print(f"      ! {problem}")
    print(json.dumps({"dockerfiles": total, "inputs_complete": built,
                      "absent": len(absent), "seconds": round(time.perf_counter() - started, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

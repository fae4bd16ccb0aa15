"""What the generated CI and delivery workflows are built from: whether the project's people
already test it in a workflow of their own, the paths that trigger a stack's workflows, the
deployment environments, and the CI steps with what they cache (jobs.pipeline.render)."""

from __future__ import annotations

import json
import re

from app.files import Files
from jobs.pipeline.stacks import Stack
from jobs.pipeline.stacks.model import dns_label, join
from jobs.pipeline.untrusted import check_words

# Helpers CI installs with pip: bounded to a major so a new major never lands unreviewed.
CI_TOOLS = {"uv": "uv>=0.9,<1", "pdm": "pdm>=2.20,<3", "hatch": "hatch>=1.14,<2",
            "tox": "tox>=4.20,<5", "nox": "nox>=2024.10", "pipenv": "pipenv>=2024.4",
            "pytest": "pytest>=8,<10", "ruff": "ruff>=0.14,<1"}

TEST_RUNNERS = {
    "python": r"pytest|\btox\b|\bnox\b|unittest|manage\.py test|hatch test",
    "node": r"(npm|pnpm|yarn|bun)( run)? test\b|\bjest\b|\bvitest\b|\bmocha\b",
    "go": r"go test", "rust": r"cargo (test|nextest)",
    # A goal that runs the tests: not `mvn compile jib:build`, not `-DskipTests`.
    "java": r"\bmvnw?\b(?![^\n]*-DskipTests)[^\n]*\s(?:verify|test|install|package)\b"
            r"|\bgradlew?\b(?![^\n]*-x test)[^\n]*\s(?:test|build|check)\b",
}


def human_test_workflow(stack: Stack, files: Files, single: bool, ours: str) -> str | None:
    """A workflow (not at our own path) the project's people wrote that already runs this
    stack's tests."""
    runner = TEST_RUNNERS.get(stack.language)
    for path in sorted(files):
        if path == ours or runner is None or not re.fullmatch(
                r"\.github/workflows/[^/]+\.ya?ml", path):
            continue
        text = _with_npm_scripts(files[path], files)
        # A JVM module is tested by the build at its root (`mvn package` runs every module).
        whole = stack.language == "java" and stack.build_root == "."
        if re.search(runner, text) and (single or whole or stack.path == "." or
                                        stack.path in text):
            return path
    return None


def _with_npm_scripts(text: str, files: Files, depth: int = 3) -> str:
    """The workflow with the root package.json scripts its `npm run X` calls run (a Maven
    build driven from npm scripts, as JHipster's is)."""
    try:
        scripts = json.loads(files.get("package.json", "{}")).get("scripts") or {}
    except (json.JSONDecodeError, AttributeError):
        return text
    seen: set[str] = set()
    for _ in range(depth):
        called = set(re.findall(r"\bnpm run ([\w:.-]+)", text)) - seen
        if not called or not isinstance(scripts, dict):
            break
        seen |= called
        text += "".join(f"\n{scripts[c]}" for c in sorted(called)
                        if isinstance(scripts.get(c), str))
    return text


def environments(names: list[str]) -> list[dict[str, object]]:
    check_words("environment name", names)  # spliced into a `${{ }}` condition
    envs: list[dict[str, object]] = []
    for name in names:
        job = f"deploy-{dns_label(name, fallback='env')}"
        envs.append({"name": name, "job": job,
                     "needs": ["image"] + ([str(envs[-1]["job"])] if envs else [])})
    return envs


def path_filters(stack: Stack, stacks: list[Stack], files: Files, workflow: str) -> list[str]:
    """Changes that can affect this stack: its directory, what it depends on, the workflow."""
    paths = [f"{stack.path}/**" if stack.path != "." else "**", workflow]
    root = stack.workspace_root
    if root is not None:
        for manifest in ("package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml",
                         "pnpm-workspace.yaml", "Cargo.toml", "Cargo.lock"):
            if join(root, manifest) in files:
                paths.append(join(root, manifest))
        manifest = files.get(join(stack.path, "package.json"), "") + files.get(
            join(stack.path, "Cargo.toml"), "")
        for other in stacks:
            if other is not stack and other.workspace_root == root and (
                    re.search(rf'"{re.escape(_package_name(other, files))}"\s*:', manifest)
                    or re.search(rf"path\s*=\s*\"[./]*{re.escape(other.path.rsplit('/')[-1])}\"",
                                 manifest)):
                paths.append(f"{other.path}/**")
    return paths


def _package_name(stack: Stack, files: Files) -> str:
    match = re.search(r'"name"\s*:\s*"([^"]+)"', files.get(join(stack.path, "package.json"), ""))
    return match.group(1) if match else stack.name


def ci_context(stack: Stack, files: Files) -> dict[str, object]:
    root = stack.build_root
    locks = {"python": ["uv.lock", "poetry.lock", "pdm.lock", "Pipfile.lock", "requirements*.txt",
                        "requirements/*.txt", "pyproject.toml"],
             "node": ["package-lock.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock"],
             "go": ["go.sum", "go.mod"], "java": ["pom.xml", "build.gradle*"],
             "rust": ["Cargo.lock"]}[stack.language]
    present = [join(root, n) for n in locks
               if any(re.fullmatch(join(root, n).replace(".", r"\.").replace("*", ".*"), p)
                      for p in files)]
    cache_paths = present[:1] if stack.language in ("python", "node", "go") and present else (
        present or [join(root, locks[-1])])
    if stack.language == "python" and stack.build_tool == "pip":
        cache_paths = present or [join(root, "requirements*.txt")]
    commands = [(label, cmd) for label, cmd in (
        ("Install dependencies", stack.install_command), ("Lint", stack.lint_command),
        ("Test", stack.test_command), ("Build", stack.build_command)) if cmd]
    lockfile = next((join(root, n) for n in locks if join(root, n) in files), None)
    return {"workdir": root, "cache_paths": cache_paths, "commands": commands,
            "ci_tools": CI_TOOLS,
            "lockfile": lockfile,
            "hash_files": ", ".join(f"'{p}'" for p in (cache_paths or ["**/package.json"]))}

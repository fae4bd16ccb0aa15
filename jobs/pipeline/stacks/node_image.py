"""What a Node image's Dockerfile needs beyond the detected stack: the pnpm to install, the
build step's env-schema skip, the container's env. Every value from the repository that
reaches a Dockerfile line is checked here (an exact version, an identifier)."""

from __future__ import annotations

import re

from jobs.pipeline.stacks.model import Stack
from jobs.pipeline.stacks.tree import Tree

SEMVER = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?")

PNPM_LOCK_MAJOR = {"9": "9", "6": "8", "5": "7"}  # lockfileVersion major -> pnpm major


def pnpm_pin(tree: Tree, stack: Stack) -> str | None:
    """The pnpm major for the image when package.json names no packageManager."""
    root = tree.at(stack.build_root)
    if stack.build_tool != "pnpm" or root.json("package.json").get("packageManager") or (
            tree.at(stack.path).json("package.json").get("packageManager")):
        return None
    m = re.search(r"^lockfileVersion:\s*['\"]?(\d+)", root.text("pnpm-lock.yaml") or "", re.M)
    return PNPM_LOCK_MAJOR.get(m.group(1)) if m else None


def pnpm_from_npm(tree: Tree, stack: Stack) -> str | None:
    """The pnpm version to `npm install -g` on Node < 18, else None. Node 16 bundles an
    experimental corepack from before range resolution and npm's signing-key rotation;
    the corepack on npm needs Node >= 18. npm (bundled with every image) installs pnpm."""
    major = re.match(r"\d+", stack.version or "")
    if stack.build_tool != "pnpm" or major is None or int(major.group()) >= 18:
        return None
    for where in (tree.at(stack.path), tree.at(stack.build_root)):
        declared = str(where.json("package.json").get("packageManager") or "")
        if declared.startswith("pnpm@"):
            version = declared.removeprefix("pnpm@").split("+", 1)[0]
            # repository text that reaches a RUN line: an exact version or nothing
            return version if SEMVER.fullmatch(version) else pnpm_pin(tree, stack)
    return pnpm_pin(tree, stack)


def build_env_skip(tree: Tree, stack: Stack) -> str | None:
    """`NAME=1` for the build step when the project's t3-env schemas (`createEnv` with
    `skipValidation: ...process.env.NAME...`) would reject the build: `next build` imports
    the env module, and the deployment's secrets are runtime values, absent at build. The
    name is the one the authors chose to skip with (SKIP_ENV_VALIDATION, or CI)."""
    if stack.build_command is None:
        return None
    names: list[str] = []
    for _, text in tree.at(stack.build_root).walk(".ts", ".js", ".mjs", ".mts"):
        if "createEnv(" not in text:
            continue
        for expr in re.findall(r"skipValidation\s*:\s*([^\n]*(?:\n\s*[|&!][^\n]*)*)", text):
            # Truthiness checks only (`!!process.env.CI`), not comparisons (`=== "lint"`).
            names += [m.group(1) for m in re.finditer(
                r"process\.env\.([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*[=!]==?)", expr)]
    if not names:
        return None
    return ("SKIP_ENV_VALIDATION" if "SKIP_ENV_VALIDATION" in names else names[0]) + "=1"


def container_env(stack: Stack, scripts: dict[str, str]) -> dict[str, str]:
    """Environment the image sets so the server binds every interface where the framework
    reads it from the environment."""
    if stack.framework == "fastify" and "fastify start" in " ".join(
            [scripts.get("start", ""), *(stack.start_command or [])]):
        return {"FASTIFY_ADDRESS": "0.0.0.0"}
    return {}

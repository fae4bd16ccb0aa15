"""Stack detection: find every project in a repository and work out how it builds and runs.

Pure: `Files` in, `Stack` values out. Each language lives in its own module; this one
discovers project directories (monorepos, workspaces) and dispatches.
"""

from __future__ import annotations

from collections.abc import Callable

from app.files import Files
from jobs.pipeline.stacks import go, jvm, listen, node, python, rust
from jobs.pipeline.stacks.model import Stack, dns_label, join, parent
from jobs.pipeline.stacks.runtime import dockerfile_facts
from jobs.pipeline.stacks.tree import Tree, ignored

__all__ = ["Stack", "detect_at", "detect_stacks"]

MANIFESTS: dict[str, str] = {
    "pyproject.toml": "python", "setup.py": "python", "setup.cfg": "python",
    "Pipfile": "python", "requirements.txt": "python", "package.json": "node",
    "go.mod": "go", "pom.xml": "java", "build.gradle": "java", "build.gradle.kts": "java",
    "Cargo.toml": "rust",
}
# Manifests of stacks we do not build yet: reported as unknown, never guessed.
UNSUPPORTED: dict[str, str] = {
    "Gemfile": "ruby", "composer.json": "php", "mix.exs": "elixir", "Package.swift": "swift",
    "build.sbt": "scala", "deno.json": "deno", "pubspec.yaml": "dart", "stack.yaml": "haskell",
}
DETECTORS: dict[str, Callable[[Tree], Stack]] = {
    "python": python.detect, "node": node.detect, "go": go.detect, "java": jvm.detect,
    "rust": rust.detect,
}
# Nested manifests of these languages belong to the enclosing build (submodules, scripts).
NESTED_BELONG_TO_PARENT = {"java", "rust"}


def _candidates(files: Files) -> dict[str, set[str]]:
    """directory -> languages whose manifest it holds."""
    found: dict[str, set[str]] = {}
    for path in files:
        name = path.rsplit("/", 1)[-1]
        if ignored(path):
            continue
        lang = MANIFESTS.get(name) or UNSUPPORTED.get(name)
        if lang is None and name.startswith("requirements") and name.endswith(".txt"):
            lang = "python"
        if lang is None and name.endswith((".csproj", ".fsproj")):
            lang = "dotnet"
        if lang:
            found.setdefault(parent(path), set()).add(lang)
    return found


def _inside(path: str, root: str) -> bool:
    return root == "." or path == root or path.startswith(root + "/")


def detect_stacks(files: Files, repo_name: str | None = None) -> list[Stack]:
    """Every project in the repository, sorted by path; unknown stacks included as such.

    A root project without a name of its own is named after the repository (`repo_name`),
    so that two repositories do not both deploy an `app` into one namespace."""
    tree = Tree(files)
    candidates = _candidates(files)
    members: dict[tuple[str, str], str] = {}  # (dir, language) -> workspace root
    workspace_roots: set[tuple[str, str]] = set()
    for directory, langs in candidates.items():
        for lang, finder in (("node", node.workspace_members), ("rust", rust.workspace_members),
                             ("python", python.workspace_members),
                             ("java", jvm.workspace_members)):
            found = finder(tree.at(directory)) if lang in langs else None
            if found is not None:
                workspace_roots.add((directory, lang))
                members.update({(m, lang): directory for m in found})

    stacks: list[Stack] = []
    claimed: list[tuple[str, str]] = []
    for directory in sorted(candidates, key=lambda d: (d != ".", d.count("/"), d)):
        for lang in sorted(candidates[directory]):
            key = (directory, lang)
            here = tree.at(directory)
            if key in workspace_roots and not _root_is_also_project(here, lang):
                if lang == "java":  # its buildSrc and nested builds belong to it
                    claimed.append(key)
                continue
            if lang == "python" and not python.is_project(here):
                continue
            if lang == "node" and _tooling_only(here, directory, candidates):
                continue
            if key not in members and _nested(directory, lang, claimed, here):
                continue
            stack = _detect(here, lang, members.get(key))
            claimed.append(key)
            stacks.append(stack)
    if not stacks:
        stacks.append(Stack(path=".", name="app", language="unknown",
                            reasons=["no recognised build manifest in the repository"]))
    for stack in stacks:
        _kept_dockerfile(stack, files)
        listen.check(stack, tree.at(stack.path), _kept_text(stack, files))
        if stack.path == "." and stack.name == "app" and repo_name:
            stack.name = dns_label(repo_name)
            stack.reasons.append(f"named after the repository ({stack.name})")
    _embedded_frontends(stacks)
    _dedupe_names(stacks)
    return sorted(stacks, key=lambda s: s.path)


def _embedded_frontends(stacks: list[Stack]) -> None:
    """An npm project whose build output a Go binary embeds is that service's frontend."""
    for owner in stacks:
        for front in owner.frontends:
            for stack in stacks:
                if stack.path == front["path"] and stack.language == "node":
                    stack.kind, stack.start_command = "library", None
                    stack.reasons.append(f"library: its build output is embedded into the "
                                         f"{owner.language} service at {owner.path}")


def _kept_text(stack: Stack, files: Files) -> str | None:
    return files.get(stack.dockerfile or join(stack.path, "Dockerfile"))


def _kept_dockerfile(stack: Stack, files: Files) -> bool:
    """A human Dockerfile stays: the chart must use the port the image EXPOSEs."""
    text = files.get(stack.dockerfile or join(stack.path, "Dockerfile"))
    if text is None or stack.kind != "service" or stack.language == "unknown":
        return False
    if stack.undecided:
        stack.reasons.append(f"the existing Dockerfile answers what detection could not tell "
                             f"({stack.undecided})")
        stack.undecided, stack.evidence = None, []
    port, command = dockerfile_facts(text)
    if port and port != stack.port:
        stack.reasons.append(f"port {port}: the existing Dockerfile EXPOSEs it "
                             f"(detection alone said {stack.port})")
        stack.port = port
    if command:
        stack.reasons.append(f"the existing Dockerfile starts: {command[:120]}")
    return True


def detect_at(files: Files, path: str, lang: str) -> Stack:
    """One language's detector run on one directory (for `services:` entries)."""
    stack = _detect(Tree(files).at(path), lang, None)
    _kept_dockerfile(stack, files)
    listen.check(stack, Tree(files).at(path), _kept_text(stack, files))
    return stack


def _root_is_also_project(tree: Tree, lang: str) -> bool:
    if lang == "rust":
        return "package" in tree.toml("Cargo.toml")
    if lang == "python":
        return "project" in tree.toml("pyproject.toml")
    if lang == "java":
        return any(p.startswith(tree.path("src/main/")) for p in tree.files)
    return False


def _tooling_only(tree: Tree, directory: str, candidates: dict[str, set[str]]) -> bool:
    """A package.json that only carries repo tooling (husky, prettier) above real projects."""
    pkg = tree.json("package.json")
    nested = any(d != directory and _inside(d, directory) and "node" in langs
                 for d, langs in candidates.items())
    entry = pkg.get("dependencies") or pkg.get("main") or pkg.get("bin") or pkg.get("exports")
    return nested and not entry and "start" not in (pkg.get("scripts") or {})


def _nested(directory: str, lang: str, claimed: list[tuple[str, str]], here: Tree) -> bool:
    for root, other in claimed:
        if other != lang or not _inside(directory, root) or directory == root:
            continue
        if lang in NESTED_BELONG_TO_PARENT:
            return True
        # A requirements-only directory inside a Python project is tooling, not a project.
        if lang == "python" and not (here.has("pyproject.toml") or here.has("setup.py")):
            return True
    return False


def _detect(tree: Tree, lang: str, workspace_root: str | None) -> Stack:
    if lang == "node":
        return node.detect(tree, workspace_root)
    if lang == "rust":
        return rust.detect(tree, workspace_root)
    if lang == "python":
        return python.detect(tree, workspace_root)
    if lang == "java":
        return jvm.detect(tree, workspace_root)
    detector = DETECTORS.get(lang)
    if detector is None:
        return Stack(path=tree.root, name=dns_label(tree.root), language="unknown",
                     reasons=[f"{lang} project: not supported yet, nothing generated"])
    return detector(tree)


def _dedupe_names(stacks: list[Stack]) -> None:
    seen: dict[str, int] = {}
    for stack in stacks:
        base = stack.name
        if base in seen:
            seen[base] += 1
            stack.name = dns_label(f"{base}-{dns_label(stack.path)}")
            if stack.name in seen:
                stack.name = f"{base}-{seen[base]}"
            stack.reasons.append(f"renamed from {base!r}: another project has that name")
        seen.setdefault(stack.name, 0)

"""Node projects: lockfile -> package manager, scripts, version, framework, workspaces."""

from __future__ import annotations

import re
import shlex
from typing import Any

from jobs.pipeline.stacks.model import DEFAULT_PORTS, Stack, dns_label
from jobs.pipeline.stacks.runtime import pick
from jobs.pipeline.stacks.tree import Tree, first_match

DEFAULT_VERSION = "24"
# bun has no setup action in our pin table: run a pinned release through npx (no global install).
BUN = "npx --yes bun@1.3.5"
LTS = ("24", "22")  # supported LTS lines, newest first
OTHER = tuple(str(v) for v in range(26, 9, -1))
NPM_NO_TEST = "no test specified"
LOCKFILES = (("pnpm-lock.yaml", "pnpm"), ("bun.lock", "bun"), ("bun.lockb", "bun"),
             ("yarn.lock", "yarn"), ("package-lock.json", "npm"), ("npm-shrinkwrap.json", "npm"))
# Loaders that compile sources at run time: they are dev tools, gone after a prune.
DEV_LOADERS = ("ts-node", "babel-register", "@babel/register", "tsx", "esbuild-register",
               "@swc-node/register")
LISTEN = re.compile(r"\.listen\(([^;]*?)\)\s*[;.\n]")
LOOPBACK = re.compile(r"[\"'`](127\.0\.0\.1|localhost)[\"'`]")
FRAMEWORKS = (("next", "nextjs"), ("@nestjs/core", "nestjs"), ("express", "express"),
              ("fastify", "fastify"), ("koa", "koa"), ("hono", "hono"))


def workspace_members(tree: Tree) -> list[str] | None:
    """Member directories when `tree.root` is a npm/yarn/pnpm workspace root, else None."""
    pkg = tree.json("package.json")
    patterns: Any = pkg.get("workspaces")
    if isinstance(patterns, dict):
        patterns = patterns.get("packages")
    if tree.has("pnpm-workspace.yaml"):
        text = tree.text("pnpm-workspace.yaml") or ""
        patterns = re.findall(r"^\s*-\s*[\"']?([^\"'\n#]+)", text, re.M)
    if not isinstance(patterns, list):
        return None
    members: list[str] = []
    for pattern in patterns:
        if isinstance(pattern, str) and not pattern.startswith("!"):
            members += [d for d in tree.dirs_matching(pattern, "package.json") if d != tree.root]
    return sorted(set(members))


def _stale_yarn_lock(tree: Tree, pkg: dict[str, Any]) -> list[str]:
    """Dependencies (name@range) package.json declares that yarn.lock has no entry for."""
    text = tree.text("yarn.lock") or ""
    wanted = {**(pkg.get("dependencies") or {}), **(pkg.get("devDependencies") or {})}
    return [f"{name}@{spec}" for name, spec in wanted.items() if isinstance(spec, str) and not
            re.search(rf'(^|, )"?{re.escape(name)}@{re.escape(spec)}"?[,:]', text, re.M)]


PUBLIC_REGISTRIES = ("registry.npmjs.org", "registry.yarnpkg.com", "registry.npmmirror.com")


def private_registries(tree: Tree, lock: str | None) -> list[str]:
    """Hosts other than the public registries that the lockfile resolves packages from."""
    text = tree.files.get(lock) if lock else None  # lock: a repository path
    hosts = set(re.findall(r"resolved\"?:?\s+\"?https?://([\w.-]+)/", text or ""))
    return sorted(hosts - set(PUBLIC_REGISTRIES))


def _package_manager(tree: Tree, root: Tree, pkg: dict[str, Any],
                     reasons: list[str] | None = None) -> tuple[str, str | None]:
    declared = str(pkg.get("packageManager", "")).split("@")[0]
    for where in (tree, root):
        found = [(lock, tool) for lock, tool in LOCKFILES if where.has(lock)]
        if len(found) > 1 and found[0][0] == "yarn.lock" and where.has("package-lock.json"):
            # Both lockfiles: the one that matches package.json is the one the authors keep.
            stale = _stale_yarn_lock(where, pkg if where is tree else where.json("package.json"))
            if stale and reasons is not None:
                reasons.append(f"yarn.lock lacks {', '.join(stale[:3])}: package-lock.json is "
                               "the current lockfile")
            if stale:
                return "npm", where.path("package-lock.json")
        if found:
            return found[0][1], where.path(found[0][0])
    return (declared if declared in ("npm", "yarn", "pnpm", "bun") else "npm"), None


def _version(tree: Tree, root: Tree, pkg: dict[str, Any], reasons: list[str]) -> str:
    for where in (tree, root):
        for rel in (".nvmrc", ".node-version"):
            text = (where.text(rel) or "").strip().removeprefix("v")
            m = re.match(r"(\d+)", text)
            if m:
                reasons.append(f"{where.path(rel)} pins node {text}")
                return m.group(1)
            if text.startswith("lts"):
                reasons.append(f"{where.path(rel)} asks for the current LTS")
                return LTS[0]
    for where, manifest in ((tree, pkg), (root, root.json("package.json"))):
        engines = str((manifest.get("engines") or {}).get("node", ""))
        chosen = pick(LTS, OTHER, engines) if re.search(r"\d", engines) else None
        if chosen:
            reasons.append(f"engines.node {engines!r} in {where.path('package.json')}: newest "
                           f"LTS inside it is {chosen}")
            return chosen
    return DEFAULT_VERSION


def _node_entry(words: list[str], tree: Tree, deps: dict[str, Any]) -> bool:
    """`node FILE` that runs without dev tools (no ts-node/babel loader in the entry)."""
    if len(words) < 2 or words[0] != "node" or any(w.startswith("-r") for w in words):
        return False
    text = tree.text(words[-1]) or tree.text(words[-1] + ".js") or ""
    return not any(f"{loader}" in text and loader not in deps for loader in DEV_LOADERS)


WATCHERS = ("nodemon", "node-dev", "supervisor", "node")
ENTRY_FILES = ("server.js", "app.js", "index.js", "src/server.js", "src/app.js", "src/index.js",
               "server.mjs", "index.mjs", "src/index.mjs")


def _watched_entry(tree: Tree, scripts: dict[str, str]) -> str | None:
    """`nodemon src/index.js` in a dev/watch script: the file the server starts from."""
    for name in ("dev", "watch", "start:dev", "serve"):
        for part in re.split(r"&&|\|\||;", scripts.get(name, "")):
            words = part.split()
            if words and words[0] in WATCHERS:
                files = [w for w in words[1:] if re.fullmatch(r"[\w./-]+\.(c|m)?js", w)]
                if files and tree.has(files[0].removeprefix("./")):
                    return files[0].removeprefix("./")
    return None


def _start(tree: Tree, pkg: dict[str, Any], framework: str | None, port: int,
           reasons: list[str]) -> list[str]:
    """The command the image runs after dev dependencies are pruned (never a dev tool)."""
    scripts: dict[str, str] = pkg.get("scripts", {}) or {}
    deps: dict[str, Any] = pkg.get("dependencies", {}) or {}
    segments = {name: [shlex.split(part) for part in re.split(r"&&|\|\||;", script)
                       if part.strip()]
                for name, script in scripts.items() if name in ("start", "start:prod", "serve")}
    if framework == "nextjs":
        return ["node_modules/.bin/next", "start", "-p", str(port)]
    for name in ("start", "start:prod"):
        for words in segments.get(name, []):
            if _node_entry(words, tree, deps):
                if name != "start" or len(segments[name]) > 1:
                    reasons.append(f"start: `{' '.join(words)}` from the {name} script")
                return words
    if framework == "nestjs":
        return ["node", "dist/main.js"]
    main = pkg.get("main")
    if isinstance(main, str) and ".listen(" in (tree.text(main) or "") and _node_entry(
            ["node", main], tree, deps):
        reasons.append(f"start: node {main} (package.json main)")
        return ["node", main]
    entry = _watched_entry(tree, scripts) or next(
        (f for f in ENTRY_FILES if ".listen(" in (tree.text(f) or "")), None)
    if entry and _node_entry(["node", entry], tree, deps):
        reasons.append(f"start: node {entry} (" + ("the file the dev script watches"
                       if entry == _watched_entry(tree, scripts) else "it calls .listen()") + ")")
        return ["node", entry]
    tools = [words[0] for words in segments.get("start", []) if words]
    if tools and all(t in deps for t in tools):
        # `npm start` puts node_modules/.bin on PATH for the tools it spawns (env-cmd ->
        # fastify); pruning keeps them, they are runtime dependencies.
        reasons.append(f"start: npm start ({', '.join(tools)}: runtime dependencies)")
    return ["npm", "start"]


def loopback_binds(tree: Tree, framework: str | None, scripts: dict[str, str]) -> list[str]:
    """Where the server listens on loopback only: unreachable from outside a container."""
    found = []
    if "fastify start" in scripts.get("start", ""):
        return []  # fastify-cli: the image sets FASTIFY_ADDRESS=0.0.0.0
    for rel, text in tree.walk(".js", ".ts", ".mjs", ".cjs"):
        for call in LISTEN.finditer(text):
            args = call.group(1)
            literal = LOOPBACK.search(args)
            if literal:
                found.append(f"{rel}: listen(... {literal.group(0)})")
            elif framework == "fastify" and not re.search(r"host|0\.0\.0\.0|::", args):
                found.append(f"{rel}: fastify listen({args.strip()[:40]}) without a host "
                             "(fastify binds localhost by default)")
    return found


def detect(tree: Tree, workspace_root: str | None = None) -> Stack:
    pkg = tree.json("package.json")
    root = tree.at(workspace_root) if workspace_root else tree
    scripts: dict[str, str] = pkg.get("scripts", {}) or {}
    deps: dict[str, Any] = pkg.get("dependencies", {}) or {}
    dev: dict[str, Any] = pkg.get("devDependencies", {}) or {}
    peers: dict[str, Any] = pkg.get("peerDependencies", {}) or {}
    lock_notes: list[str] = []
    tool, lock = _package_manager(tree, root, pkg, lock_notes)
    reasons = [f"node project (package.json); package manager {tool}"
               + (f" from {lock}" if lock else " (no lockfile: CI installs without a lock)"),
               *lock_notes]
    private = private_registries(tree, lock)
    rehost = bool(private and lock and tool == "npm" and not re.search(
        r"^\s*registry\s*=", root.text(".npmrc") or tree.text(".npmrc") or "", re.M))
    if rehost:
        # The URLs in a lockfile are where its author's npm fetched from; the integrity
        # hashes pin the content. No .npmrc names that registry: fetch through the one npm
        # is configured with (the public one, or what a build secret's .npmrc sets).
        reasons.append(f"warning: {lock} resolves packages from {', '.join(private)} and no "
                       ".npmrc names a registry: `npm ci --replace-registry-host=always` "
                       "fetches them from the configured registry, integrity-checked (a "
                       "package only that registry has needs an .npmrc as a build secret)")
    elif private and lock:
        reasons.append(f"warning: {lock} resolves packages from {', '.join(private)}: the image "
                       "build needs that registry (an .npmrc with its URL and token as a build "
                       "secret)")
    if workspace_root:
        reasons.append(f"workspace member of {workspace_root}")
    framework = next((f for dep, f in FRAMEWORKS if dep in deps), None)
    sources = [t for _, t in tree.walk(".js", ".ts", ".mjs", ".cjs")]
    listens = any(re.search(r"\.listen\(", t) for t in sources)
    stack = Stack(path=tree.root, name=dns_label(str(pkg.get("name") or tree.root)),
                  language="node", framework=framework or "node", build_tool=tool,
                  workspace_root=workspace_root, manifests=["package.json"] + ([lock] if lock
                                                                                else []),
                  typescript="typescript" in deps or "typescript" in dev or tree.has(
                      "tsconfig.json"),
                  version=_version(tree, root, pkg, reasons), reasons=reasons)
    reasons = stack.reasons  # pydantic copied the list
    if framework in ("nextjs", "nestjs"):
        service_why = f"{framework} application"
    elif "start" in scripts and (framework or listens):
        service_why = f"start script {scripts['start']!r} runs a {framework or 'node'} server"
    elif framework and listens:
        service_why = f"{framework} app that calls .listen()"
    else:
        service_why = None
    if service_why:
        stack.kind = "service"
        reasons.append(service_why)
        found = first_match(r"(?:listen\(\s*|PORT\s*(?:\|\||\?\?)\s*|-p\s+|--port[ =])(\d{2,5})",
                            [scripts.get("start", "")] + sources)
        stack.port = int(found) if found else DEFAULT_PORTS.get(framework or "node", 3000)
        stack.start_command = _start(tree, pkg, framework, stack.port, reasons)
        tool = (scripts.get("start") or "").split(" ", 1)[0]
        if stack.start_command == ["npm", "start"] and tool not in deps:
            stack.undecided = "the command that starts the built service"
            stack.evidence = [f"the start script {scripts.get('start', '')!r} runs "
                              f"{tool or 'nothing'}, which is not a runtime dependency "
                              "(gone after pruning)",
                              "no `node FILE` in start/start:prod and no server in `main`"]
        for where in loopback_binds(tree, framework, scripts):
            reasons.append(f"warning: the server binds loopback only ({where}): unreachable "
                           "in a container; listen on 0.0.0.0 (or read HOST from the env)")
        prebuild = scripts.get("prestart:prod")
        if "build" not in scripts and prebuild and "dist/" in " ".join(stack.start_command):
            scripts = {**scripts, "build": prebuild}
            reasons.append(f"build: the prestart:prod script ({prebuild!r})")
    else:
        peer = [d for d, _ in FRAMEWORKS if d in peers]
        why = ("library: " + (f"{', '.join(peer)} only as a peer dependency" if peer else
                              "no start script and no server framework that listens"))
        if pkg.get("main") or pkg.get("exports") or pkg.get("bin"):
            why += "; exports a package entry point"
        reasons.append(why)
    _commands(stack, pkg, scripts)
    if rehost and stack.install_command == "npm ci":
        stack.install_command = "npm ci --replace-registry-host=always"
    return stack


def _commands(stack: Stack, pkg: dict[str, Any], scripts: dict[str, str]) -> None:
    tool = stack.build_tool or "npm"
    lock = len(stack.manifests) > 1
    stack.install_command = {
        "npm": "npm ci" if lock else "npm install",
        "yarn": "yarn install --frozen-lockfile" if lock else "yarn install",
        "pnpm": "pnpm install --frozen-lockfile" if lock else "pnpm install",
        "bun": f"{BUN} install --frozen-lockfile" if lock else f"{BUN} install",
    }[tool]
    member = stack.workspace_root is not None
    name = str(pkg.get("name", stack.name))

    def run(script: str, with_deps: bool = False) -> str | None:
        if script not in scripts or (script == "test" and NPM_NO_TEST in scripts[script]):
            return None
        if not member:
            return f"{BUN if tool == 'bun' else tool} run {script}"
        # `name...` also builds the workspace packages this one depends on, first.
        return {"npm": f"npm run {script} --workspace={stack.path}",
                "yarn": f"yarn workspace {name} run {script}",
                "pnpm": f"pnpm --filter {name}{'...' if with_deps else ''} run {script}",
                "bun": f"{BUN} run --filter {name} {script}"}[tool]

    stack.test_command = run("test")
    stack.lint_command = run("lint")
    stack.build_command = run("build", with_deps=True)
    if stack.typescript and not stack.build_command:
        stack.reasons.append("typescript without a build script: the image runs sources as is")

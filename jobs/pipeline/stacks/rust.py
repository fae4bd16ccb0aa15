"""Rust crates: Cargo.toml, workspaces, binary vs library crates."""

from __future__ import annotations

import re
from typing import Any

from jobs.pipeline.stacks.model import DEFAULT_PORTS, Stack, dns_label
from jobs.pipeline.stacks.runtime import DEPENDENCY_PORTS, config_port, env_port, procfile_web
from jobs.pipeline.stacks.tree import Tree

DEFAULT_VERSION = "1.91"
FRAMEWORKS = ("axum", "actix-web", "rocket", "warp", "poem", "hyper")
# `-sys` crates that link a system library: (build packages, runtime packages) on Debian 12.
NATIVE = {"openssl-sys": (["pkg-config", "libssl-dev"], ["libssl3"]),
          "pq-sys": (["libpq-dev"], ["libpq5"]),
          "libsqlite3-sys": (["libsqlite3-dev"], ["libsqlite3-0"]),
          "mysqlclient-sys": (["default-libmysqlclient-dev"], ["libmariadb3"]),
          "libgit2-sys": (["pkg-config", "libgit2-dev"], ["libgit2-1.5"])}
# A listen address in a string literal: "0.0.0.0:8080", "[::]:3000", ":8080" (not a URL).
LISTEN = re.compile(r"\"(?:0\.0\.0\.0|127\.0\.0\.1|\[::\]|localhost)?:(\d{2,5})\"|"
                    r"\(\s*\[\s*0\s*,\s*0\s*,\s*0\s*,\s*0\s*\]\s*,\s*(\d{2,5})\s*\)|"
                    r"\(\s*\"(?:0\.0\.0\.0|127\.0\.0\.1|localhost)\"\s*,\s*(\d{2,5})\s*\)|"
                    # the default of a PORT variable: var("PORT")….unwrap_or(8888)
                    r"\"(?:\w+_)?PORT\"[^;\n]{0,60}?\.unwrap_or\(\s*(\d{2,5})\s*\)")


# Code that starts a server (not merely depends on a framework).
SERVES = re.compile(r"HttpServer::new|axum::serve|Server::bind|TcpListener::bind|rocket::build|"
                    r"warp::serve|\.launch\(\)|poem::Server|\.serve\(")


def _path_deps(tree: Tree, root: Tree, cargo: dict[str, Any]) -> list[Tree]:
    """The local crates this one depends on (`path = ...`, or a workspace path dependency)."""
    shared = root.toml("Cargo.toml").get("workspace", {}).get("dependencies", {})
    found = []
    for name, spec in cargo.get("dependencies", {}).items():
        if not isinstance(spec, dict):
            continue
        base, rel = tree.root, spec.get("path")
        if spec.get("workspace") is True and isinstance(shared.get(name), dict):
            base, rel = root.root, shared[name].get("path")
        if isinstance(rel, str):
            parts = [] if base == "." else base.split("/")
            for seg in rel.strip("/").split("/"):
                if seg == "..":
                    parts = parts[:-1]
                elif seg not in ("", "."):
                    parts.append(seg)
            found.append(tree.at("/".join(parts) or "."))
    return found


# The library version Debian 12 ships: a -sys crate wanting a newer one builds its bundled copy
# (statically linked), so the Debian packages would only be dead weight.
BOOKWORM = {"libgit2-sys": (1, 5)}


def native_deps(lock: str) -> list[str]:
    """The `-sys` crates in Cargo.lock that need system libraries."""
    found = []
    for crate in NATIVE:
        m = re.search(rf'name = "{crate}"(?:\nversion = "[^"+]*(?:\+(\d+)\.(\d+))?)?', lock)
        if m is None:
            continue
        wants = (int(m.group(1)), int(m.group(2))) if m.group(1) else None
        if crate in BOOKWORM and wants and wants > BOOKWORM[crate]:
            continue
        found.append(crate)
    return sorted(found)


def _port(tree: Tree) -> str | None:
    for _, text in tree.walk(".rs"):
        for match in LISTEN.finditer(text):
            port = next(g for g in match.groups() if g)
            if port not in DEPENDENCY_PORTS:
                return port
    return env_port(tree)


def workspace_members(tree: Tree) -> list[str] | None:
    ws = tree.toml("Cargo.toml").get("workspace")
    if not isinstance(ws, dict):
        return None
    members: list[str] = []
    for pattern in ws.get("members", []):
        members += [d for d in tree.dirs_matching(pattern, "Cargo.toml") if d != tree.root]
    return sorted(set(members))


def detect(tree: Tree, workspace_root: str | None = None) -> Stack:
    cargo = tree.toml("Cargo.toml")
    package: dict[str, Any] = cargo.get("package", {})
    deps = set(cargo.get("dependencies", {}))
    name = str(package.get("name") or tree.root)
    root = tree.at(workspace_root) if workspace_root else tree
    locked = root.has("Cargo.lock")
    reasons = ["rust crate (Cargo.toml)" + (f", member of workspace {workspace_root}"
                                             if workspace_root else "")]
    version = package.get("rust-version")
    channel = str(root.toml("rust-toolchain.toml").get("toolchain", {}).get("channel", "")) or (
        root.text("rust-toolchain") or "").strip()
    if re.fullmatch(r"\d+\.\d+(\.\d+)?", channel):
        version = channel
        reasons.append(f"rust toolchain pinned to {channel}")
    elif not isinstance(version, str):
        version = None  # `stable`, `nightly-…`: the newest stable image
    bins = [str(b.get("name", name)) for b in cargo.get("bin", []) if isinstance(b, dict)]
    if tree.has("src/main.rs") and name not in bins:
        bins.insert(0, name)
    if package.get("autobins", True) is not False:  # src/bin/NAME.rs, src/bin/NAME/main.rs
        found = {m.group(1) for p in tree.files if p.startswith(tree.path("src/bin/"))
                 for m in [re.fullmatch(r"([\w-]+)(?:\.rs|/main\.rs)",
                                        p.removeprefix(tree.path("src/bin/")))] if m}
        bins += sorted(found - set(bins))
    default = package.get("default-run")
    if isinstance(default, str) and default in bins:
        bins.remove(default)
        bins.insert(0, default)
    flag = " --locked" if locked else ""
    pkg = f" -p {name}" if workspace_root else ""
    stack = Stack(path=tree.root, name=dns_label(name), language="rust", build_tool="cargo",
                  version=".".join(version.split(".")[:2]) if version else DEFAULT_VERSION,
                  workspace_root=workspace_root, binaries=bins, manifests=["Cargo.toml"],
                  reasons=reasons, install_command=f"cargo fetch{flag}",
                  test_command=f"cargo test{pkg}{flag}",
                  lint_command=f"cargo clippy{pkg}{flag} -- -D warnings",
                  build_command=f"cargo build{pkg} --release{flag}")
    reasons = stack.reasons  # pydantic copied the list
    framework = next((f for f in FRAMEWORKS if f in deps), None)
    if not bins:
        reasons.append("library: library crate (no src/main.rs, no [[bin]])")
        return stack
    if not framework:
        reasons.append("library: binary crate without a web framework (a command-line tool)")
        return stack
    if not any(SERVES.search(t) for crate in (tree, *_path_deps(tree, root, cargo))
               for _, t in crate.walk(".rs")):
        reasons.append(f"library: binary crate {bins[0]} depends on {framework} but starts no "
                       "server")
        return stack
    stack.kind, stack.framework = "service", framework
    configured = config_port(tree) or (config_port(root) if root is not tree else None)
    port = _port(tree) or (env_port(root) if root is not tree else None)
    if port is None and configured:
        port = configured[0]
        reasons.append(f"port {port} from {configured[1]}")
    stack.native_deps = native_deps(root.text("Cargo.lock") or "")
    manifests = "".join(t for p, t in tree.files.items() if p.endswith("Cargo.toml"))
    if "libsqlite3-sys" in stack.native_deps and "sqlite" not in manifests.lower():
        # sqlx's lockfile lists its optional sqlite driver even with the feature off.
        stack.native_deps.remove("libsqlite3-sys")
        reasons.append("libsqlite3-sys is in Cargo.lock but no Cargo.toml enables sqlite")
    if stack.native_deps:
        reasons.append(f"native libraries: {', '.join(stack.native_deps)}")
    stack.port = int(port) if port else DEFAULT_PORTS.get(framework, 8080)
    web = procfile_web(tree) or []
    ran = next((b for b in bins if web and web[0].rsplit("/", 1)[-1] == b), None)
    if ran:
        bins.remove(ran)
        bins.insert(0, ran)
        reasons.append(f"the Procfile's web process runs: {' '.join(web)[:120]}")
    stack.start_command = [f"/app/{bins[0]}", *(web[1:] if ran else [])]
    reasons.append(f"service: binary {bins[0]} uses {framework}")
    return stack

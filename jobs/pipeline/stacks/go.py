"""Go modules: go.mod version, main packages (./cmd/*, root), HTTP servers."""

from __future__ import annotations

import re

from app.files import SKIP_DIRS
from jobs.pipeline.stacks.model import DEFAULT_PORTS, Stack, dns_label, join
from jobs.pipeline.stacks.runtime import DEPENDENCY_PORTS, env_port, newest
from jobs.pipeline.stacks.tree import Tree, first_match

DEFAULT_VERSION = "1.25"
SUPPORTED = ("1.25", "1.24")
FRAMEWORKS = (("github.com/gin-gonic/gin", "gin"), ("github.com/labstack/echo", "echo"),
              ("github.com/gofiber/fiber", "fiber"), ("github.com/go-chi/chi", "chi"),
              ("github.com/gorilla/mux", "gorilla"), ("net/http", "net/http"))
# Calls that start a network server: net/http, gin `r.Run()`, echo `e.Start(addr)`, fiber
# `app.Listen(addr)`, `http.Server{...}`. Tests are never read.
SERVES = re.compile(r"ListenAndServe(TLS)?\(|\.Listen\(|\.Run\(\s*(\"[^\"]*\"|\w+)?\s*\)"
                    r"|\.Start\(\s*[\w\"]|http\.Server\{|\.StartTLS\(")
# Modules that need cgo (a C compiler at build, glibc at run time).
CGO_MODULES = ("github.com/mattn/go-sqlite3", "gorm.io/driver/sqlite",
               "github.com/confluentinc/confluent-kafka-go")
ADDRESS = re.compile(r"(?:Run|Start|Listen|ListenAndServe|Addr:)\s*\(?\s*\"[\w.\[\]:]*:(\d{2,5})\"")
# A configured default: `Port: 80,` in a config struct literal, viper.SetDefault("port", "3000").
DEFAULT_PORT = re.compile(r"^\s*(?:\w*Port:\s*|viper\.SetDefault\(\s*\"(?:[\w.]+\.)?port\"\s*,\s*)"
                          r"\"?(\d{2,5})\"?\s*[,)]", re.M)
EMBED = re.compile(r"^//go:embed\s+(.+)$", re.M)


def _package_dir(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else "."


def _serving(mod: str, sources: dict[str, str]) -> tuple[str, str] | None:
    """(directory, text) of the package that starts the server, if any."""
    framework_imported = any(f'"{imp}' in t for imp, _ in FRAMEWORKS for t in sources.values())
    if not framework_imported:
        return None
    for rel, text in sources.items():
        if SERVES.search(text) and (f'"{mod}' in text or any(
                f'"{imp}' in text for imp, _ in FRAMEWORKS)):
            return _package_dir(rel), text
    return None


def _primary(mains: dict[str, list[str]], module: str, server_dir: str) -> str:
    """The main package that runs the server: itself, or the one importing its package."""
    if server_dir in mains:
        return server_dir
    import_path = f'"{module}/{server_dir}"' if server_dir != "." else f'"{module}"'
    importing = [d for d, texts in mains.items() if any(import_path in t for t in texts)]
    ranked = importing or sorted(mains, key=lambda d: (
        not re.search(r"(server|api|web|http|app)$", d), d.count("/"), d))
    return ranked[0]


def detect(tree: Tree) -> Stack:
    mod = tree.text("go.mod") or ""
    module = first_match(r"^module\s+(\S+)", [mod]) or tree.root
    reasons = [f"go module {module} (go.mod)"]
    declared = first_match(r"^go\s+(\d+\.\d+)", [mod])
    toolchain = first_match(r"^toolchain\s+go(\d+\.\d+)", [mod])
    version = toolchain or (newest(SUPPORTED, f">={declared}") or declared if declared else None)
    if declared:
        reasons.append(f"go.mod declares go {declared}" + (
            f", toolchain {toolchain}" if toolchain else f" (a minimum): building with {version}"))
    sources = dict(tree.walk(".go"))
    mains: dict[str, list[str]] = {}
    for rel, text in sources.items():
        if re.search(r"^package\s+main\b", text, re.M) and "testing" not in rel.split("/")[:-1]:
            mains.setdefault(_package_dir(rel), []).append(text)
    stack = Stack(path=tree.root, name=dns_label(module), language="go", build_tool="go",
                  version=version or DEFAULT_VERSION, manifests=["go.mod"], reasons=reasons,
                  test_command="go test ./...", lint_command="go vet ./...",
                  build_command="go build ./...", install_command="go mod download")
    reasons = stack.reasons  # pydantic copied the list
    cgo = [m for m in CGO_MODULES if m in mod or m in (tree.text("go.sum") or "")]
    if cgo:
        stack.native_deps = cgo
        reasons.append(f"cgo: {', '.join(cgo)} needs a C toolchain and glibc")
    if not mains:
        reasons.append("library: no main package")
        return stack
    server = _serving(module, sources)
    primary = _primary(mains, module, server[0]) if server else None
    stack.binaries = sorted(mains, key=lambda d: (d != primary, d))
    reasons.append("main packages: " + ", ".join(stack.binaries))
    if server is None or primary is None:
        reasons.append("library: main packages start no network server (a command-line tool)")
        return stack
    server_dir, text = server
    stack.kind = "service"
    serving = sorted(d for d, texts in mains.items() if any(SERVES.search(t) for t in texts))
    if len(serving) > 1:
        stack.undecided = "which of several servers this image runs"
        stack.evidence = [f"main package {d} starts a server" for d in serving]
    stack.framework = next((f for imp, f in FRAMEWORKS if imp in mod.replace("net/http", "") or any(
        f'"{imp}' in t for t in sources.values())), "net/http")
    port = first_match(ADDRESS.pattern, [text, *sources.values()]) or env_port(tree)
    if port is None:
        for rel, source in sources.items():
            found = next((m.group(1) for m in DEFAULT_PORT.finditer(source)
                          if m.group(1) not in DEPENDENCY_PORTS), None)
            if found:
                port = found
                reasons.append(f"port {port}: the configured default in {tree.path(rel)}")
                break
    if port is None and stack.framework == "gin" and re.search(r"\.Run\(\s*\)", text):
        reasons.append("gin Run() without an address listens on :8080 (or $PORT)")
    stack.port = int(port) if port else DEFAULT_PORTS["go"]
    stack.start_command = ["/app/" + binary_name(dns_label(module_base(module)), primary),
                           *_subcommand(sources, reasons)]
    _embedded_frontends(stack, tree, sources)
    where = f"{server_dir} (run from {primary})" if server_dir != primary else primary
    reasons.append(f"service: {where} starts a {stack.framework} server"
                   + (f" (the image also carries {len(mains) - 1} more binaries)"
                      if len(mains) > 1 else ""))
    return stack


def _subcommand(sources: dict[str, str], reasons: list[str]) -> list[str]:
    """A command-line app (cobra `Use: "serve"`, urfave/cli `Name: "serve"`) starts its server
    with a subcommand: run without it, the binary prints its help and exits."""
    for rel, text in sources.items():
        if not re.search(r'"github\.com/(spf13/cobra|urfave/cli)', text):
            continue
        m = re.search(r'\b(?:Use|Name):\s*"(serve|server|start|run|web|http|api)\b', text)
        if m:
            reasons.append(f"{rel} defines the `{m.group(1)}` command: the image runs it")
            return [m.group(1)]
    return []


def module_base(module: str) -> str:
    """`miniflux.app/v2` -> `miniflux.app`: a major-version suffix names no binary."""
    return re.sub(r"/v\d+$", "", module)


def binary_name(module_name: str, main_dir: str) -> str:
    return module_name if main_dir == "." else main_dir.rsplit("/", 1)[-1]


def _embedded_frontends(stack: Stack, tree: Tree, sources: dict[str, str]) -> None:
    """`//go:embed build/*` of a directory no commit holds: the build output of the npm
    project there (built in its own image stage), else a warning."""
    for rel, text in sources.items():
        package = _package_dir(rel)
        for line in EMBED.findall(text):
            for pattern in line.replace('"', " ").replace("`", " ").split():
                target = pattern.removeprefix("all:").split("/", 1)[0]
                if not target or any(c in target for c in "*?[") or target.startswith("."):
                    continue
                where = target if package == "." else f"{package}/{target}"
                if any(p.startswith(tree.path(where) + "/") for p in tree.files):
                    continue
                if tree.has(join(package, "package.json")):
                    front = tree.path(package)
                    stack.frontends.append({"path": front, "output": tree.path(where)})
                    stack.reasons.append(f"{tree.path(rel)} embeds {where}, the build output "
                                         f"of the npm project {front}: the image builds it first")
                elif target not in SKIP_DIRS:  # the reader skips dist/, build/: unknown
                    stack.warnings.append(f"`{tree.path(rel)}` embeds `{where}`, which no commit"
                                          " holds: generate it before `go build`, or the image "
                                          "build fails.")

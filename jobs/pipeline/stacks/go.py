"""Go modules: go.mod version, main packages (./cmd/*, root), HTTP servers."""

from __future__ import annotations

import re

from jobs.pipeline.stacks.model import DEFAULT_PORTS, Stack, dns_label
from jobs.pipeline.stacks.tree import Tree, first_match

DEFAULT_VERSION = "1.25"
FRAMEWORKS = (("github.com/gin-gonic/gin", "gin"), ("github.com/labstack/echo", "echo"),
              ("github.com/gofiber/fiber", "fiber"), ("github.com/go-chi/chi", "chi"),
              ("github.com/gorilla/mux", "gorilla"), ("net/http", "net/http"))
SERVES = re.compile(r"ListenAndServe|\.Listen\(|\.Run\(\s*\"?:|\.Start\(\s*\"?:|http\.Server\{")


def detect(tree: Tree) -> Stack:
    mod = tree.text("go.mod") or ""
    module = first_match(r"^module\s+(\S+)", [mod]) or tree.root
    reasons = [f"go module {module} (go.mod)"]
    version = first_match(r"^go\s+(\d+\.\d+)", [mod])
    if version:
        reasons.append(f"go.mod declares go {version}")
    mains: dict[str, list[str]] = {}
    for rel, text in tree.walk(".go"):
        if re.search(r"^package\s+main\b", text, re.M):
            mains.setdefault(rel.rsplit("/", 1)[0] if "/" in rel else ".", []).append(text)
    stack = Stack(path=tree.root, name=dns_label(module), language="go", build_tool="go",
                  version=version or DEFAULT_VERSION, manifests=["go.mod"], reasons=reasons,
                  test_command="go test ./...", lint_command="go vet ./...",
                  build_command="go build ./...", install_command="go mod download")
    reasons = stack.reasons  # pydantic copied the list
    servers = [d for d, texts in mains.items() if any(SERVES.search(t) for t in texts)]
    stack.binaries = sorted(mains, key=lambda d: (d not in servers, d))
    if not mains:
        reasons.append("library: no main package")
        return stack
    reasons.append("main packages: " + ", ".join(stack.binaries))
    if not servers:
        reasons.append("library: main packages start no network server (a command-line tool)")
        return stack
    texts = mains[servers[0]]
    stack.kind = "service"
    stack.framework = next((f for imp, f in FRAMEWORKS if any(f'"{imp}' in t for t in texts)),
                           "net/http")
    found = first_match(r"\"[\w.]*:(\d{2,5})\"", texts)
    stack.port = int(found) if found else DEFAULT_PORTS["go"]
    primary = servers[0]
    stack.start_command = ["/app/" + (dns_label(module) if primary == "." else
                                      primary.rsplit("/", 1)[-1])]
    reasons.append(f"service: {primary} starts a {stack.framework} server"
                   + (f" (the image also carries {len(mains) - 1} more binaries)"
                      if len(mains) > 1 else ""))
    return stack


def binary_name(module_name: str, main_dir: str) -> str:
    return module_name if main_dir == "." else main_dir.rsplit("/", 1)[-1]

"""Python projects: pyproject (PEP 621, Poetry, uv, Hatch, PDM), requirements, setup.py/cfg."""

from __future__ import annotations

import re
from typing import Any

from jobs.pipeline.stacks.model import DEFAULT_PORTS, Stack, dns_label
from jobs.pipeline.stacks.tree import Tree, first_match

DEFAULT_VERSION = "3.13"
WEB = ("django", "fastapi", "flask")


def is_project(tree: Tree) -> bool:
    py = tree.toml("pyproject.toml")
    return bool(
        "project" in py or "poetry" in py.get("tool", {}) or tree.has("setup.py")
        or tree.has("setup.cfg") or tree.has("Pipfile") or requirement_files(tree)
    )


def requirement_files(tree: Tree) -> list[str]:
    prefix = "" if tree.root == "." else tree.root + "/"
    return sorted(
        p[len(prefix):] for p in tree.files
        if p.startswith(prefix) and "/" not in p[len(prefix):]
        and re.fullmatch(r"requirements[\w.-]*\.(txt|in)", p[len(prefix):])
    )


def _name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;@(]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def dependencies(tree: Tree, py: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(runtime, development) dependency names from every manifest the project has."""
    project = py.get("project", {})
    poetry = py.get("tool", {}).get("poetry", {})
    runtime = {_name(d) for d in project.get("dependencies", [])}
    runtime |= {k.lower() for k in poetry.get("dependencies", {}) if k != "python"}
    dev: set[str] = set()
    for group in project.get("optional-dependencies", {}).values():
        dev |= {_name(d) for d in group}
    for group in py.get("dependency-groups", {}).values():
        dev |= {_name(d) for d in group if isinstance(d, str)}
    for group in poetry.get("group", {}).values():
        dev |= {k.lower() for k in group.get("dependencies", {})}
    dev |= {k.lower() for k in poetry.get("dev-dependencies", {})}
    for rel in requirement_files(tree):
        names = {_name(line) for line in (tree.text(rel) or "").splitlines()
                 if line.strip() and not line.lstrip().startswith(("#", "-"))}
        (dev if re.search(r"dev|test|lint", rel) else runtime).update(names)
    for rel in ("setup.py", "setup.cfg"):
        text = tree.text(rel) or ""
        block = re.search(r"install_requires\s*=\s*\[?(.*?)(\]|\n\S|\Z)", text, re.S)
        if block:
            runtime |= {_name(q) for q in re.findall(r"[\"']?([A-Za-z][\w.-]*)", block.group(1))}
    runtime.discard("")
    return runtime, dev


def _build_tool(tree: Tree, py: dict[str, Any]) -> str:
    tool = py.get("tool", {})
    backend = py.get("build-system", {}).get("build-backend", "")
    if tree.has("uv.lock") or "uv" in tool:
        return "uv"
    if tree.has("poetry.lock") or "poetry" in tool:
        return "poetry"
    if tree.has("pdm.lock") or "pdm" in tool or "pdm" in backend:
        return "pdm"
    if "hatch" in tool or "hatchling" in backend:
        return "hatch"
    return "pip"


def _version(tree: Tree, py: dict[str, Any], reasons: list[str]) -> str:
    pinned = (tree.text(".python-version") or "").strip().splitlines()
    if pinned and re.match(r"\d+\.\d+", pinned[0]):
        reasons.append(f".python-version pins {pinned[0]}")
        return ".".join(pinned[0].split(".")[:2])
    spec = py.get("project", {}).get("requires-python") or (
        py.get("tool", {}).get("poetry", {}).get("dependencies", {}).get("python")
    )
    if isinstance(spec, str):
        m = re.search(r"(?:>=|\^|~=|==|~)\s*(3\.\d+)", spec)
        if m:
            reasons.append(f"requires-python {spec!r} -> {m.group(1)}")
            return m.group(1)
    return DEFAULT_VERSION


def _runner(tool: str) -> str:
    return {"uv": "uv run ", "poetry": "poetry run ", "pdm": "pdm run ", "hatch": "hatch run "}.get(
        tool, "python -m "
    )


def _install(tree: Tree, tool: str, py: dict[str, Any], reqs: list[str]) -> str | None:
    if tool == "uv":
        return "uv sync --locked" if tree.has("uv.lock") else "uv sync"
    if tool == "poetry":
        return "poetry install --no-interaction"
    if tool == "pdm":
        return "pdm install"
    if tool == "hatch":
        return None
    parts = [f"-r {r}" for r in reqs if r.endswith(".txt")]
    if "project" in py or tree.has("setup.py"):
        extras = [e for e in ("dev", "test", "tests") if e in
                  py.get("project", {}).get("optional-dependencies", {})]
        parts.append(f'-e ".[{",".join(extras)}]"' if extras else "-e .")
    return "python -m pip install " + " ".join(parts) if parts else None


def _app(tree: Tree, framework: str | None) -> tuple[list[str] | None, str | None]:
    """(start command, reason) when the code creates an application, else (None, None)."""
    sources = list(tree.walk(".py"))
    if framework == "django":
        manage = sorted((p for p, _ in tree.walk("manage.py") if p.endswith("manage.py")),
                        key=lambda p: p.count("/"))
        if not manage:
            return None, None
        text = tree.text(manage[0]) or ""
        settings = first_match(r"DJANGO_SETTINGS_MODULE[\"'],\s*[\"']([\w.]+)\.settings", [text])
        chdir = manage[0].rsplit("/", 1)[0] if "/" in manage[0] else "."
        where = f"{manage[0]}" + (" (not at the project root)" if chdir != "." else "")
        if settings:
            return ["gunicorn", "--chdir", chdir, "--bind", "0.0.0.0:{port}",
                    f"{settings}.wsgi:application"], f"Django project found at {where}"
        return ["python", manage[0], "runserver", "0.0.0.0:{port}"], f"Django at {where}"
    cls = {"fastapi": "FastAPI", "flask": "Flask"}.get(framework or "")
    if cls is None:
        return None, None
    for rel, text in sources:
        m = re.search(rf"^(\w+)\s*(?::\s*\w+\s*)?=\s*{cls}\(", text, re.M)
        factory = re.search(r"^def (create_app)\(", text, re.M) if cls == "Flask" else None
        if not (m or factory):
            continue
        app_dir, _, module_path = rel.rpartition("/") if rel.startswith("src/") else ("", "", rel)
        module = module_path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        target = f"{module}:{m.group(1)}" if m else f"{module}:create_app()"
        reason = f"{rel} creates a {cls} application ({target})"
        if framework == "fastapi":
            extra = ["--app-dir", app_dir] if app_dir else []
            return ["uvicorn", target, *extra, "--host", "0.0.0.0", "--port", "{port}"], reason
        extra = ["--chdir", app_dir] if app_dir else []
        return ["gunicorn", *extra, "--bind", "0.0.0.0:{port}", target], reason
    return None, None


def detect(tree: Tree) -> Stack:
    py = tree.toml("pyproject.toml")
    reasons: list[str] = []
    reqs = requirement_files(tree)
    manifests = [m for m in ("pyproject.toml", "setup.py", "setup.cfg", "Pipfile") if tree.has(m)]
    manifests += reqs
    tool = _build_tool(tree, py)
    reasons.append(f"python project ({', '.join(manifests)}); build tool {tool}")
    runtime, dev = dependencies(tree, py)
    framework = next((f for f in WEB if f in runtime), None)
    start, why = _app(tree, framework)
    name = py.get("project", {}).get("name") or py.get("tool", {}).get("poetry", {}).get("name")
    stack = Stack(path=tree.root, name=dns_label(name or tree.root), language="python",
                  framework=framework, build_tool=tool, manifests=manifests,
                  version=_version(tree, py, reasons), reasons=reasons)
    reasons = stack.reasons  # pydantic copied the list
    if start:
        stack.kind = "service"
        reasons.append(why or "")
        if start[0] == "gunicorn" and "gunicorn" not in runtime:
            # The image must not install anything the project does not declare.
            start = ["python", "-m", "flask", "--app", start[-1], "run", "--host", "0.0.0.0",
                     "--port", "{port}"] if framework == "flask" else start
        port = _port(tree) or DEFAULT_PORTS[framework or "flask"]
        stack.port = port
        stack.start_command = [a.replace("{port}", str(port)) for a in start]
        if start[0] in ("gunicorn", "uvicorn") and start[0] not in runtime:
            reasons.append(f"warning: {start[0]} is not a declared dependency")
    elif framework:
        reasons.append(f"library: depends on {framework} but creates no application "
                       "(no app instance, no manage.py)")
    elif py.get("project", {}).get("scripts") or py.get("tool", {}).get("poetry", {}).get(
            "scripts"):
        reasons.append("library: a command-line package (console scripts, no web framework)")
    else:
        reasons.append("library: no web framework and no server entry point")
    _commands(tree, stack, py, runtime | dev, reqs)
    return stack


def _port(tree: Tree) -> int | None:
    texts = [t for _, t in tree.walk(".py", "Procfile", ".env", "gunicorn.conf.py")]
    found = first_match(r"(?:port\s*=\s*|[\"']PORT[\"'],\s*[\"']?|--port[ =]|0\.0\.0\.0:)(\d{2,5})",
                        texts, re.M | re.I)
    return int(found) if found else None


def _commands(tree: Tree, stack: Stack, py: dict[str, Any], deps: set[str],
              reqs: list[str]) -> None:
    tool = stack.build_tool or "pip"
    run = _runner(tool)
    tools = py.get("tool", {})
    stack.install_command = _install(tree, tool, py, reqs)
    if tree.has("tox.ini"):
        stack.test_command = "tox"
    elif tree.has("noxfile.py"):
        stack.test_command = "nox"
    elif "pytest" in deps or "pytest" in tools or tree.has("pytest.ini") or tree.has(
            "conftest.py"):
        stack.test_command = "hatch test" if tool == "hatch" else f"{run}pytest"
    elif any(p.startswith(("tests/", "test/")) or "/tests/" in p
             for p, _ in tree.walk(".py", skip_tests=False)):
        stack.test_command = f"{'python -m ' if tool == 'pip' else run}unittest discover"
    if stack.test_command:
        stack.reasons.append(f"tests: {stack.test_command}")
    if "ruff" in tools or tree.has("ruff.toml") or tree.has(".ruff.toml") or "ruff" in deps:
        stack.lint_command = f"{run}ruff check ."
    elif "flake8" in deps or tree.has(".flake8"):
        stack.lint_command = f"{run}flake8"
    elif "pylint" in deps:
        stack.lint_command = f"{run}pylint --recursive=y ."
    if "build-system" in py or tree.has("setup.py"):
        stack.build_command = {"uv": "uv build", "poetry": "poetry build", "pdm": "pdm build",
                               "hatch": "hatch build"}.get(
            tool, "python -m pip wheel --no-deps -w dist .")

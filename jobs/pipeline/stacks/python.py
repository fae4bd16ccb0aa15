"""Python projects: pyproject (PEP 621, Poetry, uv, Hatch, PDM), requirements, setup.py/cfg."""

from __future__ import annotations

import re
from typing import Any

from jobs.pipeline.stacks import python_app, python_pins
from jobs.pipeline.stacks.model import DEFAULT_PORTS, Stack, dns_label
from jobs.pipeline.stacks.runtime import DEPENDENCY_PORTS, pick
from jobs.pipeline.stacks.tree import Tree

DEFAULT_VERSION = "3.13"
# Newest first; the default (newest with a full ecosystem of wheels) leads.
PREFERRED = ("3.13", "3.12", "3.11", "3.10")
FALLBACK = ("3.14", "3.15", "3.9", "3.8", "3.7", "3.6", "3.5")
WEB = ("django", "fastapi", "flask")
DEV_FILE = re.compile(r"dev|test|lint|ci|docs")


def is_project(tree: Tree) -> bool:
    py = tree.toml("pyproject.toml")
    # A setup.py that never calls setup() (a settings module, a script) is not a project.
    setup_py = "setup(" in (tree.text("setup.py") or "")
    return bool(
        "project" in py or "poetry" in py.get("tool", {}) or setup_py
        or "[metadata]" in (tree.text("setup.cfg") or "") or tree.has("Pipfile")
        or requirement_files(tree)
    )


def requirement_files(tree: Tree) -> list[str]:
    prefix = "" if tree.root == "." else tree.root + "/"
    return sorted(
        rel for rel in (p[len(prefix):] for p in tree.files if p.startswith(prefix))
        if re.fullmatch(r"requirements[\w.-]*\.(txt|in)|requirements/[\w.-]+\.(txt|in)", rel)
    )


def _requirements(tree: Tree, rel: str, seen: set[str] | None = None) -> set[str]:
    """Names in a requirements file, following `-r other.txt` includes."""
    seen = seen if seen is not None else set()
    if rel in seen:
        return set()
    seen.add(rel)
    names: set[str] = set()
    base = rel.rpartition("/")[0]
    for line in (tree.text(rel) or "").splitlines():
        line = line.split(" #", 1)[0].strip()
        include = re.match(r"-(?:r|c|-requirement)\s*(\S+)", line)
        if include:
            target = f"{base}/{include.group(1)}" if base else include.group(1)
            names |= _requirements(tree, re.sub(r"(^|/)[^/]+/\.\./", r"\1", target), seen)
        elif line and not line.startswith(("#", "-")):
            names.add(_name(line))
    return names


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
        (dev if DEV_FILE.search(rel) else runtime).update(_requirements(tree, rel))
    pipfile = tree.toml("Pipfile")
    runtime |= {k.lower() for k in pipfile.get("packages", {})}
    dev |= {k.lower() for k in pipfile.get("dev-packages", {})}
    for rel in ("setup.py", "setup.cfg"):
        text = tree.text(rel) or ""
        block = re.search(r"install_requires\s*=\s*\[?(.*?)(\]|\n\S|\Z)", text, re.S)
        if block:
            runtime |= {_name(q) for q in re.findall(r"[\"']?([A-Za-z][\w.-]*)", block.group(1))}
    runtime.discard("")
    return runtime, dev


def workspace_members(tree: Tree) -> list[str] | None:
    """Member directories when `tree.root` is a uv workspace root, else None."""
    ws = tree.toml("pyproject.toml").get("tool", {}).get("uv", {}).get("workspace")
    if not isinstance(ws, dict):
        return None
    members: list[str] = []
    for pattern in ws.get("members", []):
        if isinstance(pattern, str):
            members += [d for d in tree.dirs_matching(pattern, "pyproject.toml")
                        if d != tree.root]
    return sorted(set(members))


def _build_tool(tree: Tree, root: Tree, py: dict[str, Any]) -> str:
    tool = py.get("tool", {})
    backend = py.get("build-system", {}).get("build-backend", "")
    if tree.has("uv.lock") or "uv" in tool or (root is not tree and root.has("uv.lock")):
        return "uv"
    if tree.has("poetry.lock") or "poetry" in tool:
        return "poetry"
    if tree.has("pdm.lock") or "pdm" in tool or "pdm" in backend:
        return "pdm"
    if not requirement_files(tree) and tree.has("Pipfile"):
        return "pipenv"
    if "hatch" in tool and "envs" in tool["hatch"]:
        return "hatch"
    if "hatchling" in backend and not requirement_files(tree) and "project" in py:
        return "hatch"
    return "pip"


def _version(tree: Tree, root: Tree, py: dict[str, Any], reasons: list[str],
             cap: tuple[str, str] | None = None) -> str:
    """The authors' pin (.python-version, runtime.txt), else the newest supported version
    inside requires-python, capped by an old framework pin."""
    for where in (tree, root):
        pinned = (where.text(".python-version") or "").strip().splitlines()
        if pinned and re.match(r"\d+\.\d+", pinned[0]):
            reasons.append(f"{where.path('.python-version')} pins {pinned[0]}")
            return ".".join(pinned[0].split(".")[:2])
    runtime_txt = re.match(r"python-(\d+\.\d+)", (tree.text("runtime.txt") or "").strip())
    if runtime_txt:
        reasons.append(f"runtime.txt pins python {runtime_txt.group(1)}")
        return runtime_txt.group(1)
    spec = py.get("project", {}).get("requires-python") or (
        py.get("tool", {}).get("poetry", {}).get("dependencies", {}).get("python")
    ) or tree.toml("Pipfile").get("requires", {}).get("python_version")
    if isinstance(spec, str) and spec.strip():
        chosen = pick(PREFERRED, FALLBACK, spec if re.search(r"[<>=~^!*,]", spec) else
                      f"=={spec}")
        if chosen:
            reasons.append(f"requires-python {spec!r}: newest supported inside it is {chosen}")
            return python_pins.capped(chosen, cap, reasons)
    return python_pins.capped(DEFAULT_VERSION, cap, reasons)


def _runner(tool: str) -> str:
    return {"uv": "uv run ", "poetry": "poetry run ", "pdm": "pdm run ", "hatch": "hatch run ",
            "pipenv": "pipenv run "}.get(tool, "python -m ")


def _install(tree: Tree, tool: str, py: dict[str, Any], reqs: list[str],
             workspace: bool) -> str | None:
    if tool == "uv":
        locked = "--locked" if tree.has("uv.lock") or workspace else ""
        return " ".join(["uv sync", locked, "--all-packages" if workspace else ""]).replace(
            "  ", " ").strip()
    if tool == "poetry":
        return "poetry install --no-interaction"
    if tool == "pdm":
        return "pdm install"
    if tool == "pipenv":
        return "pipenv install --dev --deploy" if tree.has("Pipfile.lock") else (
            "pipenv install --dev")
    if tool == "hatch":
        return None
    # Dev/test files usually `-r` the runtime ones; the installer resolves both.
    txt = [r for r in reqs if r.endswith(".txt")]
    parts = [f"-r {r}" for r in txt]
    if "project" in py or "setup(" in (tree.text("setup.py") or ""):
        groups = py.get("project", {}).get("optional-dependencies", {})
        extras = [e for e in ("dev", "test", "tests", "testing", "lint") if e in groups]
        parts.append(f'-e ".[{",".join(extras)}]"' if extras else "-e .")
    if tool == "pip" and "dependency-groups" in py:
        groups = [g for g in ("dev", "test", "lint") if g in py["dependency-groups"]]
        parts += [f"--group {g}" for g in groups]
    return "python -m pip install " + " ".join(parts) if parts else None


def _app(tree: Tree, framework: str | None, runtime: set[str],
         reasons: list[str]) -> tuple[list[str] | None, int | None]:
    """(start command with {port}, port the authors chose) when the project is a web app."""
    declared = python_app.declared_command(tree)
    if declared and framework:
        words, where = declared
        target = python_app.target_of(words, tree)
        server = words[0].rsplit("/", 1)[-1]
        module = target.split(":")[0] if target else ""
        start = python_app.server_command(server, target, framework == "fastapi") if (
            target) else None
        declared_names = {server.removesuffix("-serve"), "pyuwsgi" if server == "uwsgi" else ""}
        if start and declared_names & runtime and (
                python_app.module_exists(tree, module)):
            reasons.append(f"{where} starts {server} {target}")
            return start, python_app.port_of(words)
    if framework == "django":
        return _django(tree, runtime, reasons), None
    cls = {"fastapi": "FastAPI", "flask": "Flask"}.get(framework or "")
    found = python_app.find_app(tree, cls) if cls else None
    if found is None:
        return None, None
    app_dir, target, rel = found
    reasons.append(f"{rel} creates a {cls} application ({target})")
    if framework == "fastapi":
        extra = ["--app-dir", app_dir] if app_dir else []
        factory = ["--factory"] if target.endswith("()") else []
        return ["uvicorn", target.removesuffix("()"), *factory, *extra, "--host", "0.0.0.0",
                "--port", "{port}"], None
    extra = ["--chdir", app_dir] if app_dir else []
    if "gunicorn" not in runtime:
        # The image must not install anything the project does not declare.
        return ["python", "-m", "flask", "--app", target, "run", "--host", "0.0.0.0",
                "--port", "{port}"], None
    return ["gunicorn", *extra, "--bind", "0.0.0.0:{port}", target], None


def _django(tree: Tree, runtime: set[str], reasons: list[str]) -> list[str] | None:
    manage = _manage(tree)
    if manage is None:
        return None
    chdir = manage.rsplit("/", 1)[0] if "/" in manage else "."
    reasons.append(f"Django project found at {manage}"
                   + (" (not at the project root)" if chdir != "." else ""))
    wsgi = python_app.django_wsgi(tree, manage)
    if wsgi and "gunicorn" in runtime:
        reasons.append(f"WSGI module {wsgi}")
        return ["gunicorn", "--chdir", chdir, "--bind", "0.0.0.0:{port}",
                f"{wsgi}:application"]
    asgi = wsgi.removesuffix(".wsgi") + ".asgi" if wsgi and wsgi.endswith(".wsgi") else None
    base = "" if chdir == "." else chdir
    for server in ("uvicorn", "daphne", "hypercorn", "uwsgi"):
        module = asgi if server != "uwsgi" else wsgi
        declared = server in runtime or (server == "uwsgi" and "pyuwsgi" in runtime)
        if declared and module and python_app.module_exists(tree, module, base) and (
                chdir == "." or server == "uvicorn"):  # only uvicorn can import from a dir
            reasons.append(f"{'ASGI' if module == asgi else 'WSGI'} module {module} ({server})")
            start = python_app.server_command(server, f"{module}:application", True) or []
            return start + (["--app-dir", chdir] if chdir != "." else [])
    reasons.append("warning: gunicorn is not a declared dependency: the image runs Django's "
                   "development server (declare gunicorn, or set services: start)")
    return ["python", manage, "runserver", "--noreload", "0.0.0.0:{port}"]


def _manage(tree: Tree) -> str | None:
    manage = sorted((p for p, _ in tree.walk("manage.py") if p.endswith("manage.py")),
                    key=lambda p: p.count("/"))
    return manage[0] if manage else None


def detect(tree: Tree, workspace_root: str | None = None) -> Stack:
    py = tree.toml("pyproject.toml")
    root = tree.at(workspace_root) if workspace_root else tree
    reasons: list[str] = []
    reqs = requirement_files(tree)
    manifests = [m for m in ("pyproject.toml", "setup.py", "setup.cfg", "Pipfile") if tree.has(m)]
    manifests += reqs
    tool = _build_tool(tree, root, py)
    reasons.append(f"python project ({', '.join(manifests)}); build tool {tool}"
                   + (f"; member of the uv workspace at {workspace_root}"
                      if workspace_root else ""))
    runtime, dev = dependencies(tree, py)
    framework = next((f for f in WEB if f in runtime), None)
    cap = python_pins.python_cap(framework, python_pins.spec_of(tree, py, framework or "", reqs))
    name = py.get("project", {}).get("name") or py.get("tool", {}).get("poetry", {}).get("name")
    stack = Stack(path=tree.root, name=dns_label(name or tree.root), language="python",
                  framework=framework, build_tool=tool, manifests=manifests,
                  workspace_root=workspace_root,
                  version=_version(tree, root, py, reasons, cap), reasons=reasons,
                  native_deps=python_pins.native_deps(runtime))
    reasons = stack.reasons  # pydantic copied the list
    if stack.native_deps:
        reasons.append(f"{', '.join(stack.native_deps)} compile against system libraries: "
                       "the image installs their build and runtime packages")
    start, declared_port = _app(tree, framework, runtime, reasons)
    if start:
        stack.kind = "service"
        port = declared_port or _port(tree) or DEFAULT_PORTS[framework or "flask"]
        stack.port = port
        stack.start_command = [a.replace("{port}", str(port)) for a in start]
        if start[0] in ("gunicorn", "uvicorn") and start[0] not in runtime:
            reasons.append(f"warning: {start[0]} is not a declared dependency")
    elif framework:
        reasons.append(f"library: depends on {framework} but creates no application "
                       "(no app instance, no manage.py)")
        if not ("build-system" in py or "setup(" in (tree.text("setup.py") or "")):
            # Not a packaged library either: an application whose entry point we missed.
            stack.kind = "service"
            stack.undecided = f"which module creates the {framework} application"
            stack.evidence = [f"{framework} is a runtime dependency ({', '.join(manifests)})",
                              "no app instance, app factory, manage.py or server command "
                              "(Procfile, boot script, Dockerfile, compose) was found"]
    elif py.get("project", {}).get("scripts") or py.get("tool", {}).get("poetry", {}).get(
            "scripts"):
        reasons.append("library: a command-line package (console scripts, no web framework)")
    else:
        reasons.append("library: no web framework and no server entry point")
    _commands(tree, stack, py, runtime, dev, reqs)
    return stack


PORT_IN_CODE = re.compile(r"(?:\bport\s*=\s*(?:int\()?|[\"']PORT[\"'],\s*[\"']?|--port[ =])"
                          r"(\d{2,5})", re.I)
PORT_IN_COMMANDS = re.compile(r"(?:--port[ =]|-p\s+|(?:-b|--bind)[ =]+[\w.]*:|0\.0\.0\.0:)"
                              r"(\d{2,5})")


def _port(tree: Tree) -> int | None:
    """The listen port the code or its run files name (never a settings file's URL lists)."""
    files = [t for r, t in tree.walk("Procfile", ".sh", "gunicorn.conf.py", "Dockerfile")]
    code = [t for r, t in tree.walk(".py") if "settings" not in r and "config" not in r]
    for pattern, texts in ((PORT_IN_COMMANDS, files), (PORT_IN_CODE, code)):
        for text in texts:
            for match in pattern.finditer(text):
                if match.group(1) not in DEPENDENCY_PORTS:
                    return int(match.group(1))
    return None


def _pytest_style(tree: Tree) -> bool:
    """Tests written for pytest: bare `def test_` functions, fixtures, `import pytest`."""
    for rel, text in tree.walk(".py", skip_tests=False):
        name = rel.rsplit("/", 1)[-1]
        if name == "conftest.py" or (name.startswith("test") and (
                "import pytest" in text or (re.search(r"^def test_", text, re.M)
                                            and "TestCase" not in text))):
            return True
    return False


def _has_tests(tree: Tree) -> bool:
    return any(re.search(r"(^|/)(tests?/|tests?\.py$|test_[^/]*\.py$)", p)
               for p, _ in tree.walk(".py", skip_tests=False))


def _commands(tree: Tree, stack: Stack, py: dict[str, Any], runtime: set[str], dev: set[str],
              reqs: list[str]) -> None:
    tool = stack.build_tool or "pip"
    run = _runner(tool)
    tools = py.get("tool", {})
    deps = runtime | dev
    stack.install_command = _install(tree, tool, py, reqs, stack.workspace_root is not None)
    pytest_declared = "pytest" in deps or "pytest" in tools or tree.has("pytest.ini")
    manage = _manage(tree) if stack.framework == "django" else None
    if tree.has("tox.ini"):
        stack.test_command = "tox"
    elif tree.has("noxfile.py"):
        stack.test_command = "nox"
    elif manage and "pytest-django" not in deps and _has_tests(tree):
        stack.test_command = f"{'python ' if tool == 'pip' else run + 'python '}{manage} test"
    elif pytest_declared or _pytest_style(tree):
        stack.test_command = "hatch test" if tool == "hatch" else f"{run}pytest"
        if not pytest_declared and tool in ("pip", "pipenv"):
            stack.ci_tools.append("pytest")
    elif _has_tests(tree):
        stack.test_command = f"{'python -m ' if tool == 'pip' else run}unittest discover"
    if stack.test_command:
        stack.reasons.append(f"tests: {stack.test_command}")
    ruff_configured = "ruff" in tools or tree.has("ruff.toml") or tree.has(".ruff.toml")
    if "ruff" in deps or ruff_configured:
        stack.lint_command = f"{run}ruff check ."
        if "ruff" not in deps and tool in ("pip", "pipenv"):
            stack.ci_tools.append("ruff")
    elif "flake8" in deps:
        stack.lint_command = f"{run}flake8"
    elif "pylint" in deps:
        stack.lint_command = f"{run}pylint --recursive=y ."
    if "build-system" in py or "setup(" in (tree.text("setup.py") or ""):
        stack.build_command = {"uv": "uv build", "poetry": "poetry build", "pdm": "pdm build",
                               "hatch": "hatch build"}.get(
            tool, "python -m pip wheel --no-deps -w dist .")

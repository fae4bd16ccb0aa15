"""Where a Python web project's application lives and how its authors start it.

Order of evidence: a command the authors already wrote (Procfile `web:`, boot/entrypoint
scripts, a human Dockerfile's CMD, docker-compose `command:`), then the code (an app instance,
an app factory such as `create_app()` / `get_application()`, Django's WSGI module).
"""

from __future__ import annotations

import re
import shlex

from jobs.pipeline.stacks.tree import Tree

SERVERS = ("gunicorn", "uvicorn", "hypercorn", "granian", "uwsgi", "daphne", "waitress-serve")
FACTORY_NAMES = r"((?:create|make|get|build|init|setup)_\w*app\w*|app_factory|application)"
COMMAND_FILES = ("Procfile", "boot.sh", "entrypoint.sh", "docker-entrypoint.sh", "start.sh",
                 "run.sh", "scripts/start.sh", "scripts/entrypoint.sh", "Dockerfile",
                 "docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")
TARGET = re.compile(r"^([A-Za-z_][\w.]*):([A-Za-z_]\w*(?:\(\))?)$")


def declared_command(tree: Tree) -> tuple[list[str], str] | None:
    """(words of the first server command the authors wrote, the file it is in)."""
    for rel in COMMAND_FILES:
        text = tree.text(rel)
        if not text:
            continue
        lines = text.splitlines()
        if rel == "Procfile":
            lines = [ln.split(":", 1)[1] for ln in lines if ln.startswith("web:")]
        for line in lines:
            line = re.sub(r"^\s*(exec|CMD|ENTRYPOINT|command:|-)\s*", "", line.strip())
            if line.startswith("["):  # exec form
                line = " ".join(re.findall(r"\"([^\"]*)\"", line))
            for segment in re.split(r"&&|;|\|\|", line):
                try:
                    words = shlex.split(segment)
                except ValueError:
                    continue
                words = [w for w in words if w not in ("poetry", "run", "uv", "pipenv", "pdm")
                         or words.index(w) > 1]
                if words and words[0].rsplit("/", 1)[-1] in SERVERS:
                    return words, rel
    return None


def target_of(words: list[str], tree: Tree | None = None) -> str | None:
    """The `module:attr` an ASGI/WSGI server command loads (`0.0.0.0:80` never matches); for
    uWSGI also `--module`/`-w`/`--wsgi` and the `module =` of its `--ini` file."""
    found = next((w.strip("'\"") for w in words[1:] if TARGET.match(w.strip("'\""))), None)
    if found or words[0].rsplit("/", 1)[-1] != "uwsgi":
        return found
    for flag, value in zip(words, words[1:], strict=False):
        if flag in ("--module", "-w", "--wsgi", "--module="):
            return value if ":" in value else f"{value}:application"
        if flag == "--ini" and tree is not None:
            m = re.search(r"^\s*(?:module|wsgi)\s*=\s*([\w.]+(?::\w+)?)\s*$",
                          tree.text(value) or "", re.M)
            if m:
                return m.group(1) if ":" in m.group(1) else f"{m.group(1)}:application"
    return None


def server_command(server: str, target: str, asgi: bool) -> list[str] | None:
    """How the image starts `target` with `server` on every interface ({port} filled later)."""
    return {
        "gunicorn": ["gunicorn", "--bind", "0.0.0.0:{port}",
                     *(["-k", "uvicorn.workers.UvicornWorker"] if asgi else []), target],
        "uvicorn": ["uvicorn", target, "--host", "0.0.0.0", "--port", "{port}"],
        "hypercorn": ["hypercorn", "--bind", "0.0.0.0:{port}", target],
        "daphne": ["daphne", "--bind", "0.0.0.0", "--port", "{port}", target],
        "granian": ["granian", "--interface", "asgi" if asgi else "wsgi", "--host", "0.0.0.0",
                    "--port", "{port}", target],
        "uwsgi": ["uwsgi", "--http-socket", "0.0.0.0:{port}", "--master", "--need-app",
                  "--module", target],
        "waitress-serve": ["waitress-serve", "--listen=0.0.0.0:{port}", target],
    }.get(server)


def port_of(words: list[str]) -> int | None:
    joined = " ".join(words)
    m = re.search(r"(?:-b|--bind|--port|-p|--http|--socket)[ =]+(?:[\w.\[\]]*:)?(\d{2,5})\b",
                  joined)
    return int(m.group(1)) if m else None


def module_exists(tree: Tree, module: str, app_dir: str = "") -> bool:
    rel = module.replace(".", "/")
    base = f"{app_dir}/" if app_dir else ""
    return tree.has(f"{base}{rel}.py") or tree.has(f"{base}{rel}/__init__.py")


def module_of(tree: Tree, rel: str) -> tuple[str, str]:
    """(app dir, dotted module) for a source file: `src/` layouts import from inside src."""
    app_dir = ""
    if rel.startswith("src/") and not tree.has("src/__init__.py"):
        app_dir, rel = "src", rel.removeprefix("src/")
    module = rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    return app_dir, module


def find_app(tree: Tree, cls: str) -> tuple[str, str, str] | None:
    """(app dir, target, file) of the application object the code creates.

    An instance (`app = Flask(...)`, `app = create_app()`) beats a factory; entry-point files
    near the root beat deeper modules.
    """
    sources = sorted(tree.walk(".py"), key=lambda s: (s[0].count("/"), s[0]))
    factories = {name for _, text in sources if f"{cls}(" in text
                 for name in re.findall(rf"^def {FACTORY_NAMES}\(", text, re.M)}
    callee = "|".join([re.escape(cls), *sorted(factories)])
    for rel, text in sources:
        m = re.search(rf"^(\w+)\s*(?::\s*\w+\s*)?=\s*(?:{callee})\(", text, re.M)
        if m:
            app_dir, module = module_of(tree, rel)
            return app_dir, f"{module}:{m.group(1)}", rel
    for rel, text in sources:
        m = re.search(rf"^def ({FACTORY_NAMES})\(", text, re.M)
        if m and f"{cls}(" in text:
            app_dir, module = module_of(tree, rel)
            return app_dir, f"{module}:{m.group(1)}()", rel
    return None


def django_wsgi(tree: Tree, manage: str) -> str | None:
    """The WSGI module Django really loads: WSGI_APPLICATION, else a wsgi.py next to settings."""
    text = tree.text(manage) or ""
    settings = re.search(r"DJANGO_SETTINGS_MODULE[\"'],\s*[\"']([\w.]+)[\"']", text)
    for rel, source in tree.walk(".py"):
        m = re.search(r"^WSGI_APPLICATION\s*=\s*[\"']([\w.]+)\.application[\"']", source, re.M)
        if m and "settings" in rel:
            return m.group(1)
    if settings:
        package = settings.group(1).split(".settings")[0]
        base = manage.rpartition("/")[0]
        wsgi = (f"{base}/" if base else "") + package.replace(".", "/") + "/wsgi.py"
        if tree.has(wsgi):
            return f"{package}.wsgi"
    return None


def django_collects_static(tree: Tree) -> bool:
    """Settings that name a STATIC_ROOT: the site serves collected files (whitenoise, a CDN
    sync), which `manage.py collectstatic` must produce in the image."""
    return any(re.search(r"^STATIC_ROOT\s*=", text, re.M)
               for rel, text in tree.walk(".py") if "settings" in rel)

"""Render and lint Helm charts offline through Helm's own Go SDK (helm-python-sdk).

Works for any chart given as `Files` (paths relative to the chart root), so the auditor can
render charts found in pull requests. Helm's renderer does not check that its output is
YAML, so every rendered manifest is parsed here and a broken one raises `ChartError`.

A chart from a pull request is a program: `{{ range until 100000000 }}` in 130 bytes drives
Helm's Go renderer past 1.5 GB in seconds. So Helm runs in a child process (`python -m
app.helm`) with an address-space limit, a CPU-time limit, a wall-clock timeout and a cap on
the size of what it writes back; going over any of them is a `ChartError` that says which,
and the worker that asked is untouched. Validation lints and renders in one child
(`check_chart`), and answers are kept by content (app.rendercache): the audit of the same
chart, or of a head whose chart did not change, starts no child at all. A render's child
is app/helm_child.py: Python without `site`, ctypes and Helm's library, nothing else (~3x less
CPU than helm-python's wrapper); `start_render` lets the caller work while the chart renders.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import resource
import select
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import ROOT
from app.files import Files, write_tree
from app.spawn import Spawned, remove_tree, scratch_dir

if TYPE_CHECKING:
    import subprocess

    import redis
    import yaml

HELM_MEMORY = 1024 * 1024 * 1024  # private writable memory of the child (Python, Go, chart)
HELM_CPU_SECONDS = 20
HELM_TIMEOUT = 30.0
HELM_OUTPUT = 32 * 1024 * 1024  # bytes of rendered output
CHILD = Path(__file__).with_name("helm_child.py")  # the render child
RELEASE = "release"  # the release name of a chart at the repository's root

# Helm reports template errors as "<chart>/templates/x.yaml:12:3" or "(<chart>/x.yaml:12)".
_LOCATION = re.compile(r"(?:[\w.-]+/)?((?:templates|charts)/[\w./-]+?|Chart\.yaml|values\.yaml)"
                       r":(\d+)")
_YAML_SUFFIXES = (".yaml", ".yml", ".json")


class ChartError(Exception):
    """A chart that cannot be loaded or rendered, or renders to something that is not YAML."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        super().__init__(f"{path or 'chart'}:{line or '?'}: {message}")
        self.message = message
        self.path = path
        self.line = line


def _located(message: str) -> tuple[str | None, int | None]:
    m = _LOCATION.search(message)
    return (m.group(1), int(m.group(2))) if m else (None, None)


def _write(chart: Files, where: Path) -> Path:
    if "Chart.yaml" not in chart:
        raise ChartError("no Chart.yaml at the chart root", "Chart.yaml")
    root = where / "chart"
    write_tree(root, chart)
    return root


def _limit() -> None:  # in the check child between fork and exec (helm_child.py: at its start)
    # RLIMIT_DATA, not RLIMIT_AS: Go reserves address space it never uses, and fails under an
    # address-space limit; what it commits (private writable memory) is what DATA counts.
    resource.setrlimit(resource.RLIMIT_DATA, (HELM_MEMORY, HELM_MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (HELM_CPU_SECONDS, HELM_CPU_SECONDS + 1))


def _collect(proc: subprocess.Popen[bytes] | Spawned, deadline: float) -> tuple[bytes, bytes]:
    """stdout (at most HELM_OUTPUT + 1 bytes) and stderr's tail, before `deadline`."""
    assert proc.stdout and proc.stderr
    out, err = bytearray(), bytearray()
    into = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    poller = select.poll()
    for fd in into:
        poller.register(fd, select.POLLIN)
    while into:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ChartError(f"rendering took over {HELM_TIMEOUT:g} s")
        for fd, _ in poller.poll(left * 1000):
            chunk = os.read(fd, 65536)
            if not chunk:
                poller.unregister(fd)
                into.pop(fd)
            elif into[fd] is out or len(err) < 8000:  # the head of stderr says why
                into[fd].extend(chunk)
            if len(out) > HELM_OUTPUT:
                raise ChartError(f"rendered output is over {HELM_OUTPUT >> 20} MB")
    return bytes(out), bytes(err)


def _child_env() -> dict[str, str]:
    # `python -S` skips site (.pth files, the editable-install finder: ~80 ms per start) and
    # finds helm_python and this package on the import path of the process that asked.
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


class Isolated:
    """`op` running in a limited child process. `result()` waits: the child's reply
    ({"ok": ...} or {"error": ...}), or ChartError when it went over a limit or failed."""

    def __init__(self, op: str, **request: Any) -> None:
        argv, data = self._command(op, request)
        self.proc = self._spawn(argv, data)
        self.deadline = time.monotonic() + HELM_TIMEOUT

    def _command(self, op: str, request: dict[str, Any]) -> tuple[list[str], bytes]:
        return [sys.executable, "-S", "-m", "app.helm_check", op], json.dumps(request).encode()

    def _spawn(self, argv: list[str], data: bytes) -> subprocess.Popen[bytes] | Spawned:
        import subprocess  # the worker's check op; `shipcrew audit` only renders
        import tempfile

        with tempfile.TemporaryFile() as stdin:  # the request never blocks the caller
            stdin.write(data)
            stdin.seek(0)
            return subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, preexec_fn=_limit, cwd=ROOT,
                                    env=_child_env())

    def _reply(self, data: bytes) -> dict[str, Any]:
        reply: dict[str, Any] = json.loads(data)
        return reply

    def result(self) -> dict[str, Any]:
        try:
            data, err = _collect(self.proc, self.deadline)
            rc = self.proc.wait(timeout=max(0.1, self.deadline - time.monotonic()))
        finally:
            self.close()
        if rc != 0 or not data:
            if rc in (-signal.SIGKILL, -signal.SIGXCPU):
                raise ChartError(f"rendering used over {HELM_CPU_SECONDS} s of CPU")
            text = err.decode(errors="replace")
            why = next((line for line in text.splitlines() if "fatal error" in line
                        or "out of memory" in line or "Error" in line), text[:200])
            raise ChartError(f"rendering used over {HELM_MEMORY >> 20} MB of memory or failed "
                             f"(exit {rc}): {why.strip()}")
        return self._reply(data)

    def close(self) -> None:
        """Stop the child if it still runs (idempotent)."""
        if self.proc.poll() is None:
            self.proc.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        self.proc.wait()


class _Render(Isolated):
    """A render by app/helm_child.py: the chart is written here, and the child only loads
    Helm's library and calls it (no helm-python wrapper, no json: it starts in a third of
    the time). Its answer becomes the reply app.helm_check's renderer would give."""

    def _command(self, op: str, request: dict[str, Any]) -> tuple[list[str], bytes]:
        self.tmp = scratch_dir("shipcrew-chart-")
        try:
            root = _write(request["chart"], Path(self.tmp))
        except (ChartError, ValueError):
            remove_tree(self.tmp)
            raise
        options = {"name": request["release"], "namespace": request["namespace"],
                   "is_install": True}
        values = request["values"]
        return ([sys.executable, "-I", "-S", str(CHILD), str(HELM_MEMORY), str(HELM_CPU_SECONDS),
                 _library(), str(root), json.dumps(options)],
                b"" if values is None else json.dumps(values).encode())

    def _spawn(self, argv: list[str], data: bytes) -> Spawned:
        # The child limits itself before it loads Helm (so no preexec_fn: posix_spawn). Go's
        # collector would run several times while Helm's packages initialise (~20% of the
        # child's CPU); off, it runs only once the heap nears GOMEMLIMIT, well below the
        # memory limit, so a chart that makes garbage still renders in bounded memory.
        env = {**os.environ, "GOGC": "off", "GOMEMLIMIT": str(HELM_MEMORY // 2)}
        return Spawned(argv, env, data)

    def _reply(self, data: bytes) -> dict[str, Any]:
        if data[:1] != b"O":
            message = data[1:].decode(errors="replace")
            return _error(ChartError(message, *_located(message)))
        size, rest = data[1:].split(b"\n", 1)
        name = json.loads(rest[:int(size)]).get("name")
        prefix = f"{'' if name is None else name}/"
        rendered: dict[str, str] = json.loads(rest[int(size):])
        return {"ok": {path.removeprefix(prefix): text
                       for path, text in sorted(rendered.items())}}

    def close(self) -> None:
        super().close()
        if os.path.isdir(self.tmp):
            remove_tree(self.tmp)


class _Answered:
    """A render answered without a child (a chart without Chart.yaml)."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply

    def result(self) -> dict[str, Any]:
        return self.reply

    def close(self) -> None:
        pass


_LIBRARY: list[str] = []


def _library() -> str:
    """libhelm_c as helm-python ships it (found without importing helm-python)."""
    if not _LIBRARY:
        spec = importlib.util.find_spec("helm_python")
        if spec is None or not spec.submodule_search_locations:
            raise ChartError("Helm is not installed (helm-python-sdk)")
        where = Path(next(iter(spec.submodule_search_locations))) / "lib"
        names = sorted((n for n in os.listdir(where) if n.startswith("libhelm_c.")), key=len)
        if not names:
            raise ChartError(f"Helm's library is missing from {where}")
        _LIBRARY.append(str(where / names[-1]))  # the most specific: libhelm_c.so.X.Y.Z
    return _LIBRARY[0]


def _start(op: str, **request: Any) -> Isolated | _Answered:
    """Every Helm child starts here (tests count them)."""
    if op != "render":
        return Isolated(op, **request)
    _library()  # Helm not installed: raised, never an answer to keep
    try:
        return _Render(op, **request)
    except ChartError as exc:  # no chart to render: an answer, like the child's
        return _Answered(_error(exc))


def _isolated(op: str, **request: Any) -> dict[str, Any]:
    return _start(op, **request).result()


def release_name(chart_dir: str) -> str:
    """The release a chart at `chart_dir` is rendered as, by validation and audit alike (one
    name, so one render serves both): its directory's name."""
    return chart_dir.rstrip("/").rsplit("/", 1)[-1] or RELEASE


def _error(exc: ChartError) -> dict[str, Any]:
    return {"error": {"message": exc.message, "path": exc.path, "line": exc.line}}


def _raise(reply: dict[str, Any]) -> Any:
    if "error" in reply:
        e = reply["error"]
        raise ChartError(e["message"], e.get("path"), e.get("line"))
    return reply["ok"]


def _yaml_checked(rendered: dict[str, str]) -> dict[str, Any]:
    """The child's render as a reply to keep: ok, or the template that is not YAML."""
    try:
        for path, text in rendered.items():
            if path.endswith(_YAML_SUFFIXES):
                manifests(text, path)
    except ChartError as exc:
        return _error(exc)
    return {"ok": rendered}


def _cache(conn: redis.Redis | None) -> tuple[Any, redis.Redis | None]:
    """app.rendercache and its connection. Outside an RQ job and without `conn` there is no
    cache, and nothing is imported for one (`shipcrew audit` starts faster)."""
    if conn is None and "rq" not in sys.modules:
        return None, None
    from app import rendercache

    return rendercache, rendercache.connection(conn)


class PendingRender:
    """A render started by `start_render`; `result()` waits for it (the cache's answer, if
    any, is there at once)."""

    def __init__(self, chart: Files, release: str, values: dict[str, Any] | None,
                 namespace: str, conn: redis.Redis | None) -> None:
        request = {"chart": chart, "release": release, "values": values, "namespace": namespace}
        self.cache, self.store = _cache(conn)
        self.name = self.cache.key("render", request) if self.store is not None else ""
        self.reply = self.cache.get(self.store, self.name) if self.store is not None else None
        self.child = _start("render", **request) if self.reply is None else None

    def result(self) -> dict[str, str]:
        """Template path (relative to the chart root) -> rendered text, or ChartError."""
        if self.reply is None:
            assert self.child is not None
            reply = self.child.result()  # over a limit: raised, not kept
            if "ok" in reply:
                reply = _yaml_checked(reply["ok"])
            if self.store is not None:
                self.cache.put(self.store, self.name, reply)
            self.reply = reply
        rendered: dict[str, str] = _raise(self.reply)
        return rendered

    def close(self) -> None:
        if self.child is not None:
            self.child.close()


def start_render(chart: Files, release: str = RELEASE, values: dict[str, Any] | None = None,
                 namespace: str = "default", *, conn: redis.Redis | None = None
                 ) -> PendingRender:
    """`render_chart`, started: the chart renders while the caller goes on."""
    return PendingRender(chart, release, values, namespace, conn)


def render_chart(chart: Files, release: str = RELEASE, values: dict[str, Any] | None = None,
                 namespace: str = "default", *, conn: redis.Redis | None = None) -> dict[str, str]:
    """Template path (relative to the chart root) -> rendered text, like `helm template`.

    Answered from app.rendercache when this chart was rendered the same way before (`conn`,
    or the running job's Redis)."""
    return start_render(chart, release, values, namespace, conn=conn).result()


@dataclass
class ChartCheck:
    """Helm's strict linter and its renderer over one chart."""

    lint: list[dict[str, Any]]  # [{"severity": info|warning|error, "path", "message"}]
    rendered: dict[str, str] = field(default_factory=dict)
    error: ChartError | None = None  # why it does not render (then `rendered` is empty)


def check_chart(chart: Files, release: str = RELEASE, values: dict[str, Any] | None = None,
                namespace: str = "default", kube_version: str | None = None, *,
                conn: redis.Redis | None = None) -> ChartCheck:
    """Lint and render in one child process (one Go runtime), both answers kept by content:
    the audit's `render_chart` of the same chart is then served without Helm. Never raises:
    a chart that does not render, or went over a limit, is `error`."""
    from app import rendercache

    store = rendercache.connection(conn)
    render_request = {"chart": chart, "release": release, "values": values,
                      "namespace": namespace}
    lint_name = rendercache.key("lint", {"chart": chart, "values": values,
                                         "kube_version": kube_version})
    render_name = rendercache.key("render", render_request)
    lint, rendered = rendercache.get(store, lint_name), rendercache.get(store, render_name)
    if lint is None or rendered is None:
        try:
            reply = _isolated("check", **render_request, kube_version=kube_version)
        except ChartError as exc:  # over a limit: no answer from either, and none kept
            return ChartCheck(lint=[], error=exc)
        both = reply.get("ok") or {"lint": [], "render": reply}  # no chart to lint either
        lint = {"ok": both["lint"]}
        rendered = both["render"]
        if "ok" in rendered:
            rendered = _yaml_checked(rendered["ok"])
        rendercache.put(store, lint_name, lint)
        rendercache.put(store, render_name, rendered)
    try:
        return ChartCheck(lint=lint["ok"], rendered=_raise(rendered))
    except ChartError as exc:
        return ChartCheck(lint=lint["ok"], error=exc)


def _yaml() -> tuple[Any, type[yaml.SafeLoader]]:
    import yaml  # not in the child process, which never parses YAML

    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster


def manifests(text: str, path: str = "manifest") -> list[dict[str, Any]]:
    """Every non-empty YAML document of a rendered template; ChartError when not YAML."""
    yaml, loader = _yaml()
    try:
        docs = list(yaml.load_all(text, Loader=loader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ChartError(f"rendered output is not YAML: {getattr(exc, 'problem', exc)}",
                         path, mark.line + 1 if mark else None) from exc
    out = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ChartError(f"rendered document is a {type(doc).__name__}, not a mapping", path)
        out.append(doc)
    return out

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
chart, or of a head whose chart did not change, starts no child at all.
"""

from __future__ import annotations

import json
import os
import re
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from app import ROOT
from app.files import Files, write_tree

if TYPE_CHECKING:
    import redis

HELM_MEMORY = 1024 * 1024 * 1024  # private writable memory of the child (Python, Go, chart)
HELM_CPU_SECONDS = 20
HELM_TIMEOUT = 30.0
HELM_OUTPUT = 32 * 1024 * 1024  # bytes of rendered output
RELEASE = "release"  # the release name of a chart at the repository's root

# Helm reports template errors as "<chart>/templates/x.yaml:12:3" or "(<chart>/x.yaml:12)".
_LOCATION = re.compile(r"(?:[\w.-]+/)?((?:templates|charts)/[\w./-]+?|Chart\.yaml|values\.yaml)"
                       r":(\d+)")
_YAML_SUFFIXES = (".yaml", ".yml", ".json")
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: same data, ~10x faster


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


def _limit() -> None:  # runs in the child between fork and exec
    # RLIMIT_DATA, not RLIMIT_AS: Go reserves address space it never uses, and fails under an
    # address-space limit; what it commits (private writable memory) is what DATA counts.
    resource.setrlimit(resource.RLIMIT_DATA, (HELM_MEMORY, HELM_MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (HELM_CPU_SECONDS, HELM_CPU_SECONDS + 1))


def _collect(proc: subprocess.Popen[bytes], request: bytes) -> tuple[bytes, bytes]:
    """stdout (at most HELM_OUTPUT + 1 bytes) and stderr's tail, within HELM_TIMEOUT."""
    assert proc.stdin and proc.stdout and proc.stderr
    deadline = time.monotonic() + HELM_TIMEOUT
    proc.stdin.write(request)  # the child reads all of it before it writes anything
    proc.stdin.close()
    out, err = bytearray(), bytearray()
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChartError(f"rendering took over {HELM_TIMEOUT:g} s")
            for key, _ in sel.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                if key.data is out or len(err) < 8000:  # the head of stderr says why
                    key.data.extend(chunk)
                if len(out) > HELM_OUTPUT:
                    raise ChartError(f"rendered output is over {HELM_OUTPUT >> 20} MB")
    return bytes(out), bytes(err)


def _isolated(op: str, **request: Any) -> dict[str, Any]:
    """Run `op` in a limited child process: its reply ({"ok": ...} or {"error": ...}), or
    ChartError when it went over a limit or failed."""
    with subprocess.Popen([sys.executable, "-m", "app.helm", op], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_limit,
                          cwd=ROOT) as proc:
        try:
            data, err = _collect(proc, json.dumps(request).encode())
            rc = proc.wait(timeout=HELM_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
    if rc != 0 or not data:
        if rc in (-signal.SIGKILL, -signal.SIGXCPU):
            raise ChartError(f"rendering used over {HELM_CPU_SECONDS} s of CPU")
        text = err.decode(errors="replace")
        why = next((line for line in text.splitlines() if "fatal error" in line
                    or "out of memory" in line or "Error" in line), text[:200])
        raise ChartError(f"rendering used over {HELM_MEMORY >> 20} MB of memory or failed "
                         f"(exit {rc}): {why.strip()}")
    reply: dict[str, Any] = json.loads(data)
    return reply


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


def render_chart(chart: Files, release: str = RELEASE, values: dict[str, Any] | None = None,
                 namespace: str = "default", *, conn: redis.Redis | None = None) -> dict[str, str]:
    """Template path (relative to the chart root) -> rendered text, like `helm template`.

    Answered from app.rendercache when this chart was rendered the same way before (`conn`,
    or the running job's Redis)."""
    from app import rendercache

    request = {"chart": chart, "release": release, "values": values, "namespace": namespace}
    store, name = rendercache.connection(conn), rendercache.key("render", request)
    reply = rendercache.get(store, name)
    if reply is None:
        reply = _isolated("render", **request)  # over a limit: raised, not kept
        if "ok" in reply:
            reply = _yaml_checked(reply["ok"])
        rendercache.put(store, name, reply)
    rendered: dict[str, str] = _raise(reply)
    return rendered


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


def manifests(text: str, path: str = "manifest") -> list[dict[str, Any]]:
    """Every non-empty YAML document of a rendered template; ChartError when not YAML."""
    try:
        docs = list(yaml.load_all(text, Loader=_SAFE_LOADER))
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


# --- the child ---------------------------------------------------------------------------------


def _render(root: Path, release: str, values: dict[str, Any] | None,
            namespace: str) -> dict[str, str]:
    import helm_python as helm

    try:
        with helm.Chart.load(root) as loaded:
            prefix = f"{loaded.name}/"
            rendered = loaded.render(values=values, name=release, namespace=namespace,
                                     is_install=True)
    except helm.HelmError as exc:
        raise ChartError(str(exc), *_located(str(exc))) from exc
    return {path.removeprefix(prefix): text for path, text in sorted(rendered.items())}


def _lint(root: Path, values: dict[str, Any] | None,
          kube_version: str | None) -> list[dict[str, Any]]:
    import helm_python as helm

    names = {0: "unknown", 1: "info", 2: "warning", 3: "error"}
    report = helm.lint(root, values, strict=True, kube_version=kube_version)
    found = [{"severity": names.get(m.get("severity", 0), "unknown"), "path": m.get("path", ""),
              "message": m.get("error", "")} for m in report.get("messages", [])]
    found += [{"severity": "error", "path": "", "message": e} for e in report.get("errors", [])
              if not any(e in f["message"] for f in found)]
    return found


def _run(op: str, chart: Files, release: str = RELEASE, values: dict[str, Any] | None = None,
         namespace: str = "default", kube_version: str | None = None) -> Any:
    with tempfile.TemporaryDirectory(prefix="shipcrew-chart-") as tmp:
        root = _write(chart, Path(tmp))
        if op == "render":
            return _render(root, release, values, namespace)
        lint = _lint(root, values, kube_version)
        try:
            render: dict[str, Any] = {"ok": _render(root, release, values, namespace)}
        except ChartError as exc:
            render = _error(exc)
        return {"lint": lint, "render": render}


def _child(op: str) -> None:
    request = json.loads(sys.stdin.buffer.read())
    try:
        reply: dict[str, Any] = {"ok": _run(op, **request)}
    except ChartError as exc:
        reply = _error(exc)
    sys.stdout.write(json.dumps(reply))


if __name__ == "__main__":
    _child(sys.argv[1])

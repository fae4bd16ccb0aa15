"""The Helm render child: Helm's Go SDK (libhelm_c) called directly, nothing else imported.

    python -I -S app/helm_child.py MEMORY_BYTES CPU_SECONDS LIBRARY CHART_DIR OPTIONS < values

app/helm.py starts this script for every render; the timeout and the output cap are the
parent's, the memory and CPU limits are set here before Helm loads (no `preexec_fn`: the
parent spawns without copying itself). The answer on stdout is `O<n>\\n`, the chart's
metadata (n bytes of JSON) and the rendered templates (JSON, path -> text, each path prefixed
by the chart's name), or `E` and Helm's error message. Parsing, prefix removal and error
locations happen in the parent, so this process imports only ctypes: starting Python and
helm-python's wrapper (logging, typing, pathlib, json, ...) cost more than loading Helm. The
library is the one helm-python ships, declared with helm-python's own signatures (a test
compares them).
"""

import ctypes
import os
import resource
import sys

ABI = "0.2."  # helm-c versions whose C ABI these declarations match


def _declare(lib: ctypes.CDLL) -> None:
    handle, handle_out = ctypes.c_uint64, ctypes.POINTER(ctypes.c_uint64)
    text_in, text_out = ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)
    status = ctypes.c_int32
    lib.helm_c_version.restype, lib.helm_c_version.argtypes = ctypes.c_void_p, []
    lib.helm_chart_load.restype = status
    lib.helm_chart_load.argtypes = [text_in, handle_out, text_out]
    lib.helm_chart_metadata.restype = status
    lib.helm_chart_metadata.argtypes = [handle, text_out, text_out]
    lib.helm_render.restype = status
    lib.helm_render.argtypes = [handle, text_in, text_in, text_out, text_out]


def _text(ptr: ctypes.c_void_p) -> bytes:
    return ctypes.string_at(ptr.value) if ptr.value else b""


def _failed(code: int, err: ctypes.c_void_p) -> bytes:
    # helm-python's wording: the library's detail, else the bare code
    return _text(err) or f"helm-c call failed with code {code}".encode()


def render(library: str, chart_dir: str, options: str, values: bytes) -> bytes:
    """The answer this process writes (see the module's docstring)."""
    lib = ctypes.CDLL(library)
    _declare(lib)
    version = ctypes.string_at(lib.helm_c_version()).decode()
    if not version.startswith(ABI):
        return f"Ehelm-c {version} is not the {ABI}x ABI this renderer declares".encode()
    chart, err = ctypes.c_uint64(), ctypes.c_void_p()
    code = lib.helm_chart_load(chart_dir.encode(), ctypes.byref(chart), ctypes.byref(err))
    if code:
        return b"E" + _failed(code, err)
    meta, out = ctypes.c_void_p(), ctypes.c_void_p()
    code = lib.helm_chart_metadata(chart, ctypes.byref(meta), ctypes.byref(err))
    if code:
        return b"E" + _failed(code, err)
    code = lib.helm_render(chart, values or None, options.encode(), ctypes.byref(out),
                           ctypes.byref(err))
    if code:
        return b"E" + _failed(code, err)
    metadata = _text(meta)
    return b"O%d\n" % len(metadata) + metadata + _text(out)


def limit(memory: int, cpu_seconds: int) -> None:
    """app.helm's limits (the check child gets them from `preexec_fn` there)."""
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


if __name__ == "__main__":
    limit(int(sys.argv[1]), int(sys.argv[2]))
    library, chart_dir, options = sys.argv[3:6]
    sys.stdout.buffer.write(render(library, chart_dir, options, sys.stdin.buffer.read()))
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown: nothing is left to free

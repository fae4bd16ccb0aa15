"""Child processes and scratch directories on bare `os` calls.

`shipcrew audit` renders a chart in a child process while it imports the rest of the auditor;
importing `subprocess` and `tempfile` for that (threading, selectors, locale, shutil with bz2
and lzma, random) cost the CLI more than starting the child itself. So the Helm render child
starts here: `os.posix_spawn` (no fork of the caller, no `preexec_fn`), its input in a memfd
(a file, so writing it never blocks), its output on two pipes. `Spawned` offers the part of
`subprocess.Popen` that app.helm uses.
"""

from __future__ import annotations

import os
import signal
import time


class Spawned:
    """`argv` running with `env`, `data` on its stdin; `stdout`/`stderr` are unbuffered."""

    def __init__(self, argv: list[str], env: dict[str, str], data: bytes) -> None:
        request = os.memfd_create("shipcrew-request")
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(request, view):]
            os.lseek(request, 0, os.SEEK_SET)
            dup2 = os.POSIX_SPAWN_DUP2
            self.pid = os.posix_spawn(argv[0], argv, env, file_actions=[
                (dup2, request, 0), (dup2, out_w, 1), (dup2, err_w, 2)])
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            for fd in (request, out_w, err_w):
                os.close(fd)
        self.stdout = open(out_r, "rb", buffering=0)  # noqa: SIM115 (closed by the caller)
        self.stderr = open(err_r, "rb", buffering=0)  # noqa: SIM115
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if end is not None and time.monotonic() >= end:
                raise TimeoutError(f"process {self.pid} still runs after {timeout:g} s")
            time.sleep(0.001)
        return code

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)


def scratch_dir(prefix: str) -> str:
    """A new private directory under $TMPDIR (or /tmp), as tempfile.mkdtemp makes one."""
    base = os.environ.get("TMPDIR") or "/tmp"
    while True:
        path = os.path.join(base, prefix + os.urandom(6).hex())
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue


def remove_tree(path: str) -> None:
    """`shutil.rmtree` for a directory this process wrote (no symlinks in it to follow)."""
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            os.rmdir(os.path.join(root, name))
    os.rmdir(path)

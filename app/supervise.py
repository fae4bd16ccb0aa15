"""Worker processes for `shipcrew serve`: started together, restarted when one dies,
stopped together."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

from app.embedded import _die_with_parent

log = logging.getLogger(__name__)
QUICK_DEATH = 5.0  # a worker dying sooner than this is restarted only after this long


class Workers:
    def __init__(self, count: int, env: Mapping[str, str]) -> None:
        self.count = count
        self.env = dict(env)
        self.procs: list[subprocess.Popen[bytes]] = []
        self._started: list[float] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="workers")

    def _spawn(self) -> subprocess.Popen[bytes]:
        # Own session: a Ctrl-C in the terminal reaches `serve` only, which stops the workers
        # with SIGTERM (RQ's warm shutdown), never a worker still importing (a traceback).
        return subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=self.env,
                                preexec_fn=_die_with_parent, start_new_session=True)

    def start(self) -> Workers:
        for _ in range(self.count):
            self.procs.append(self._spawn())
            self._started.append(time.monotonic())
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            for i, proc in enumerate(self.procs):
                code = proc.poll()
                if code is None or self._stopping.is_set():
                    continue
                lived = time.monotonic() - self._started[i]
                if lived < QUICK_DEATH:  # crash loop: don't spin
                    if self._stopping.wait(QUICK_DEATH - lived):
                        return
                log.warning("worker %s exited with %s; starting another", proc.pid, code)
                self.procs[i] = self._spawn()
                self._started[i] = time.monotonic()

    def stop(self, timeout: float = 30) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

"""Run a function over items in forked processes, each item within a time budget.

The Rego engine holds the GIL and cannot be interrupted from Python, so the only way to bound
one evaluation is to run it in a process that can be killed. Children are forked (they inherit
the compiled policies); each takes a share of the items and sends one answer per item. An item
that takes longer than `budget` seconds, or kills its process, gets a Timeout or a Failure in
place, and a new child carries on with the rest of that share.

Plain `os.fork` and pipes (each answer framed as ok-flag, length, text): `multiprocessing`
costs more to import than a small audit takes to evaluate.
"""

from __future__ import annotations

import os
import select
import signal
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_FRAME = struct.Struct("!?I")  # ok, length of the UTF-8 text that follows


class Failure(Exception):
    """An item the function refused; its message is shown to users."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Timeout:
    seconds: float


def run(fn: Callable[[str], str], items: Sequence[str], procs: int,
        budget: float) -> list[str | Failure | Timeout]:
    """fn(item) for every item, in order; at most `budget` seconds each."""
    results: dict[int, str | Failure | Timeout] = {}
    shares = [list(range(k, len(items), procs)) for k in range(procs)]
    running = [_Child(fn, items, share) for share in shares if share]
    try:
        while running:
            deadline = min(c.since for c in running) + budget
            ready, _, _ = select.select([c.fd for c in running], [], [],
                                        max(0.0, deadline - time.monotonic()))
            for child in list(running):
                if child.fd in ready:
                    done = child.receive(results)
                elif time.monotonic() - child.since >= budget:
                    results[child.current] = Timeout(budget)
                    child.pos += 1
                    done = child.stop()
                else:
                    continue
                if done:
                    running.remove(child)
                    if child.pos < len(child.share):  # a new process for the rest of the share
                        running.append(_Child(fn, items, child.share[child.pos:]))
    finally:
        for child in running:  # only on an exception: never leave a child behind
            child.stop()
    return [results[i] for i in range(len(items))]


class _Child:
    def __init__(self, fn: Callable[[str], str], items: Sequence[str], share: list[int]) -> None:
        self.share = share
        self.pos = 0
        self.buffer = bytearray()
        receiver, sender = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            os.close(receiver)
            _serve(fn, items, share, sender)
        os.close(sender)
        self.fd = receiver
        self.since = time.monotonic()
        self.exitcode: int | None = None

    @property
    def current(self) -> int:
        return self.share[self.pos]

    def receive(self, results: dict[int, Any]) -> bool:
        """Take the answers that arrived; True when this child is finished (done, or died)."""
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            if self.pos < len(self.share):
                self.stop()
                results[self.current] = Failure(
                    f"the policy engine stopped on this input (exit {self.exitcode})")
                self.pos += 1
            return self.stop()
        self.buffer += chunk
        while len(self.buffer) >= _FRAME.size:
            ok, size = _FRAME.unpack_from(self.buffer)
            if len(self.buffer) < _FRAME.size + size:
                break
            text = self.buffer[_FRAME.size:_FRAME.size + size].decode()
            del self.buffer[:_FRAME.size + size]
            results[self.current] = text if ok else Failure(text)
            self.pos += 1
            self.since = time.monotonic()
        return self.stop() if self.pos == len(self.share) else False

    def stop(self) -> bool:
        if self.exitcode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status = os.waitpid(self.pid, 0)
            self.exitcode = os.waitstatus_to_exitcode(status)
            os.close(self.fd)
        return True


def _serve(fn: Callable[[str], str], items: Sequence[str], share: list[int], fd: int) -> None:
    try:
        with os.fdopen(fd, "wb") as out:
            for i in share:
                try:
                    ok, text = True, fn(items[i])
                except Failure as exc:
                    ok, text = False, exc.message
                except Exception as exc:  # never lose an item: say what went wrong
                    ok, text = False, f"{type(exc).__name__}: {exc}"[:300]
                data = text.encode()
                out.write(_FRAME.pack(ok, len(data)) + data)
                out.flush()
    finally:
        os._exit(0)

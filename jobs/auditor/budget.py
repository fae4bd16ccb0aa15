"""Run a function over items in forked processes, each item within a time budget.

The Rego engine holds the GIL and cannot be interrupted from Python, so the only way to bound
one evaluation is to run it in a process that can be killed. Children are forked (they inherit
the compiled policies); each takes a share of the items and sends one answer per item. An item
that takes longer than `budget` seconds, or kills its process, gets a Timeout or a Failure in
place, and a new child carries on with the rest of that share.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any


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
    while running:
        deadline = min(c.since for c in running) + budget
        ready = wait([c.conn for c in running], timeout=max(0.0, deadline - time.monotonic()))
        for child in list(running):
            if child.conn in ready:
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
    return [results[i] for i in range(len(items))]


class _Child:
    def __init__(self, fn: Callable[[str], str], items: Sequence[str], share: list[int]) -> None:
        self.share = share
        self.pos = 0
        receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=False)
        self.conn: Connection = receiver
        self.process = multiprocessing.get_context("fork").Process(
            target=_serve, args=(fn, items, share, sender), daemon=True)
        self.process.start()
        sender.close()
        self.since = time.monotonic()

    @property
    def current(self) -> int:
        return self.share[self.pos]

    def receive(self, results: dict[int, Any]) -> bool:
        """Take one answer; True when this child is finished (done, or died)."""
        try:
            ok, value = self.conn.recv()
        except (EOFError, OSError):
            if self.pos < len(self.share):
                code = self.process.exitcode
                results[self.current] = Failure(
                    f"the policy engine stopped on this input (exit {code})")
                self.pos += 1
            return self.stop()
        results[self.current] = value if ok else Failure(value)
        self.pos += 1
        self.since = time.monotonic()
        return self.stop() if self.pos == len(self.share) else False

    def stop(self) -> bool:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()
        return True


def _serve(fn: Callable[[str], str], items: Sequence[str], share: list[int],
           conn: Connection) -> None:
    try:
        for i in share:
            try:
                conn.send((True, fn(items[i])))
            except Failure as exc:
                conn.send((False, exc.message))
            except Exception as exc:  # never lose an item: say what went wrong
                conn.send((False, f"{type(exc).__name__}: {exc}"[:300]))
        conn.close()
    finally:
        os._exit(0)

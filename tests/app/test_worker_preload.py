"""A forking worker imports the job modules before it forks (app.worker.preload)."""

from __future__ import annotations

import gc
import importlib.util
import re
import sys
from pathlib import Path

from app import worker

ROOT = Path(__file__).parents[2]


def test_every_job_package_is_preloaded() -> None:
    """Each lazily imported job edge (`from jobs.x.y import ... as run`) is in PRELOAD."""
    lazy = set()
    for init in (ROOT / "jobs").glob("*/__init__.py"):
        lazy |= set(re.findall(r"^\s+from (jobs\.[\w.]+) import \w+ as run$", init.read_text(),
                               re.M))
    assert lazy and lazy <= set(worker.PRELOAD), lazy - set(worker.PRELOAD)


def test_preload_imports_them_and_freezes_what_the_horses_inherit() -> None:
    try:
        worker.preload()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert all(name in sys.modules for name in worker.PRELOAD)
    assert all(importlib.util.find_spec(name) for name in worker.PRELOAD)

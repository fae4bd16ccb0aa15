"""A deliberately broken worker for bench/chaos.py: `CHAOS_BREAK=double-verdict` publishes
every new policy verdict twice. The chaos count must report the copies as duplicated."""

from __future__ import annotations

import os
import sys
from typing import Any

from app import checks
from app.cli import main

_publish = checks.publish


def _twice(gh: Any, owner: str, repo: str, **kwargs: Any) -> int:
    if kwargs.get("name") == "shipcrew / policy" and kwargs.get("check_run_id") is None:
        gh.rest.checks.create(owner, repo, data={  # the copy: a plain second POST
            "name": kwargs["name"], "head_sha": kwargs["head_sha"], "status": "completed",
            "conclusion": kwargs["conclusion"],
            "output": {"title": kwargs["title"], "summary": checks.fit(kwargs["summary"])}})
    return _publish(gh, owner, repo, **kwargs)


if os.environ.get("CHAOS_BREAK") == "double-verdict":
    checks.publish = _twice  # type: ignore[assignment]  # jobs call it as checks.publish

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

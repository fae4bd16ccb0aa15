"""Content-addressed validation results: the same generated files get the same report.

A README-only push regenerates byte-identical files; running actionlint, zizmor, hadolint,
Helm and the Kubernetes schemas over them again only repeats the answer. The key is a hash
of the generated files and of the validators themselves (validate.py's source and the tool
binaries), so a new validator or rule never reuses an old answer. Entries expire after a day.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from functools import cache
from pathlib import Path

import redis

from app.files import Files
from jobs.pipeline import validate
from jobs.pipeline.validate import ValidationReport, validate_report

log = logging.getLogger(__name__)
KEY = "shipcrew:validation:{digest}"
TTL = 24 * 3600
TOOLS = ("actionlint", "zizmor", "hadolint")


@cache
def _validators() -> bytes:
    """What the answer depends on besides the files: the code and the tools' builds."""
    h = hashlib.sha256(Path(validate.__file__).read_bytes())
    h.update(validate.KUBE_VERSION.encode())
    for tool in TOOLS:
        path = validate.tool_path(tool)
        stat = path.stat() if path.exists() else None
        h.update(f"{tool}:{stat.st_size if stat else 0}:{stat.st_mtime_ns if stat else 0}"
                 .encode())
    return h.digest()


def digest(files: Files) -> str:
    h = hashlib.sha256(_validators())
    h.update(json.dumps(sorted(files.items()), ensure_ascii=False).encode())
    return h.hexdigest()


def cached_validation(conn: redis.Redis) -> Callable[[Files], ValidationReport]:
    """`validate_report`, remembered in Redis by content."""
    def run(files: Files) -> ValidationReport:
        key = KEY.format(digest=digest(files))
        try:
            raw = conn.get(key)
            if isinstance(raw, bytes):
                return ValidationReport.model_validate_json(raw)
        except (redis.RedisError, ValueError) as exc:
            log.warning("validation cache unreadable: %s", exc)
        report = validate_report(files)
        conn.set(key, report.model_dump_json(), ex=TTL)
        return report

    return run

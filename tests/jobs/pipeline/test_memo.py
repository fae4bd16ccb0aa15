"""Validation results by content: the same files are validated once."""

from __future__ import annotations

import redis

from jobs.pipeline import memo
from jobs.pipeline.validate import ValidationReport

DOCKERFILE = {"Dockerfile": "FROM python:3.12-slim\nUSER 1000\n"}


def test_the_same_files_are_validated_once(redis_conn: redis.Redis, monkeypatch) -> None:
    runs: list[dict[str, str]] = []
    real = memo.validate_report

    def counting(files: dict[str, str]) -> ValidationReport:  # the real validators, counted
        runs.append(files)
        return real(files)

    monkeypatch.setattr(memo, "validate_report", counting)
    validate = memo.cached_validation(redis_conn)
    first = validate(DOCKERFILE)
    assert [r.tool for r in first.results] and validate(dict(DOCKERFILE)) == first
    assert len(runs) == 1
    validate({"Dockerfile": DOCKERFILE["Dockerfile"] + "EXPOSE 80\n"})
    assert len(runs) == 2  # other content, another run


def test_the_key_changes_with_the_content_and_with_the_validators(monkeypatch) -> None:
    a = memo.digest(DOCKERFILE)
    assert a == memo.digest(dict(DOCKERFILE))
    assert a != memo.digest({"Dockerfile.dev": DOCKERFILE["Dockerfile"]})
    memo._validators.cache_clear()
    monkeypatch.setattr(memo.validate, "KUBE_VERSION", "1.99.0")
    assert memo.digest(DOCKERFILE) != a
    memo._validators.cache_clear()

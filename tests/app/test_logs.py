from __future__ import annotations

import io
import json
import logging

import pytest

from app.logs import JsonFormatter, Redactor, bound_delivery

PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"


@pytest.fixture
def capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(Redactor(["hook-secret-value"]))
    logger = logging.getLogger("test.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


@pytest.mark.parametrize("secret", [
    "hook-secret-value", PEM, "ghs_16CharsOrMoreAbcdef", "github_pat_11ABCDEFG0123456789_xyz",
    "Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxIn0.sig", "token ghs_abcdefghijklmnop1234",
    "sk-proj-abcdefghijklmnopqrstu",
])
def test_secrets_never_reach_a_log_line(capture, secret: str) -> None:
    logger, stream = capture
    logger.info("calling with %s", secret)
    try:
        raise RuntimeError(f"boom {secret}")
    except RuntimeError:
        logger.exception("failed")
    out = stream.getvalue()
    assert secret not in out and "MIIEow" not in out
    assert out.count("[redacted]") >= 2


def test_lines_are_json_with_the_delivery_id(capture) -> None:
    logger, stream = capture
    with bound_delivery("abc-123"):
        logger.info("hello", extra={"event": "pull_request"})
    logger.info("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["delivery"], first["event"], first["msg"]) == ("abc-123", "pull_request", "hello")
    assert "delivery" not in second

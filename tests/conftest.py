"""Shared fixtures: a real Redis server, settings for a test App."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.embedded import EmbeddedRedis
from app.settings import Settings, load_settings

FIXTURES = Path(__file__).parent / "fixtures"
WEBHOOK_SECRET = "test-webhook-secret-😀"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: SHIPCREW_TEST_REDIS_URL if set, else a private server for this run.

    A private server keeps concurrent test runs on one machine from flushing each other.
    """
    if url := os.environ.get("SHIPCREW_TEST_REDIS_URL"):
        yield url
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.start()
    server.stop()


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture(scope="session")
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def settings(redis_url: str, private_key_pem: str, tmp_path: Path) -> Settings:
    return load_settings(
        app_id=12345, private_key=private_key_pem, webhook_secret=WEBHOOK_SECRET,
        redis_url=redis_url, app_slug="shipcrew-test", state_dir=tmp_path / "state",
        _env_file=None,
    )

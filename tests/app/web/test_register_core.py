"""The manifest flow's pure parts: URLs, the manifest, .env merging, credentials on disk."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from app.web.register import (
    RegistrationError,
    check_public_url,
    install_url,
    manifest,
    merge_env,
    new_app_url,
    web_url_for,
    write_credentials,
)

ROOT = Path(__file__).parents[3]


@pytest.mark.parametrize(("api", "web"), [
    ("https://api.github.com", "https://github.com"),
    ("https://api.github.com/", "https://github.com"),
    ("https://ghes.example.com/api/v3", "https://ghes.example.com"),
    ("http://127.0.0.1:3001", "http://127.0.0.1:3001"),  # the emulator serves both
])
def test_web_url_for(api: str, web: str) -> None:
    assert web_url_for(api) == web


def test_urls_for_user_and_org() -> None:
    assert new_app_url("https://github.com", None, "s") == "https://github.com/settings/apps/new?state=s"
    assert new_app_url("https://github.com", "acme", "s") == (
        "https://github.com/organizations/acme/settings/apps/new?state=s")
    assert install_url("https://github.com", "crew") == "https://github.com/apps/crew/installations/new"


def test_manifest_is_app_yml_with_our_urls() -> None:
    text = (ROOT / "app.yml").read_text()
    data = manifest(text, "https://crew.example.com/", "http://127.0.0.1:3000/callback")
    source = yaml.safe_load(text)
    assert data["hook_attributes"] == {"url": "https://crew.example.com/webhooks", "active": True}
    assert data["redirect_url"] == "http://127.0.0.1:3000/callback"
    assert data["default_permissions"] == source["default_permissions"]
    assert data["default_events"] == source["default_events"]
    with pytest.raises(RegistrationError, match="no `name`"):
        manifest("description: x\n", "https://a", "http://b")


def test_public_url_warnings() -> None:
    assert check_public_url("https://crew.example.com") is None
    assert "not HTTPS" in (check_public_url("http://crew.example.com") or "")
    assert "not public" in (check_public_url("https://localhost:3000") or "")
    with pytest.raises(RegistrationError, match="not an http"):
        check_public_url("crew.example.com")


def test_merge_env_keeps_other_lines_and_replaces_ours() -> None:
    old = "# mine\nLOG_LEVEL=DEBUG\nexport APP_ID=1\nAPP_ID=2\n"
    assert merge_env(old, {"APP_ID": "9", "APP_SLUG": "crew"}) == (
        "# mine\nLOG_LEVEL=DEBUG\nAPP_ID=9\nAPP_SLUG=crew\n")


def test_write_credentials_private_and_validated(tmp_path: Path, private_key_pem: str) -> None:
    env = tmp_path / ".env"
    env.write_text("REDIS_URL=redis://x\n")
    env.chmod(0o644)
    conv = {"id": 42, "slug": "my-crew", "pem": private_key_pem, "webhook_secret": "w"}
    values = write_credentials(conv, env, "https://api.github.com")
    assert values == {"APP_ID": "42", "APP_SLUG": "my-crew", "WEBHOOK_SECRET": "w",
                      "PRIVATE_KEY_PATH": ".shipcrew/my-crew.private-key.pem"}
    assert env.read_text().startswith("REDIS_URL=redis://x\nAPP_ID=42\n")
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    key = tmp_path / values["PRIVATE_KEY_PATH"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.read_text() == private_key_pem
    for bad in ({**conv, "slug": "../../etc"}, {**conv, "pem": "nope"}, {"id": 1}):
        with pytest.raises(RegistrationError):
            write_credentials(bad, env, "https://api.github.com")

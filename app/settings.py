"""Process settings from the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

GITHUB_API_URL = "https://api.github.com"


class SettingsError(RuntimeError):
    """A missing or malformed setting; the message names it in one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    app_id: int | None = None
    private_key: SecretStr | None = None
    private_key_path: Path | None = None
    webhook_secret: SecretStr | None = None
    github_api_url: str = GITHUB_API_URL
    redis_url: str | None = None
    log_level: str = "INFO"
    state_dir: Path = Path(".shipcrew")
    app_slug: str | None = Field(default=None, description="the App's slug; its bot is <slug>[bot]")
    openai_api_key: SecretStr | None = None
    status_token: SecretStr | None = None  # the status page off loopback (app/web)
    openai_base_url: str | None = None
    openai_model: str | None = None
    # how often the leader reads GitHub's delivery log for webhooks that never got through
    delivery_recovery_interval: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        self.log_level = self.log_level.upper()
        if self.log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"LOG_LEVEL: unknown level {self.log_level!r}")
        if not self.github_api_url.startswith(("http://", "https://")):
            raise ValueError("GITHUB_API_URL: must be an http(s) URL")
        self.github_api_url = self.github_api_url.rstrip("/")
        return self

    @property
    def bot_login(self) -> str | None:
        return f"{self.app_slug}[bot]" if self.app_slug else None

    def private_key_pem(self) -> str:
        if self.private_key is not None:
            # A PEM pasted into an env var often has literal "\n" sequences.
            return self.private_key.get_secret_value().replace("\\n", "\n")
        if self.private_key_path is not None:
            try:
                return self.private_key_path.read_text()
            except OSError as exc:
                raise SettingsError(
                    f"PRIVATE_KEY_PATH: cannot read {self.private_key_path}: {exc.strerror}"
                ) from None
        raise SettingsError("PRIVATE_KEY or PRIVATE_KEY_PATH: not set")

    def require_app(self) -> None:
        """Fail with one clear line unless everything the App needs is set."""
        if self.app_id is None:
            raise SettingsError("APP_ID: not set")
        if self.webhook_secret is None or not self.webhook_secret.get_secret_value():
            raise SettingsError("WEBHOOK_SECRET: not set")
        pem = self.private_key_pem()
        if "PRIVATE KEY" not in pem:
            raise SettingsError("PRIVATE_KEY: not a PEM private key")


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"]).upper() or "settings"
        raise SettingsError(f"{name}: {err['msg']}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()

"""GitHub access: App JWT -> per-installation clients, through githubkit.

githubkit caches each installation token until a minute before it expires; with Redis
configured the tokens live there (`RedisTokens`), shared by every worker process and kept
apart from the clients. Clients are kept per installation in a bounded LRU (`MAX_CLIENTS`),
all sharing one SSL context. Clients are built by a factory that jobs receive, so tests
point it at the emulator's URL.
"""

from __future__ import annotations

import base64
import logging
import os
import ssl
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import Any, NoReturn

import redis
from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub
from githubkit.cache import BaseCache, BaseCacheStrategy
from githubkit.exception import CacheUnsupportedError, RateLimitExceeded, RequestFailed
from githubkit.retry import RetryServerError
from githubkit.typing import RetryOption
from pydantic import BaseModel

from app.settings import Settings, get_settings

ClientFactory = Callable[[int], GitHub[Any]]
log = logging.getLogger(__name__)


MAX_INLINE_WAIT = timedelta(seconds=10)
_server_errors = RetryServerError(max_retry=2)


def _retry(exc: Any, count: int) -> RetryOption:
    """Short waits happen in the job; a long Retry-After raises, and RQ retries the job
    later (app.queue.is_transient) instead of holding a worker for a minute."""
    if isinstance(exc, RateLimitExceeded):
        wait = exc.retry_after
        return RetryOption(count < 1 and wait <= MAX_INLINE_WAIT, wait)
    return _server_errors(exc, count)


MAX_CLIENTS = 32  # per process; a dropped client costs a new one, never a new token
TOKEN_PREFIX = "shipcrew:gh-token:"


@cache
def shared_ssl_context() -> ssl.SSLContext:
    """One verifying context per process (each costs ~0.8 MB and ~30 ms to build)."""
    import certifi

    cafile = os.environ.get("SSL_CERT_FILE") or certifi.where()  # as httpx's trust_env
    return ssl.create_default_context(cafile=cafile, capath=os.environ.get("SSL_CERT_DIR"))


class _RedisCache(BaseCache):
    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    def get(self, key: str) -> str | None:
        value = self.conn.get(TOKEN_PREFIX + key)
        return value.decode() if isinstance(value, bytes) else value

    def set(self, key: str, value: str, ex: timedelta) -> None:
        seconds = int(ex.total_seconds())
        if seconds >= 1:  # a token about to expire is simply not kept
            self.conn.set(TOKEN_PREFIX + key, value, ex=seconds)


class RedisTokens(BaseCacheStrategy):
    """githubkit's token cache (installation tokens, the App JWT) in Redis."""

    def __init__(self, conn: redis.Redis) -> None:
        self.storage = _RedisCache(conn)

    def get_cache_storage(self) -> BaseCache:
        return self.storage

    async def get_async_cache_storage(self) -> NoReturn:
        raise CacheUnsupportedError("shipcrew uses the sync client only")

    def get_hishel_storage(self) -> NoReturn:
        raise CacheUnsupportedError("http_cache is off")

    async def get_async_hishel_storage(self) -> NoReturn:
        raise CacheUnsupportedError("http_cache is off")


class GitHubApp:
    """Builds clients for the App (JWT) and for each installation (token)."""

    def __init__(self, settings: Settings, max_clients: int = MAX_CLIENTS) -> None:
        settings.require_app()
        self.settings = settings
        self._pem = settings.private_key_pem()
        self._lock = threading.Lock()
        self._clients: OrderedDict[int, GitHub[Any]] = OrderedDict()
        self.max_clients = max_clients
        self._tokens = RedisTokens(redis.Redis.from_url(settings.redis_url)) \
            if settings.redis_url else None

    def _options(self) -> dict[str, Any]:
        extra = {"cache_strategy": self._tokens} if self._tokens else {}
        return {
            **extra,
            "ssl_verify": shared_ssl_context(),
            "base_url": self.settings.github_api_url + "/",
            "http_cache": False,  # a stale PR or ref is worse than one more request
            "auto_retry": _retry,
            "timeout": 30.0,
            "user_agent": "shipcrew",
        }

    def app_client(self) -> GitHub[Any]:
        return GitHub(AppAuthStrategy(str(self.settings.app_id), self._pem), **self._options())

    def installation(self, installation_id: int) -> GitHub[Any]:
        evicted: list[GitHub[Any]] = []
        with self._lock:
            client = self._clients.get(installation_id)
            if client is None:
                auth = AppInstallationAuthStrategy(
                    str(self.settings.app_id), self._pem, installation_id
                )
                client = self._clients[installation_id] = GitHub(auth, **self._options())
                while len(self._clients) > self.max_clients:
                    evicted.append(self._clients.popitem(last=False)[1])
            else:
                self._clients.move_to_end(installation_id)
        for old in evicted:
            old.__exit__(None, None, None)  # closes this thread's HTTP client, if open
        return _opened(client)


def _opened(client: GitHub[Any]) -> GitHub[Any]:
    """Keep one HTTP client (connection pool, TLS context) open per thread for the process.

    Outside `with gh:` githubkit builds a new HTTP client for every request, which costs
    ~20 ms of TLS set-up each time.
    """
    try:
        client.__enter__()
    except RuntimeError:  # "Cannot enter sync context twice": already open here
        pass
    return client


class AppIdentity(BaseModel):
    """Who we are on GitHub: check runs carry `app.id`, our bot is `<slug>[bot]`."""

    id: int
    slug: str

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


def read_identity(settings: Settings) -> AppIdentity | None:
    """`GET /app` with the App's JWT; None when GitHub does not answer it."""
    # Keep the client referenced: githubkit's `rest` holds it weakly ("GitHub client has
    # already been collected").
    gh = GitHubApp(settings).app_client()
    try:
        data = body(gh.rest.apps.get_authenticated())
    except Exception as exc:  # noqa: BLE001 - any failure leaves the identity unknown
        log.warning("could not read the App's identity (GET /app): %s", exc)
        return None
    if not isinstance(data, dict) or data.get("id") != settings.app_id or not data.get("slug"):
        log.warning("GET /app did not answer for APP_ID %s", settings.app_id)
        return None
    return AppIdentity(id=int(data["id"]), slug=str(data["slug"]))


_app: GitHubApp | None = None
_identity: AppIdentity | None = None


def own_identity() -> AppIdentity | None:
    """This process's App identity, learned once from GitHub (None while it cannot be)."""
    global _identity
    if _identity is None:
        _identity = read_identity(get_settings())
    return _identity


def client_for(installation_id: int) -> GitHub[Any]:
    """The default factory used by jobs: one App per process, from the settings."""
    global _app
    if _app is None:
        _app = GitHubApp(get_settings())
    return _app.installation(installation_id)


def reset() -> None:
    """Forget the process-wide App (after the settings changed)."""
    global _app, _identity
    _app = None
    _identity = None
    get_settings.cache_clear()


def read_file(gh: GitHub[Any], owner: str, repo: str, path: str, ref: str) -> str | None:
    """A file's text at `ref`, or None when it does not exist."""
    try:
        resp = gh.rest.repos.get_content(owner, repo, path, ref=ref)
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return None
        raise
    data = resp.json()
    if not isinstance(data, dict) or data.get("type") != "file":
        return None
    return base64.b64decode(str(data.get("content", ""))).decode("utf-8", errors="replace")


def body(resp: Any) -> Any:
    """A response's JSON, untyped: read leniently, only the fields we use."""
    return resp.json()

"""GitHub App identity and the two ways to authenticate: App JWT and installation token."""

from __future__ import annotations

import secrets
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.emulator.state import AppInfo, Installation, Store, Token

MAX_JWT_LIFETIME = 600
CLOCK_SKEW = 60


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def new_app(
    app_id: int | None = None, slug: str = "shipcrew-test", owner: str = "shipcrew"
) -> AppInfo:
    """A new App identity. The id is random so that clients caching installation tokens by
    (app id, installation id), as githubkit does, never reuse one from another emulator."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return AppInfo(
        id=app_id or 100000 + secrets.randbelow(900000),
        slug=slug,
        name=slug.replace("-", " ").title(),
        private_key_pem=private_pem,
        public_key_pem=public_pem,
        webhook_secret=secrets.token_hex(20),
        client_id="Iv1." + secrets.token_hex(8),
        client_secret=secrets.token_hex(20),
        owner=owner,
    )


def _credential(header: str | None) -> str:
    if not header:
        raise AuthError(401, "Requires authentication")
    scheme, _, value = header.partition(" ")
    if scheme.lower() not in ("bearer", "token") or not value.strip():
        raise AuthError(401, "Bad credentials")
    return value.strip()


def verify_jwt(store: Store, header: str | None) -> None:
    """Accept only an RS256 JWT signed with the App's key, iss = app id, ≤ 10 min lifetime."""
    raw = _credential(header)
    try:
        claims = jwt.decode(
            raw,
            store.app.public_key_pem,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"], "verify_iss": False},
            leeway=CLOCK_SKEW,
        )
    except jwt.ExpiredSignatureError as e:
        raise AuthError(401, "'Expiration time' claim ('exp') must be a future time") from e
    except jwt.InvalidTokenError as e:
        raise AuthError(401, f"A JSON web token could not be decoded ({e})") from e
    if str(claims["iss"]) != str(store.app.id):
        raise AuthError(401, "'Issuer' claim ('iss') must match the App ID")
    if claims["exp"] - claims["iat"] > MAX_JWT_LIFETIME + CLOCK_SKEW / 2 or (
        claims["exp"] > time.time() + MAX_JWT_LIFETIME + CLOCK_SKEW
    ):
        raise AuthError(
            401, "'Expiration time' claim ('exp') is too far in the future"
        )


def verify_token(store: Store, header: str | None) -> Installation:
    """An installation token that exists and has not expired (expired tokens: 401)."""
    raw = _credential(header)
    tok: Token | None = store.tokens.get(raw)
    if tok is None or tok.expires_at <= time.time():
        raise AuthError(401, "Bad credentials")
    inst = store.installations.get(tok.installation_id)
    if inst is None:
        raise AuthError(401, "Bad credentials")
    return inst


def user_of(store: Store, header: str | None) -> str | None:
    """The login behind a person's token (`ghp_...`, minted by the control API), else None."""
    try:
        raw = _credential(header)
    except AuthError:
        return None
    return store.user_tokens.get(raw)

"""Authentication like GitHub: App JWT rules, installation tokens, repository coverage."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from githubkit import GitHub

from tests.emulator.fixture import Emulator


def _jwt(emulator: Emulator, *, iss: object = None, life: int = 540, key: str | None = None,
         iat_offset: int = -30) -> str:
    now = int(time.time()) + iat_offset
    claims = {"iat": now, "exp": now + life, "iss": iss if iss is not None else
              emulator.credentials["app_id"]}
    # signed as raw JWS: PyJWT's encode() insists on a string `iss`, other clients send ints
    return jwt.api_jws.encode(json.dumps(claims).encode(),
                              key or emulator.credentials["private_key_pem"], algorithm="RS256")


def _other_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def test_app_jwt_rules(emulator: Emulator) -> None:
    def get_app(token: str, scheme: str = "Bearer") -> int:
        return emulator.http.get("/app", headers={"Authorization": f"{scheme} {token}"}) \
            .status_code

    assert get_app(_jwt(emulator)) == 200
    assert get_app(_jwt(emulator, iss=str(emulator.credentials["app_id"]))) == 200
    assert get_app(_jwt(emulator, iss=1)) == 401
    assert get_app(_jwt(emulator, life=3600)) == 401  # longer than 10 minutes
    assert get_app(_jwt(emulator, iat_offset=-900, life=300)) == 401  # expired
    assert get_app(_jwt(emulator, key=_other_key())) == 401
    assert get_app("not-a-jwt") == 401
    assert emulator.http.get("/app").status_code == 401


def test_installation_tokens_expire_and_cover_only_their_repos(
    app_gh: GitHub, emulator: Emulator, repo: dict
) -> None:
    other = emulator.create_repo("someone-else", "private", {"a": "b"})
    assert other["installation_id"] != repo["installation_id"]
    emulator.configure(token_ttl_seconds=1)
    tok = app_gh.rest.apps.create_installation_access_token(repo["installation_id"]).parsed_data
    assert tok.token.startswith("ghs_")
    with httpx.Client(base_url=emulator.url, timeout=10) as http:
        for scheme in ("token", "Bearer"):
            resp = http.get("/repos/octo/demo", headers={"Authorization": f"{scheme} {tok.token}"})
            assert resp.status_code == 200
        auth = {"Authorization": f"token {tok.token}"}
        assert http.get("/repos/someone-else/private", headers=auth).status_code == 404
        assert http.get("/repos/octo/missing", headers=auth).status_code == 404
        assert http.get("/repos/octo/demo", headers={"Authorization": "token ghs_bad"}) \
            .status_code == 401
        assert http.get("/repos/octo/demo").status_code == 401
        time.sleep(1.1)
        assert http.get("/repos/octo/demo", headers=auth).status_code == 401


def test_app_endpoints_refuse_installation_tokens(emulator: Emulator, token: str) -> None:
    assert emulator.http.get("/app", headers={"Authorization": f"token {token}"}) \
        .status_code == 401


@pytest.mark.parametrize("permission", [{"contents": "write"}, {"administration": "write"}])
def test_token_permissions_are_bounded_by_the_app(
    app_gh: GitHub, emulator: Emulator, repo: dict, permission: dict
) -> None:
    resp = emulator.http.post(
        f"/app/installations/{repo['installation_id']}/access_tokens",
        json={"permissions": permission},
        headers={"Authorization": f"Bearer {_jwt(emulator)}"},
    )
    granted = emulator.store.app.permissions
    expected = 201 if all(granted.get(k) == v for k, v in permission.items()) else 422
    assert resp.status_code == expected

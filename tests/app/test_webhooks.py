from __future__ import annotations

import json

import pytest

from app.webhooks import MAX_BODY_BYTES, Delivery, Rejection, parse_delivery, sign, verify_signature

SECRET = "s3cret"
BODY = json.dumps({"action": "opened", "installation": {"id": 7}}).encode()


def headers(body: bytes = BODY, **extra: str) -> dict[str, str]:
    h = {"x-github-event": "pull_request", "x-github-delivery": "d-1",
         "x-hub-signature-256": sign(body, SECRET)}
    h.update(extra)
    return h


def test_valid_delivery_is_parsed() -> None:
    d = parse_delivery(headers(), BODY, SECRET)
    assert isinstance(d, Delivery)
    assert (d.id, d.event, d.action, d.installation_id) == ("d-1", "pull_request", "opened", 7)


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=",
        "sha256=deadbeef",
        sign(BODY, "other-secret"),
        sign(BODY, SECRET)[:-2],  # truncated
        sign(BODY, SECRET).replace("sha256=", "sha1="),  # wrong algorithm prefix
        sign(BODY, SECRET).upper(),
    ],
)
def test_bad_signatures_are_401(signature: str | None) -> None:
    h = headers()
    if signature is None:
        del h["x-hub-signature-256"]
    else:
        h["x-hub-signature-256"] = signature
    result = parse_delivery(h, BODY, SECRET)
    assert isinstance(result, Rejection) and result.status == 401


def test_signature_covers_every_byte() -> None:
    tampered = BODY.replace(b"7", b"8")
    assert not verify_signature(tampered, sign(BODY, SECRET), SECRET)


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"", 400), (b"{not json", 400), (b"[1, 2]", 400), (b'"text"', 400), (b"\xff\xfe", 400)],
)
def test_malformed_bodies_are_400(body: bytes, status: int) -> None:
    result = parse_delivery(headers(body), body, SECRET)
    assert isinstance(result, Rejection) and result.status == status


@pytest.mark.parametrize("missing", ["x-github-event", "x-github-delivery"])
def test_missing_github_headers_are_400(missing: str) -> None:
    h = headers()
    del h[missing]
    result = parse_delivery(h, BODY, SECRET)
    assert isinstance(result, Rejection) and result.status == 400


def test_oversize_body_is_413_before_anything_else() -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    result = parse_delivery({}, body, SECRET)
    assert isinstance(result, Rejection) and result.status == 413


def test_every_header_read_is_one_the_endpoint_decodes() -> None:
    import re
    from pathlib import Path

    from app import webhooks

    source = Path(webhooks.__file__).read_text()
    read = set(re.findall(r'headers\.get\("([^"]+)"', source))
    assert read and {name.encode() for name in read} <= webhooks.READ_HEADERS

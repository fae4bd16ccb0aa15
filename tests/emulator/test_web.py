"""The emulator's web pages: the manifest flow's confirm page and redirect, the install page."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from tests.emulator.fixture import Emulator

MANIFEST = {"name": "crew", "url": "https://example.com", "redirect_url": "http://127.0.0.1:9/cb?x=1",
            "hook_attributes": {"url": "https://crew.example.com/webhooks"},
            "default_permissions": {"checks": "write"}, "default_events": ["pull_request"]}


def test_manifest_confirm_redirect_and_conversion(emulator: Emulator) -> None:
    page = emulator.http.post("/organizations/acme/settings/apps/new", params={"state": "s1"},
                              data={"manifest": json.dumps(MANIFEST)})
    assert page.status_code == 200 and "For organization acme" in page.text
    assert "checks: write" in page.text
    assert "action='/organizations/acme/settings/apps/new/create'" in page.text
    done = emulator.http.post("/organizations/acme/settings/apps/new/create",
                              data={"manifest": json.dumps(MANIFEST), "state": "s1",
                                    "name": "renamed"})
    assert done.status_code == 302
    target = urlsplit(done.headers["location"])
    query = parse_qs(target.query)
    assert target.netloc == "127.0.0.1:9" and query["x"] == ["1"] and query["state"] == ["s1"]
    conv = emulator.http.post(f"/app-manifests/{query['code'][0]}/conversions")
    assert conv.status_code == 201 and conv.json()["name"] == "renamed"
    assert emulator.store.webhook_url == "https://crew.example.com/webhooks"


def test_a_bad_manifest_is_named(emulator: Emulator) -> None:
    for manifest, why in (("{", "not valid JSON"),
                          (json.dumps({**MANIFEST, "redirect_url": "javascript:x"}),
                           "redirect_url must be an http(s) URL"),
                          (json.dumps({**MANIFEST, "hook_attributes": {}}),
                           "hook_attributes.url")):
        page = emulator.http.post("/settings/apps/new", data={"manifest": manifest})
        assert page.status_code == 422 and why in page.text


def test_install_page_installs_only_uncovered_repositories(emulator: Emulator) -> None:
    emulator.control("POST", "/repos", {"owner": "octo", "name": "a", "files": {"x": "1\n"},
                                        "install": False})
    emulator.create_repo("octo", "covered", {"x": "1\n"})
    slug = emulator.store.app.slug
    assert emulator.http.get("/apps/nope/installations/new").status_code == 404
    page = emulator.http.get(f"/apps/{slug}/installations/new")
    assert "octo/a" in page.text and "octo/covered" not in page.text
    done = emulator.http.post(f"/apps/{slug}/installations/new", data={"repo": ["octo/a"]})
    assert done.status_code == 200 and "octo/a" in done.text
    added = [d for d in emulator.deliveries() if d["event"] == "installation_repositories"]
    assert [d["payload"]["repositories_added"][0]["full_name"] for d in added] == ["octo/a"]
    assert "Every repository" in emulator.http.get(f"/apps/{slug}/installations/new").text

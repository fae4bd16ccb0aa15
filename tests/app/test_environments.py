"""`shipcrew environments plan|apply`: through the CLI, against the emulator, with an admin's
token (the App itself has no `administration` permission)."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.config import EnvironmentConfig, RepoConfig, Reviewers
from app.environments import EnvState, desired, diff
from tests.emulator.fixture import Emulator, emulator  # noqa: F401 - pytest fixture

CONFIG = """environments:
  staging:
    branches: [main]
  production:
    branches: [main]
    reviewers: {users: [maya], teams: [sre], wait_timer: 5}
"""


def _cli(emu: Emulator, capsys: pytest.CaptureFixture[str], token: str,
         *args: str) -> tuple[int, str]:
    code = main(["environments", *args, "acme/shop", "--token", token, "--api-url",
                 emu.url, "--app-id", str(emu.store.app.id), "--app-slug", emu.store.app.slug])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_plan_then_apply_is_idempotent_and_only_adds(
        emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    emulator.create_repo("acme", "shop", {".github/shipcrew.yml": CONFIG}, org=True)
    emulator.control("POST", "/orgs/acme/teams/sre/members", {"user": "sam"})
    emulator.control("POST", "/repos/acme/shop/collaborators",
                     {"user": "maya", "permission": "maintain"})
    emulator.control("POST", "/repos/acme/shop/environments",  # set by hand before
                     {"name": "production", "reviewers": [{"type": "User", "login": "lee"}],
                      "protection_rule": False})
    admin = emulator.control("POST", "/users/acme/tokens")["token"]

    code, out = _cli(emulator, capsys, admin, "plan")
    assert code == 0, out
    assert out.splitlines() == [
        "9 change(s) to apply to acme/shop",
        "+ staging: create", "+ staging: branch main", "+ staging: protection_rule shipcrew",
        "+ production: reviewer user:maya", "+ production: reviewer team:sre",
        "+ production: prevent_self_review true", "+ production: wait_timer 0 → 5 min",
        "+ production: branch main", "+ production: protection_rule shipcrew"]
    assert [e["name"] for e in emulator.state("acme", "shop")["environments"]] == [
        "production"]  # plan changes nothing

    code, out = _cli(emulator, capsys, admin, "apply")
    assert code == 0 and out.startswith("9 change(s) applied"), out
    envs = {e["name"]: e for e in emulator.state("acme", "shop")["environments"]}
    assert envs["production"]["reviewers"] == [  # lee, added by hand, stays
        {"type": "User", "login": "lee"}, {"type": "User", "login": "maya"},
        {"type": "Team", "slug": "sre"}]
    assert envs["production"]["prevent_self_review"] is True
    assert envs["production"]["wait_timer"] == 5
    assert envs["staging"]["branch_policies"] == envs["production"]["branch_policies"] == [
        "main"]
    assert envs["staging"]["custom_rules"] == [emulator.store.app.id]

    code, out = _cli(emulator, capsys, admin, "apply")
    assert (code, out.strip()) == (0, "acme/shop: environments are up to date")


def test_without_an_admin_token_it_says_so(emulator: Emulator,  # noqa: F811
                                           capsys: pytest.CaptureFixture[str]) -> None:
    emulator.create_repo("acme", "shop", {".github/shipcrew.yml": CONFIG}, org=True)
    emulator.control("POST", "/repos/acme/shop/collaborators",
                     {"user": "maya", "permission": "write"})
    token = emulator.control("POST", "/users/maya/tokens")["token"]
    code, out = _cli(emulator, capsys, token, "apply")
    assert code == 1 and "GitHub answered 403 (an admin's token is needed)" in out


def test_diff_json_shape() -> None:
    config = RepoConfig(environments={"production": EnvironmentConfig(
        reviewers=Reviewers(users=["maya"], prevent_self_review=False))})
    want = desired(config)[0]
    have = EnvState(name="production", reviewers=["user:maya"], protection_rule=True)
    assert diff(want, have) == []
    assert [json.loads(c.model_dump_json())["what"] for c in diff(want, None)] == [
        "create", "reviewer", "protection_rule"]

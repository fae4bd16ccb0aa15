"""App auth against the emulator: JWT -> installation token, cached until a minute
before it expires, and per-installation clients."""

from __future__ import annotations

import time

import pytest
from githubkit.exception import RateLimitExceeded

from app import github
from app.queue import is_transient
from tests.e2e.conftest import Crew


def token_requests(crew: Crew) -> int:
    return sum(1 for r in crew.emulator.requests()
               if r["method"] == "POST" and r["path"].endswith("/access_tokens"))


def test_token_is_reused_until_a_minute_before_expiry(crew: Crew) -> None:
    emu = crew.emulator
    repo = emu.create_repo("octo", "tok", {"a.txt": "a\n"})
    gh = github.client_for(repo["installation_id"])
    for _ in range(3):
        assert gh.rest.repos.get("octo", "tok").parsed_data.full_name == "octo/tok"
    assert token_requests(crew) == 1
    assert github.client_for(repo["installation_id"]) is gh


def test_short_lived_tokens_are_renewed(crew: Crew) -> None:
    emu = crew.emulator
    emu.configure(token_ttl_seconds=59)  # already inside the last minute when issued
    repo = emu.create_repo("octo", "short", {"a.txt": "a\n"})
    gh = github.client_for(repo["installation_id"])
    for _ in range(3):
        gh.rest.repos.get("octo", "short")
    assert token_requests(crew) == 3
    assert all(r["status"] < 400 for r in emu.requests())


def test_a_long_rate_limit_wait_is_left_to_the_queue(crew: Crew) -> None:
    emu = crew.emulator
    repo = emu.create_repo("octo", "flaky", {"a.txt": "a\n"})
    gh = github.client_for(repo["installation_id"])
    gh.rest.repos.get("octo", "flaky")  # token fetched before the faults start
    emu.faults(secondary_rate_limit=0, secondary_status=429)  # Retry-After: 60
    started = time.monotonic()
    with pytest.raises(RateLimitExceeded) as caught:
        gh.rest.repos.get("octo", "flaky")
    assert time.monotonic() - started < 5  # no minute-long sleep inside a worker
    assert is_transient(caught.value)  # so RQ retries the job later


def test_tokens_are_shared_by_processes_and_outlive_evicted_clients(crew: Crew) -> None:
    emu = crew.emulator
    repos = [emu.create_repo(f"tenant{i}", "svc", {"a.txt": "a\n"}) for i in range(3)]
    first = github.GitHubApp(crew.settings, max_clients=2)  # two worker processes
    second = github.GitHubApp(crew.settings, max_clients=2)
    for app in (first, second):
        for r in repos:
            owner = r["full_name"].split("/")[0]
            app.installation(r["installation_id"]).rest.repos.get(owner, "svc")
    assert token_requests(crew) == 3  # one per installation, not per process
    assert len(first._clients) == 2  # bounded: the least recently used one was dropped
    assert repos[0]["installation_id"] not in first._clients
    again = first.installation(repos[0]["installation_id"])
    again.rest.repos.get("tenant0", "svc")
    assert token_requests(crew) == 3  # a new client, the same token
    assert first.installation(repos[2]["installation_id"]).config.ssl_verify is (
        second.installation(repos[1]["installation_id"]).config.ssl_verify)

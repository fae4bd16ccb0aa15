"""The chaos run (bench/chaos.py) with a smaller dose, and the count it prints."""

from __future__ import annotations

import shutil

import pytest

from bench import chaos
from bench._chaos_count import Ask, Pr, count

BOT = "shipcrew[bot]"


def _state(runs: list[tuple[str, str, str]], comments: list[str], reactions: int) -> dict:
    return {
        "pulls": [{"number": 1, "head_sha": "c2"}],
        "commits": [{"sha": "c2", "author": BOT, "parents": ["h1"]},
                    {"sha": "h1", "author": "alice", "parents": ["base"]}],
        "check_runs": [{"name": n, "head_sha": h, "status": s} for n, h, s in runs],
        "comments": [{"issue_number": 1, "user": BOT, "body": b} for b in comments],
        "reactions": [{"comment_id": 9, "user": BOT, "content": "eyes"}] * reactions,
    }


def test_the_count_finds_lost_duplicated_and_stuck_outcomes() -> None:
    prs, asks = [Pr("o/r", 1)], [Ask("o/r", 1, 9, "tok-1")]
    good = _state([("shipcrew / policy", "c2", "completed"),
                   ("shipcrew / pipeline", "h1", "completed")], ["> `/crew why tok-1` done"], 1)
    assert count(prs, asks, {"o/r": good}, BOT).line() == \
        "lost 0 / duplicated 0 / stuck 0 of 4 expected"
    bad = _state([("shipcrew / policy", "c2", "completed"),
                  ("shipcrew / policy", "c2", "completed"),  # the verdict twice
                  ("shipcrew / pipeline", "h1", "in_progress")],  # spinning, so also lost
                 ["⏳ working on `/crew why` tok-1"], 0)
    tally = count(prs, asks, {"o/r": bad}, BOT)
    assert (tally.lost, tally.duplicated, tally.stuck) == (2, 1, 2)


needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="needs redis-server")


# A chaos run is up to --seconds of faults plus --settle (about 2 minutes): more than the
# suite's default timeout. Sockets of the killed processes' peers may be collected late.
chaos_run = pytest.mark.timeout(300)
quiet_sockets = pytest.mark.filterwarnings("ignore::ResourceWarning",
                                           "ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.mark.slow
@needs_redis
@chaos_run
@quiet_sockets
def test_a_small_dose_of_every_fault_loses_and_repeats_nothing(capsys) -> None:
    code = chaos.main(["--seed", "3", "--faults", "all", "--seconds", "35", "--repos", "4",
                       "--events", "28", "--settle", "90"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "lost 0 / duplicated 0 / stuck 0 of" in out


@pytest.mark.slow
@needs_redis
@chaos_run
@quiet_sockets
def test_a_verdict_posted_twice_is_counted_as_duplicated(capsys) -> None:
    code = chaos.main(["--seed", "4", "--faults", "none", "--seconds", "8", "--repos", "2",
                       "--events", "4", "--settle", "40", "--break", "double-verdict"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "duplicated 0" not in out and "shipcrew / policy x2" in out

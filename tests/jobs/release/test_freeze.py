from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.config import Freeze
from jobs.release.freeze import (
    active_window,
    active_windows,
    check_freeze,
    parse_cron,
    parse_duration,
    window_at,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(*args: int, tz: ZoneInfo | None = None) -> datetime:
    return datetime(*args, tzinfo=tz or UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        (" 2D ", timedelta(days=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "0m", "1x", "h", "1.5h", "-1h", "400d", "1h foo"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parse_cron_fields() -> None:
    c = parse_cron("*/15 9-17/4 1,15 jan-mar mon-fri")
    assert c.minutes == {0, 15, 30, 45}
    assert c.hours == {9, 13, 17}
    assert c.days == {1, 15}
    assert c.months == {1, 2, 3}
    assert c.weekdays == {1, 2, 3, 4, 5}
    assert parse_cron("0 0 * * 7").weekdays == {0}  # 7 is Sunday too
    assert parse_cron("@daily") == parse_cron("0 0 * * *")


@pytest.mark.parametrize(
    "expr", ["* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8",
             "*/0 * * * *", "5-1 * * * *", "a * * * *", "* * * foo *", "１ * * * *"],
)
def test_parse_cron_rejects(expr: str) -> None:
    with pytest.raises(ValueError):
        parse_cron(expr)


def test_day_of_month_or_day_of_week_as_vixie_cron() -> None:
    both = parse_cron("0 0 13 * fri")  # the 13th OR any Friday
    assert both.matches_day(2026, 11, 13)  # a Friday the 13th
    assert both.matches_day(2026, 11, 20)  # a Friday
    assert both.matches_day(2026, 10, 13)  # a Tuesday the 13th
    assert not both.matches_day(2026, 11, 19)
    # A day field starting with * counts as unrestricted, so both must match: odd Fridays.
    star = parse_cron("0 0 */2 * fri")
    assert star.matches_day(2026, 11, 13)
    assert not star.matches_day(2026, 11, 20) and not star.matches_day(2026, 11, 15)


def test_check_freeze_collects_every_problem() -> None:
    problems = check_freeze(Freeze(cron="0 0 * *", duration="soon", timezone="Mars/Olympus"))
    assert len(problems) == 3
    assert check_freeze(Freeze(cron="0 18 * * 5", duration="2d", timezone="Europe/Berlin")) == []


WEEKEND = Freeze(cron="0 18 * * fri", duration="2d15h", timezone="Europe/Berlin")


@pytest.mark.parametrize(
    ("now", "active"),
    [
        (at(2026, 11, 20, 16, 59), False),  # Friday 17:59 in Berlin
        (at(2026, 11, 20, 17, 0), True),  # Friday 18:00 in Berlin: opens
        (at(2026, 11, 22, 12, 0), True),  # Sunday
        (at(2026, 11, 23, 7, 59), True),  # Monday 08:59 in Berlin
        (at(2026, 11, 23, 8, 0), False),  # Monday 09:00: closed (end is exclusive)
        (at(2026, 11, 25, 12, 0), False),
    ],
)
def test_weekend_freeze(now: datetime, active: bool) -> None:
    assert (window_at(WEEKEND, now) is not None) is active


def test_window_crossing_midnight() -> None:
    nightly = Freeze(cron="0 22 * * *", duration="10h", timezone="America/New_York")
    w = window_at(nightly, at(2026, 7, 2, 3, 0, tz=NEW_YORK))
    assert w is not None
    assert w.start == at(2026, 7, 1, 22, 0, tz=NEW_YORK)
    assert w.end == at(2026, 7, 2, 8, 0, tz=NEW_YORK)
    assert window_at(nightly, at(2026, 7, 2, 8, 0, tz=NEW_YORK)) is None
    assert window_at(nightly, at(2026, 7, 2, 21, 59, tz=NEW_YORK)) is None


def test_duration_is_wall_clock_across_spring_forward() -> None:
    # Berlin springs forward on 2026-03-29 at 02:00 -> 03:00.
    w = window_at(WEEKEND, at(2026, 3, 29, 12, 0))
    assert w is not None
    assert w.start == at(2026, 3, 27, 18, 0, tz=BERLIN)
    assert w.end == at(2026, 3, 30, 9, 0, tz=BERLIN)
    assert w.end - w.start == timedelta(days=2, hours=14)  # one hour was skipped
    assert window_at(WEEKEND, at(2026, 3, 30, 6, 59)) is not None  # 08:59 CEST
    assert window_at(WEEKEND, at(2026, 3, 30, 7, 0)) is None  # 09:00 CEST


def test_duration_is_wall_clock_across_fall_back() -> None:
    # Berlin falls back on 2026-10-25 at 03:00 -> 02:00.
    w = window_at(WEEKEND, at(2026, 10, 25, 12, 0))
    assert w is not None
    assert w.end - w.start == timedelta(days=2, hours=16)
    assert w.end == at(2026, 10, 26, 8, 0)


def test_start_in_the_spring_gap_opens_when_the_clock_jumps() -> None:
    gap = Freeze(cron="30 2 * * *", duration="1h", timezone="Europe/Berlin")
    w = window_at(gap, at(2026, 3, 29, 1, 45))  # 03:45 CEST
    assert w is not None
    assert w.start == at(2026, 3, 29, 1, 30)  # 03:30 CEST, when 02:30 "would have been"
    assert window_at(gap, at(2026, 3, 29, 0, 59)) is None  # 01:59 CET: not yet


def test_ambiguous_start_opens_once_at_its_first_occurrence() -> None:
    fold = Freeze(cron="30 2 * * *", duration="20m", timezone="Europe/Berlin")
    first = at(2026, 10, 25, 0, 30)  # 02:30 CEST
    second = at(2026, 10, 25, 1, 30)  # 02:30 CET
    assert window_at(fold, first + timedelta(minutes=5)) is not None
    assert window_at(fold, second + timedelta(minutes=5)) is None


def test_active_window_picks_the_one_that_ends_last() -> None:
    short = Freeze(cron="0 12 * * *", duration="1h", reason="lunch")
    long = Freeze(cron="0 11 * * *", duration="3h", action="hold", reason="release train")
    found = active_window([short, long], at(2026, 11, 20, 12, 30))
    assert found is not None
    freeze, start, end = found
    assert freeze.reason == "release train"
    assert (start, end) == (at(2026, 11, 20, 11, 0), at(2026, 11, 20, 14, 0))
    assert len(active_windows([short, long], at(2026, 11, 20, 12, 30))) == 2
    assert active_window([short, long], at(2026, 11, 20, 15, 0)) is None
    assert active_window([], at(2026, 11, 20, 15, 0)) is None


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        window_at(WEEKEND, datetime(2026, 11, 21, 12, 0))


def test_latest_start_agrees_with_croniter() -> None:
    croniter = pytest.importorskip("croniter").croniter
    rng = random.Random(7)
    expressions = ["*/7 * * * *", "0 18 * * fri", "15 3 1,15 * *", "0 0 13 * 5",
                   "5 4 * 2 mon-wed", "0 */6 * * *", "59 23 31 * *", "0 9-17/2 * * 1-5"]
    for expr in expressions:
        for _ in range(25):
            now = at(2026, 1, 1) + timedelta(minutes=rng.randrange(0, 366 * 24 * 60))
            # A year-long window is open from the latest start, so its start is cron's "prev".
            w = window_at(Freeze(cron=expr, duration="366d"), now)
            # croniter's prev is strictly earlier; a window opening at `now` is open.
            expected = croniter(expr, now + timedelta(seconds=1)).get_prev(datetime)
            assert w is not None and w.start == expected, (expr, now)

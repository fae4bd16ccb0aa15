"""Freeze windows: a 5-field cron expression (when a window opens), a duration and a time zone.

Semantics, chosen so that a freeze reads the way people write it:
- The cron fields are matched on the wall clock of the freeze's IANA time zone. Day of month
  and day of week combine as in Vixie cron: when both are restricted, either may match.
- A start time that does not exist (spring forward gap) opens the window when the clock
  jumps, as cron does; an ambiguous one (fall back) opens it at its first occurrence.
- The duration is wall-clock time in that zone: `2d` from Friday 18:00 ends Sunday 18:00 even
  when the clocks change in between.
- All comparisons happen in UTC (Python compares same-zone datetimes by wall time).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

from app.config import Freeze

MAX_DURATION = timedelta(days=366)
_DURATION = re.compile(r"(\d+)\s*([mhdw])", re.ASCII)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_DAYS = "sun mon tue wed thu fri sat".split()
_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class Window(BaseModel):
    freeze: Freeze
    start: datetime  # UTC
    end: datetime  # UTC

    def describe(self) -> str:
        tz = ZoneInfo(self.freeze.timezone)
        fmt = "%Y-%m-%d %H:%M %Z"
        why = f" ({self.freeze.reason})" if self.freeze.reason else ""
        return f"freeze{why} from {self.start.astimezone(tz).strftime(fmt)} " \
               f"to {self.end.astimezone(tz).strftime(fmt)}"


def parse_duration(text: str) -> timedelta:
    """`30m`, `12h`, `2d`, `1w`, and combinations such as `1d12h` or `1h 30m`."""
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not parts or _DURATION.sub("", compact).strip():
        raise ValueError(f"duration {text!r}: use numbers with m, h, d or w, e.g. 30m, 12h, 1d12h")
    total = timedelta()
    for amount, unit in parts:
        total += timedelta(**{_UNITS[unit]: int(amount)})
    if not timedelta() < total <= MAX_DURATION:
        raise ValueError(f"duration {text!r}: must be more than 0 and at most 366 days")
    return total


class Cron(BaseModel):
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_star: bool
    weekdays_star: bool

    def matches_day(self, year: int, month: int, day: int) -> bool:
        if month not in self.months:
            return False
        weekday = (datetime(year, month, day).weekday() + 1) % 7
        dom, dow = day in self.days, weekday in self.weekdays
        if self.days_star or self.weekdays_star:
            return dom and dow
        return dom or dow


def parse_cron(expression: str) -> Cron:
    text = _MACROS.get(expression.strip().lower(), expression)
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"cron {expression!r}: needs 5 fields (minute hour day month weekday)")
    minute, hour, day, month, weekday = fields
    weekdays = _field(weekday, 0, 7, _DAYS, expression)
    return Cron(
        minutes=_field(minute, 0, 59, None, expression),
        hours=_field(hour, 0, 23, None, expression),
        days=_field(day, 1, 31, None, expression),
        months=_field(month, 1, 12, _MONTHS, expression, offset=1),
        weekdays=frozenset(d % 7 for d in weekdays),
        days_star=day.startswith("*"),
        weekdays_star=weekday.startswith("*"),
    )


def _field(
    text: str, low: int, high: int, names: list[str] | None, expr: str, offset: int = 0
) -> frozenset[int]:
    def value(token: str) -> int:
        token = token.lower()
        if names and token in names:
            return names.index(token) + offset
        if not token.isascii() or not token.isdigit():
            raise ValueError(f"cron {expr!r}: bad value {token!r}")
        number = int(token)
        if not low <= number <= high:
            raise ValueError(f"cron {expr!r}: {number} is outside {low}-{high}")
        return number

    result: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = value(step_text) if step_text else 1
        if step_text and step < 1:
            raise ValueError(f"cron {expr!r}: step must be at least 1")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = value(a), value(b)
            if first > last:
                raise ValueError(f"cron {expr!r}: range {base} runs backwards")
        else:
            first = value(base)
            last = high if step_text else first
        result.update(range(first, last + 1, step))
    return frozenset(result)


def check_freeze(freeze: Freeze) -> list[str]:
    """Problems with a freeze definition, for config validation and gate reasons."""
    problems = []
    for check in (lambda: parse_cron(freeze.cron), lambda: parse_duration(freeze.duration),
                  lambda: _zone(freeze.timezone)):
        try:
            check()
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"time zone {name!r} is not an IANA zone name") from exc


def _utc(local_naive: datetime, tz: ZoneInfo) -> datetime:
    # fold=0: a gap time maps forward past the jump, an ambiguous time to its first occurrence.
    return local_naive.replace(tzinfo=tz).astimezone(UTC)


def window_at(freeze: Freeze, now: datetime) -> Window | None:
    """The window of `freeze` open at `now` (the one that opened last), if any.

    Raises ValueError on an invalid freeze.
    """
    cron, duration, tz = parse_cron(freeze.cron), parse_duration(freeze.duration), _zone(
        freeze.timezone)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    local_now = now.astimezone(tz).replace(tzinfo=None)
    day = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    oldest = day - duration - timedelta(days=1)
    # The window that opened last closes last, so the latest start <= now decides.
    while day >= oldest:
        if cron.matches_day(day.year, day.month, day.day):
            for hour in sorted(cron.hours, reverse=True):
                for minute in sorted(cron.minutes, reverse=True):
                    local_start = day.replace(hour=hour, minute=minute)
                    start = _utc(local_start, tz)
                    if start > now:
                        continue
                    # Add from the wall time it really opened at (a gap start moved forward).
                    opened = start.astimezone(tz).replace(tzinfo=None)
                    end = _utc(opened + duration, tz)
                    return Window(freeze=freeze, start=start, end=end) if now < end else None
        day -= timedelta(days=1)
    return None


def active_windows(freezes: list[Freeze], now: datetime) -> list[Window]:
    """Every freeze window open at `now`. Raises ValueError on an invalid freeze."""
    return [w for f in freezes if (w := window_at(f, now)) is not None]


def active_window(freezes: list[Freeze], now: datetime) -> tuple[Freeze, datetime, datetime] | None:
    """The open window that closes last, as (freeze, start, end) in UTC, or None."""
    windows = active_windows(freezes, now)
    if not windows:
        return None
    w = max(windows, key=lambda w: w.end)
    return w.freeze, w.start, w.end

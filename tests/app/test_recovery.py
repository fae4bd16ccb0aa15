"""Which deliveries to ask GitHub for again (pure), and how its log is paged."""

from __future__ import annotations

from app.recovery import Attempt, next_cursor, to_redeliver


def a(id_: int, guid: str, code: int, status: str = "") -> Attempt:
    return Attempt(id_, guid, code, status or ("OK" if code == 200 else "failed"), float(id_))


def test_only_guids_that_never_got_through_and_whose_failure_can_heal() -> None:
    log = [
        a(1, "ok", 200),
        a(2, "down", 503), a(3, "down", 0, "Invalid HTTP Response: 0"),  # latest one counts
        a(4, "healed", 503), a(5, "healed", 202),
        a(6, "refused", 400),  # a deliberate 4xx: left alone
        a(7, "slow", 0, "pending"),  # still being attempted
        a(8, "busy", 429),
    ]
    assert [(x.guid, x.id) for x in to_redeliver(log)] == [("down", 3), ("busy", 8)]


def test_the_next_page_cursor_is_read_from_the_link_header() -> None:
    link = ('<https://api.github.com/app/hook/deliveries?per_page=100&cursor=v1_123>; '
            'rel="next"')
    assert next_cursor(link) == "v1_123"
    assert next_cursor('<https://x/app/hook/deliveries?cursor=9>; rel="prev"') is None
    assert next_cursor("") is None

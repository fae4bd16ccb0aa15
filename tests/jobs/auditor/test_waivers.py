from __future__ import annotations

from datetime import UTC, datetime

from jobs.auditor.waivers import waived_output
from jobs.release.gates import Waiver

AT = datetime(2026, 3, 4, tzinfo=UTC)


def _w(rule: str, user: str = "maya") -> Waiver:
    return Waiver(rule=rule, user=user, reason="legacy", at=AT)


def test_no_waiver_that_applies_changes_nothing() -> None:
    assert waived_output(["GHA001"], [_w("DKR001")], "s") is None


def test_a_partial_waiver_still_fails_and_says_what_is_left() -> None:
    conclusion, title, summary = waived_output(["GHA001", "DKR002"], [_w("gha001")], "orig")
    assert (conclusion, title) == ("failure", "Failed: 1 rule(s) not waived")
    assert summary.startswith("**Still failing**: `DKR002` (not waived).")
    assert "- `GHA001` waived by @maya: legacy" in summary and summary.endswith("orig")


def test_republishing_replaces_the_earlier_note() -> None:
    _, _, first = waived_output(["GHA001", "DKR002"], [_w("GHA001")], "orig")
    conclusion, title, second = waived_output(["GHA001", "DKR002"],
                                              [_w("GHA001"), _w("DKR002", "sam")], first)
    assert (conclusion, title) == ("success", "Passed with waivers: GHA001, DKR002")
    assert second.count("orig") == 1 and "Still failing" not in second

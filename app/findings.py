"""Findings and verdicts: the shared language of the auditor, the pipeline engineer and gates."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, Field


class Severity(StrEnum):
    HARD = "hard"  # a constraint: blocks when enforced
    SOFT = "soft"  # a policy a human should look at


class Mode(StrEnum):
    ENFORCE = "enforce"
    AUDIT = "audit"  # reported, never blocks


class Verdict(StrEnum):
    PASS = "pass"
    REVIEW = "review"
    FAIL = "fail"


class Fix(BaseModel):
    """A safe automatic edit a rule offers (`kind`, see jobs.auditor.fixes); `content` is the whole
    new text of `path` once it has been computed."""

    kind: str
    path: str
    description: str = ""
    content: str | None = None


class Finding(BaseModel):
    rule: str
    severity: Severity = Severity.HARD
    mode: Mode = Mode.ENFORCE
    path: str = ""
    line: int | None = None
    message: str
    recourse: str = ""
    fix: Fix | None = Field(default=None, exclude=True)

    def public(self) -> dict[str, object]:
        """The JSON shape of the CLI contract."""
        return self.model_dump(mode="json", include=_PUBLIC)


_PUBLIC = {"rule", "severity", "mode", "path", "line", "message", "recourse"}


def verdict_of(findings: Iterable[Finding]) -> Verdict:
    """fail on any enforced hard finding; review when a human must look; else pass."""
    verdict = Verdict.PASS
    for f in findings:
        if f.mode is Mode.AUDIT:
            continue
        if f.severity is Severity.HARD:
            return Verdict.FAIL
        verdict = Verdict.REVIEW
    return verdict

"""Findings and verdicts: the shared language of the auditor, the pipeline engineer and gates.

Plain dataclasses, not pydantic models: `shipcrew audit` builds no pydantic model at all when
the repository has no config (pydantic's import and first model cost more CPU than the audit
of a typical pull request). `model_copy` and `model_dump` keep the names callers know.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


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


@dataclass(kw_only=True)
class Fix:
    """A safe automatic edit a rule offers (`kind`, see jobs.auditor.fixes); `content` is the whole
    new text of `path` once it has been computed."""

    kind: str
    path: str
    description: str = ""
    content: str | None = None


@dataclass(kw_only=True)
class Finding:
    rule: str
    severity: Severity = Severity.HARD
    mode: Mode = Mode.ENFORCE
    path: str = ""
    line: int | None = None
    message: str
    recourse: str = ""
    fix: Fix | None = None  # not part of the public shape

    def __post_init__(self) -> None:  # "hard" and Severity.HARD alike, as pydantic did
        self.severity = Severity(self.severity)
        self.mode = Mode(self.mode)

    def model_copy(self, update: dict[str, Any] | None = None) -> Finding:
        return dataclasses.replace(self, **(update or {}))

    def model_dump(self) -> dict[str, Any]:
        """Every field but `fix` (as the pydantic model excluded it)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "fix"}

    def public(self) -> dict[str, object]:
        """The JSON shape of the CLI contract."""
        return {"rule": self.rule, "severity": self.severity.value, "mode": self.mode.value,
                "path": self.path, "line": self.line, "message": self.message,
                "recourse": self.recourse}


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

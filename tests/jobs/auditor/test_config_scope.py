"""`policies.exclude` and per-rule `paths`: scoped waivers, counted in the summary."""

from __future__ import annotations

from app.config import PoliciesConfig, parse_config
from jobs.auditor.core import audit_files, matches
from jobs.auditor.report import check_summary

KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"
FILES = {"tests/fixtures/tls/key.pem": KEY, "deploy/key.pem": KEY}


def _config(yaml: str) -> PoliciesConfig:
    config = parse_config(yaml)
    assert not hasattr(config, "problems"), config
    return config.policies  # type: ignore[union-attr]


def test_globs() -> None:
    assert matches("tests/fixtures/a/b.pem", ["tests/fixtures/**"]) == "tests/fixtures/**"
    assert matches("a/tests/fixtures/b.pem", ["tests/fixtures/**"]) is None
    assert matches("x/y/key.pem", ["**/*.pem"]) == "**/*.pem"
    assert matches("key.pem", ["**/*.pem"]) == "**/*.pem"
    assert matches("x/key.pem", ["*.pem"]) is None


def test_exclude_drops_findings_there_and_counts_them() -> None:
    config = _config("policies:\n  exclude: ['tests/fixtures/**']\n")
    result = audit_files(FILES, config=config)
    assert [(f.rule, f.path) for f in result.findings] == [("SEC001", "deploy/key.pem")]
    assert result.excluded == [
        "SEC001 in `tests/fixtures/tls/key.pem` (policies.exclude `tests/fixtures/**`): "
        "1 finding(s)"]
    _, summary = check_summary(result.findings, result.verdict, set(FILES),
                               excluded=result.excluded)
    assert "Excluded by `.github/shipcrew.yml`:" in summary
    assert "tests/fixtures/tls/key.pem" in summary


def test_a_rule_scoped_to_paths_is_waived_only_there() -> None:
    config = _config("policies:\n  rules:\n    SEC001: {mode: 'off', paths: ['tests/**']}\n")
    result = audit_files(FILES, config=config)
    assert [(f.rule, f.path, f.mode.value) for f in result.findings] == [
        ("SEC001", "deploy/key.pem", "enforce")]
    assert result.verdict.value == "fail"
    assert result.excluded == ["SEC001 in `tests/fixtures/tls/key.pem` "
                               "(policies.rules.SEC001.paths `tests/**`): 1 finding(s)"]
    audit = _config("policies:\n  rules:\n    SEC001: {mode: audit, paths: ['tests/**']}\n")
    modes = {f.path: f.mode.value for f in audit_files(FILES, config=audit).findings}
    assert modes == {"tests/fixtures/tls/key.pem": "audit", "deploy/key.pem": "enforce"}


def test_a_rule_turned_off_everywhere_is_counted_too() -> None:
    result = audit_files(FILES, config=_config("policies:\n  rules:\n    SEC001: 'off'\n"))
    assert result.findings == [] and len(result.excluded) == 2
    assert all("policies.rules.SEC001: off" in e for e in result.excluded)

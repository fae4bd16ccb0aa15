"""Findings rendered for people (text) and tools (json per the CLI contract, SARIF 2.1.0)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import quote

from app.findings import Finding, Mode, Severity, Verdict

FORMATS = ("text", "json", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
HELP_URI = "https://github.com/shipcrew/shipcrew/blob/main/policies/README.md"

# Short titles of the built-in rules (SARIF `shortDescription`); other rules use their message.
TITLES = {
    "GHA001": "Workflow token permissions missing or over-broad",
    "GHA002": "Action not pinned to a full commit SHA",
    "GHA003": "Privileged trigger checks out pull request head code",
    "GHA004": "Untrusted event text interpolated into a script",
    "GHA005": "Secrets echoed or exposed to fork pull requests",
    "DKR001": "Base image untagged or latest",
    "DKR002": "Final stage runs as root",
    "DKR003": "Remote code piped to a shell or ADD from a URL",
    "DKR004": "Secret in ENV or ARG",
    "DKR005": "Untrusted BuildKit frontend",
    "K8S001": "Privileged container",
    "K8S002": "Missing resource limits",
    "K8S003": "Host namespaces or hostPath volume",
    "K8S004": "Privilege escalation allowed or runAsNonRoot unset",
    "K8S005": "Chart ships no NetworkPolicy",
    "K8S006": "Image tag latest or none",
    "K8S007": "Missing liveness or readiness probe",
    "SEC001": "Credential in an added line",
    "PROV001": "Image published without SBOM and provenance",
    "INPUT001": "File could not be parsed",
    "INPUT002": "File too large to evaluate",
    "INPUT003": "Duplicate YAML key",
    "POLICY001": "Policy does not compile",
    "POLICY002": "Policy evaluation failed",
    "POLICY003": "Policy evaluation took too long",
    "CONFIG001": "Repo config invalid: team policies not applied",
}


def render(findings: Sequence[Finding], verdict: Verdict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"findings": [f.public() for f in findings], "verdict": verdict.value},
                          indent=2)
    if fmt == "sarif":
        return json.dumps(sarif(findings), indent=2)
    if fmt == "text":
        return text(findings, verdict)
    raise ValueError(f"unknown format {fmt!r}")


def text(findings: Sequence[Finding], verdict: Verdict) -> str:
    lines = []
    for f in findings:
        where = f"{f.path or '<change>'}:{f.line}" if f.line else (f.path or "<change>")
        tag = f"{f.severity.value}{'' if f.mode is Mode.ENFORCE else ', audit'}"
        lines.append(f"{where}: {f.rule} [{tag}] {f.message}")
        if f.recourse:
            lines.append(f"    fix: {f.recourse}")
    hard = sum(f.severity is Severity.HARD for f in findings)
    lines.append(f"{len(findings)} finding(s), {hard} hard, {len(findings) - hard} soft: "
                 f"verdict {verdict.value}")
    return "\n".join(lines)


def _level(f: Finding) -> str:
    if f.mode is Mode.AUDIT:
        return "note"
    return "error" if f.severity is Severity.HARD else "warning"


def sarif(findings: Sequence[Finding]) -> dict[str, object]:
    """SARIF 2.1.0 as GitHub code scanning reads it: one run, rules with help, located results."""
    rule_ids = sorted({f.rule for f in findings})
    first = {rid: next(f for f in findings if f.rule == rid) for rid in rule_ids}
    rules = [{
        "id": rid,
        "name": rid,
        "shortDescription": {"text": TITLES.get(rid, first[rid].message[:120])},
        "fullDescription": {"text": TITLES.get(rid, first[rid].message)},
        "help": {"text": first[rid].recourse or TITLES.get(rid, rid),
                 "markdown": first[rid].recourse or TITLES.get(rid, rid)},
        "helpUri": HELP_URI,
        "defaultConfiguration": {"level": _level(first[rid])},
        "properties": {"tags": ["security"], "severity": first[rid].severity.value},
    } for rid in rule_ids]
    results = []
    for f in findings:
        location = {"physicalLocation": {
            # A URI reference: spaces and non-ASCII characters percent-encoded (RFC 3986).
            "artifactLocation": {"uri": quote(f.path or ".github/shipcrew.yml", safe="/"),
                                 "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": max(f.line or 1, 1)},
        }}
        results.append({
            "ruleId": f.rule, "ruleIndex": rule_ids.index(f.rule), "level": _level(f),
            "message": {"text": f"{f.message}" + (f" Fix: {f.recourse}" if f.recourse else "")},
            "locations": [location],
            "properties": {"severity": f.severity.value, "mode": f.mode.value},
        })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "shipcrew", "informationUri": HELP_URI,
                                "version": "0.1.0", "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///"}},
            "results": results,
        }],
    }


# --- the `shipcrew / policy` check run (pure) ----------------------------------------------

CONCLUSIONS = {Verdict.PASS: "success", Verdict.REVIEW: "action_required",
               Verdict.FAIL: "failure"}
_TITLES = {Verdict.PASS: "No blocking findings", Verdict.REVIEW: "A human should review",
           Verdict.FAIL: "Blocked by policy"}


def annotation_level(f: Finding) -> str:
    if f.mode is Mode.AUDIT:
        return "notice"
    return "failure" if f.severity is Severity.HARD else "warning"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def check_summary(findings: Sequence[Finding], verdict: Verdict, changed: set[str],
                  notes: Sequence[str] = (), fixes: Sequence[str] = (),
                  policy_source: str = "", excluded: Sequence[str] = ()) -> tuple[str, str]:
    """Title and markdown summary: a table by rule in the PR's files (count, what to do),
    then findings in files the PR does not touch, summarized."""
    here = [f for f in findings if not f.path or f.path in changed]
    legacy = [f for f in findings if f.path and f.path not in changed]
    counts: dict[tuple[str, str, str], list[Finding]] = {}
    for f in here:
        counts.setdefault((f.rule, f.severity.value, f.mode.value), []).append(f)
    blocking = sum(f.mode is Mode.ENFORCE and f.severity is Severity.HARD for f in here)
    title = f"{_TITLES[verdict]}: {len(here)} finding(s)" if here else _TITLES[verdict]
    lines = [f"**Verdict: {verdict.value}** — {blocking} blocking, {len(here)} in this change."]
    if counts:
        lines += ["", "| Rule | What | Severity | Mode | Count | What to do |",
                  "|---|---|---|---|---|---|"]
        for (rule, sev, mode), group in sorted(counts.items()):
            what = TITLES.get(rule, group[0].message[:80])
            todo = group[0].recourse or "See the annotations."
            lines.append(f"| {rule} | {_cell(what)} | {sev} | {mode} | {len(group)} | "
                         f"{_cell(todo)} |")
    change_level = [f for f in here if not f.path]
    for f in change_level:
        lines.append(f"\n- **{f.rule}**: {f.message}" + (f" — {f.recourse}" if f.recourse
                                                           else ""))
    if fixes:
        lines += ["", "**Apply fixes** (button above, for people with write access) commits:"]
        lines += [f"- `{d}`" for d in fixes]
    if legacy:
        by_rule: dict[str, int] = {}
        for f in legacy:
            by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
        blocks = any(f.mode is Mode.ENFORCE and f.severity is Severity.HARD for f in legacy)
        lines += ["", f"{len(legacy)} finding(s) in files this pull request does not touch "
                  f"({'blocking: policies.legacy is block' if blocks else 'not blocking'}): "
                  + ", ".join(f"{r} ×{n}" for r, n in sorted(by_rule.items()))]
    if notes:
        lines += ["", "Not evaluated:"] + [f"- {n}" for n in notes]
    if excluded:
        lines += ["", "Excluded by `.github/shipcrew.yml`:"] + [f"- {_cell(e)}" for e in excluded]
    if policy_source:
        lines += ["", policy_source]
    return title, "\n".join(lines)


def annotation_message(f: Finding) -> str:
    text = f.message
    if f.recourse:
        text += f"\n\nFix: {f.recourse}"
    if f.fix is not None:
        text += "\n(Apply fixes can make this edit.)"
    if f.mode is Mode.AUDIT:
        text += "\n(audit mode: reported, not blocking)"
    return text

"""The crew offline (`shipcrew run PATH`): detect, generate what is missing, validate,
and audit the repository as it would be with the generated files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.config import CONFIG_PATH, ConfigError, RepoConfig, parse_config
from app.files import read_tree, write_tree
from app.findings import Verdict
from jobs.auditor.core import audit_files
from jobs.pipeline.plan import gate, plan_generation

_RANK = {Verdict.PASS: 0, Verdict.REVIEW: 1, Verdict.FAIL: 2}


class InputError(ValueError):
    """The checkout cannot be run as it is (e.g. a broken .github/shipcrew.yml)."""


def run_offline(root: Path, out: Path | None = None) -> dict[str, Any]:
    files = read_tree(root)
    config = parse_config(files.get(CONFIG_PATH))
    if isinstance(config, ConfigError):
        raise InputError(config.summary())
    plan, report = gate(plan_generation(files, config.generate))
    after = {**files, **plan.changes}
    audit = audit_files(after, policy_dirs=_policy_dirs(root, config), config=config.policies)
    verdict = audit.verdict if report.ok else Verdict.FAIL
    if out is not None:
        write_tree(out, plan.changes)
    return {
        "stacks": [s.model_dump(mode="json") for s in plan.stacks],
        "artifacts": [a.summary() for a in plan.artifacts],
        "findings": [f.public() for f in audit.findings],
        "verdict": str(max(verdict, audit.verdict, key=_RANK.__getitem__)),
        "validation": [r.model_dump(mode="json") for r in report.results if not r.ok],
        "notes": audit.notes,
    }


def _policy_dirs(root: Path, config: RepoConfig) -> list[Path]:
    dirs = [(root / d).resolve() for d in config.policies.dirs]
    outside = [d for d in dirs if not d.is_relative_to(root.resolve())]
    if outside:
        raise InputError(f"{CONFIG_PATH}: policies.dirs must stay inside the repository: "
                         f"{outside[0]}")
    return [d for d in dirs if d.is_dir()]


def render_text(result: dict[str, Any], out: Path | None = None) -> str:
    """Human output; without `out` it is a dry run and says so (nothing was written)."""
    lines = ["Stacks:"]
    for s in result["stacks"]:
        lines.append(f"  {s['path']}: {s['language']} {s['kind']}"
                     f"{' (' + s['framework'] + ')' if s.get('framework') else ''}")
    lines.append("Artifacts:")
    for a in result["artifacts"]:
        verb = a["action"] if out is not None or a["action"] == "skip" else f"would {a['action']}"
        lines.append(f"  {verb:<6} {a['path']}  ({a['reason']})")
    if result["validation"]:
        lines.append("Validation failures:")
        for v in result["validation"]:
            lines.append(f"  {v.get('tool')}: {v.get('path')}:{v.get('line') or ''} "
                         f"{v.get('message')}")
    lines.append("Findings:" if result["findings"] else "Findings: none")
    for f in result["findings"]:
        lines.append(f"  {f['rule']} {f['severity']}/{f['mode']} {f['path']}:{f['line'] or ''} "
                     f"{f['message']}")
    lines.append(f"Verdict: {result['verdict']}")
    writes = [a for a in result["artifacts"] if a["action"] != "skip"]
    if writes and out is None:
        lines.append(f"Dry run: nothing written. To write the {len(writes)} "
                     f"file{'s' if len(writes) != 1 else ''}: shipcrew run PATH --out DIR "
                     "(--out PATH writes into the checkout itself)")
    elif writes:
        lines.append(f"Wrote {len(writes)} file{'s' if len(writes) != 1 else ''} under {out}")
    return "\n".join(lines)

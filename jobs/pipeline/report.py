"""What the `shipcrew / pipeline` check run says (pure): what was detected and why, what was
generated or skipped and why, each validator's verdict, and the outcome."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from app.checks import Conclusion
from app.config import GenerateMode
from app.files import Files
from app.findings import Finding
from jobs.pipeline.overrides import snippet
from jobs.pipeline.plan import GenerationPlan
from jobs.pipeline.validate import ValidationReport

FENCE = "````"  # longer than any ``` a generated file might hold


@dataclass
class Outcome:
    status: str  # committed | pull_request | up_to_date | suggested | superseded | failed
    conclusion: Conclusion
    title: str
    commit: str | None = None
    pull_number: int | None = None
    notes: list[str] = field(default_factory=list)
    suggested: Files = field(default_factory=dict)


def _cell(text: object) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def stacks_table(plan: GenerationPlan) -> str:
    rows = ["| Project | Language | Kind | Framework | Port | Why |", "|---|---|---|---|---|---|"]
    for s in plan.stacks:
        rows.append("| " + " | ".join(_cell(v) for v in (
            f"`{s.path}` ({s.name})", s.language, s.kind, s.framework or s.build_tool,
            s.port, "; ".join(s.reasons))) + " |")
    return "\n".join(rows)


def undecided_section(plan: GenerationPlan) -> str | None:
    """What detection could not tell, the evidence it saw, and the answer to give once."""
    parts = []
    for s in plan.stacks:
        if not s.undecided:
            continue
        evidence = "\n".join(f"- {_cell(e)}" for e in s.evidence or s.reasons)
        parts.append(f"### `{_cell(s.path)}`: could not tell {_cell(s.undecided)}\n\n"
                     f"No image is generated for it (never a guessed one). What shipcrew saw:"
                     f"\n\n{evidence}\n\nAnswer once in `.github/shipcrew.yml` on the default "
                     f"branch:\n\n{FENCE}yaml\n{snippet(s)}\n{FENCE}")
    return "\n\n".join(parts) if parts else None


def warnings_section(plan: GenerationPlan) -> str | None:
    """What will not work as generated (a server bound to loopback), with where and the fix."""
    parts = [f"- `{_cell(s.path)}`: {_cell(w)}" for s in plan.stacks for w in s.warnings]
    return "\n".join(parts) if parts else None


def artifacts_table(plan: GenerationPlan) -> str:
    if not plan.artifacts:
        return "No artifacts: no project shipcrew knows how to build."
    rows = ["| File | Kind | Action | Reason |", "|---|---|---|---|"]
    for a in plan.artifacts:
        rows.append(f"| `{_cell(a.path)}` | {a.kind} | {a.action} | {_cell(a.reason)} |")
    return "\n".join(rows)


def validators_section(report: ValidationReport) -> str:
    by_tool: dict[str, list] = defaultdict(list)
    for r in report.results:
        by_tool[r.tool].append(r)
    if not by_tool:
        return "No generated files to validate."
    lines = []
    for tool in sorted(by_tool):
        results = by_tool[tool]
        errors = [r for r in results if not r.ok]
        took = report.timings.get(tool)
        timing = f" ({took:.2f} s)" if took is not None else ""
        files = len({r.path for r in results if r.path})
        verdict = f"{len(errors)} errors" if errors else "no errors"
        lines.append(f"- **{tool}**: {files} files, {verdict}{timing}")
        for r in errors:
            where = f"`{r.path}{f':{r.line}' if r.line else ''}`" if r.path else "(tool)"
            lines.append(f"  - {where}: {_cell(r.message)}")
    return "\n".join(lines)


def policies_section(findings: list[Finding]) -> str:
    if not findings:
        return "The auditor's policies found nothing in the generated files."
    return "\n".join(
        f"- **{f.rule}** ({f.severity.value}, {f.mode.value}) `{f.path}"
        f"{f':{f.line}' if f.line else ''}`: {_cell(f.message)}" for f in findings)


def suggestions(files: Files) -> str:
    parts = ["## Proposed files"]
    for path, text in sorted(files.items()):
        parts.append(f"### `{path}`\n\n{FENCE}\n{text.rstrip()}\n{FENCE}")
    return "\n\n".join(parts)


def check_output(plan: GenerationPlan, report: ValidationReport, outcome: Outcome,
                 mode: GenerateMode, fork: bool,
                 findings: list[Finding] | None = None) -> tuple[str, str, str]:
    """(title, summary, text) of the completed check run."""
    head = [f"**Mode**: `{mode.value}`{' (fork: suggestions only)' if fork else ''}"]
    if outcome.commit:
        head.append(f"**Commit**: {outcome.commit}")
    if outcome.pull_number:
        head.append(f"**Pull request**: #{outcome.pull_number}")
    head += outcome.notes
    undecided = undecided_section(plan)
    warnings = warnings_section(plan)
    summary = "\n\n".join([
        "\n\n".join(head),
        "## Detected\n\n" + stacks_table(plan),
        *([f"## Could not tell\n\n{undecided}"] if undecided else []),
        *([f"## Warnings\n\n{warnings}"] if warnings else []),
        "## Artifacts\n\n" + artifacts_table(plan),
        "## Validators\n\n" + validators_section(report),
        "## Policies\n\n" + policies_section(findings or []),
    ])
    text = suggestions(outcome.suggested) if outcome.suggested else ""
    return outcome.title, summary, text

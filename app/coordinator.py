"""Coordinator, pure core: classify a change, assign a risk tier, plan the crew's work.

Risk tier of a change = the highest tier of its files. A file's tier comes from the repo
config's `risk` globs when any matches (the highest matching tier wins, so config can raise
*or lower* a file, e.g. `risk.low: ["docs/**/*.sql"]`); otherwise from its kind: migrations,
infrastructure/charts and workflows are high, docs low, everything else medium. So a docs-only
change is low and an empty one is low.

Globs are gitignore-ish: `*` and `?` stay inside one path segment, `**` spans segments, a
pattern without a slash matches the file name at any depth, a leading `/` anchors to the repo
root, and a trailing `/` means everything under that directory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel

from app.config import GenerateMode, RepoConfig
from jobs.release.gates import TIERS, Gate, gates_for, is_production


class ChangeKind(StrEnum):
    DOCS = "docs"
    CONFIG = "config"
    APP = "app"
    DEPENDENCY = "dependency"
    MIGRATION = "migration"
    INFRA = "infra"
    WORKFLOW = "workflow"


class ChangedFile(BaseModel):
    path: str
    status: str = "modified"  # added | modified | removed | renamed | ...
    previous_filename: str | None = None


# First matching kind wins, so the order matters (requirements.txt is not docs).
DEFAULT_KINDS: list[tuple[ChangeKind, tuple[str, ...]]] = [
    (ChangeKind.WORKFLOW, (".github/workflows/**", ".github/actions/**")),
    (ChangeKind.MIGRATION, (
        "**/migrations/**", "**/*.sql", "**/alembic/**", "alembic.ini", "**/db/migrate/**",
        "**/flyway/**", "**/liquibase/**",
    )),
    (ChangeKind.INFRA, (
        "**/terraform/**", "*.tf", "*.tfvars", "*.hcl", "**/infra/**", "**/charts/**",
        "Chart.yaml", "values*.yaml", "**/helm/**", "**/k8s/**", "**/kubernetes/**",
        "**/manifests/**", "kustomization.yaml", "kustomization.yml", "**/deploy/**",
        "**/pulumi/**", "Pulumi*.yaml", "**/ansible/**", "**/cdk/**",
    )),
    (ChangeKind.DEPENDENCY, (
        "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock",
        "pnpm-lock.yaml", "bun.lockb", "requirements*.txt", "requirements/*.txt",
        "pyproject.toml", "poetry.lock", "Pipfile", "Pipfile.lock", "uv.lock", "setup.py",
        "setup.cfg", "go.mod", "go.sum", "Cargo.toml", "Cargo.lock", "Gemfile", "Gemfile.lock",
        "pom.xml", "build.gradle", "build.gradle.kts", "gradle.lockfile", "*.csproj",
        "packages.lock.json", "composer.json", "composer.lock", "mix.exs", "mix.lock",
        ".github/dependabot.yml", "renovate.json",
    )),
    (ChangeKind.DOCS, (
        "docs/**", "doc/**", "*.md", "*.mdx", "*.rst", "*.adoc", "LICENSE*", "COPYING*",
        "AUTHORS*", "CHANGELOG*", "NOTICE*",
    )),
    (ChangeKind.CONFIG, (
        ".github/**", "*.yml", "*.yaml", "*.toml", "*.ini", "*.cfg", "*.conf", ".env*",
        ".*rc", ".editorconfig", ".gitignore", ".gitattributes", ".dockerignore",
        "Dockerfile", "Dockerfile.*", "*.dockerfile", "docker-compose*.yml",
        "compose*.yaml", "Makefile", "Procfile",
    )),
]
KIND_TIER = {
    ChangeKind.WORKFLOW: "high", ChangeKind.MIGRATION: "high", ChangeKind.INFRA: "high",
    ChangeKind.DOCS: "low",
}
KIND_LABEL = {
    ChangeKind.WORKFLOW: "a workflow", ChangeKind.MIGRATION: "a database migration",
    ChangeKind.INFRA: "infrastructure", ChangeKind.DOCS: "documentation",
    ChangeKind.DEPENDENCY: "a dependency manifest", ChangeKind.CONFIG: "configuration",
    ChangeKind.APP: "application code",
}
MAX_REASONS = 10


@lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a gitignore-ish glob (see the module docstring) to a full-path regex."""
    p = pattern.strip()
    if p.endswith("/"):
        p += "**"
    anchored = "/" in p.rstrip("/")
    p = p.lstrip("/")
    out: list[str] = []
    i = 0
    while i < len(p):
        at_segment_start = i == 0 or p[i - 1] == "/"
        if p.startswith("**/", i) and at_segment_start:
            out.append("(?:[^/]*/)*")
            i += 3
        elif p.startswith("**", i) and at_segment_start and i + 2 == len(p):
            out.append(".*")
            i += 2
        elif p[i] == "*":
            while i < len(p) and p[i] == "*":
                i += 1
            out.append("[^/]*")
        elif p[i] == "?":
            out.append("[^/]")
            i += 1
        elif p[i] == "[" and (end := p.find("]", i + 2)) != -1:
            body = p[i + 1 : end]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            out.append(("[^/" if negate else "[") + body.replace("\\", "\\\\") + "]")
            i = end + 1
        elif p[i] == "\\" and i + 1 < len(p):
            out.append(re.escape(p[i + 1]))
            i += 2
        else:
            out.append(re.escape(p[i]))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(prefix + "".join(out), re.DOTALL)


def glob_match(pattern: str, path: str) -> bool:
    return glob_regex(pattern).fullmatch(_normalize(path)) is not None


def _normalize(path: str) -> str:
    path = path.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


class Classification(BaseModel):
    kinds: set[ChangeKind]
    mixed: bool
    tier: Literal["low", "medium", "high"]
    reasons: list[str]
    files: dict[str, ChangeKind] = {}


def riskier(a: Classification, b: Classification) -> Classification:
    """The higher-tier reading of two (the first when equal), with both readings' reasons."""
    first, second = (a, b) if TIERS.index(a.tier) >= TIERS.index(b.tier) else (b, a)
    extra = [r for r in second.reasons if r not in first.reasons]
    return first.model_copy(update={"kinds": first.kinds | second.kinds,
                                    "reasons": [*first.reasons, *extra]})


def kind_of(path: str, chart_dir: str = "") -> tuple[ChangeKind, str]:
    """The kind of one file and the default glob that decided it ('' for app code)."""
    if chart_dir and glob_match("/" + chart_dir.strip("/") + "/", path):
        return ChangeKind.INFRA, chart_dir.strip("/") + "/**"
    for kind, patterns in DEFAULT_KINDS:
        for pattern in patterns:
            if glob_match(pattern, path):
                return kind, pattern
    return ChangeKind.APP, ""


def _config_tier(path: str, config: RepoConfig) -> tuple[str, str] | None:
    for tier in reversed(TIERS):  # highest first
        for pattern in getattr(config.risk, tier):
            if glob_match(pattern, path):
                return tier, pattern
    return None


def classify(changes: Sequence[str | ChangedFile], config: RepoConfig) -> Classification:
    files: dict[str, ChangeKind] = {}
    tiers: list[tuple[str, str]] = []  # (tier, reason) per file
    for change in changes:
        item = ChangedFile(path=change) if isinstance(change, str) else change
        # A rename touches both places: moving a migration away is a migration change.
        paths = [item.path] + ([item.previous_filename] if item.previous_filename else [])
        for raw in paths:
            path = _normalize(raw)
            kind, rule = kind_of(path, config.generate.chart_dir)
            files.setdefault(path, kind)
            override = _config_tier(path, config)
            if override:
                tier, pattern = override
                why = f"{path} matches risk.{tier} glob `{pattern}` (.github/shipcrew.yml)"
            else:
                tier = KIND_TIER.get(kind, "medium")
                how = f" (default `{rule}`)" if rule else ""
                why = f"{path} is {KIND_LABEL[kind]}{how}"
            tiers.append((tier, why))
    if not tiers:
        return Classification(kinds=set(), mixed=False, tier="low", reasons=["no files changed"])
    top = max((t for t, _ in tiers), key=TIERS.index)
    deciding = [f"{top}: {why}" for t, why in tiers if t == top]
    if len(deciding) > MAX_REASONS:
        deciding = deciding[:MAX_REASONS] + [f"… and {len(deciding) - MAX_REASONS} more"]
    kinds = set(files.values())
    return Classification(
        kinds=kinds, mixed=len(kinds) > 1, tier=top, reasons=deciding, files=files,  # type: ignore[arg-type]
    )


# --- plan ------------------------------------------------------------------------------------


class AgentStep(BaseModel):
    agent: Literal["pipeline_engineer", "auditor", "release_manager"]
    runs: bool
    mode: str = ""
    reason: str

    def summary(self) -> str:
        if not self.runs:
            return "no"
        return f"yes ({self.mode})" if self.mode else "yes"


class EnvironmentPlan(BaseModel):
    name: str
    gates: list[Gate]
    approval_needed: bool


class Plan(BaseModel):
    classification: Classification
    agents: list[AgentStep]
    environments: list[EnvironmentPlan]

    def runs(self, agent: str) -> bool:
        return any(a.agent == agent and a.runs for a in self.agents)

    def render_markdown(self) -> str:
        c = self.classification
        kinds = ", ".join(sorted(k.value for k in c.kinds)) or "nothing"
        lines = [
            "### shipcrew plan",
            "",
            f"**Risk tier: {c.tier}** · changes: {kinds}{' (mixed)' if c.mixed else ''}",
            "",
            *[f"- {_md(r)}" for r in c.reasons],
            "",
            "| agent | runs | why |",
            "|---|---|---|",
            *[f"| {a.agent.replace('_', ' ')} | {a.summary()} | {_md(a.reason)} |"
              for a in self.agents],
        ]
        for env in self.environments:
            lines += ["", f"**{_md(env.name)}** requires:"]
            lines += [f"- {_md(g.describe())}" for g in env.gates]
        return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def plan(
    classification: Classification,
    config: RepoConfig,
    *,
    is_fork: bool,
    event: str,
    known_environments: set[str] | None = None,
) -> Plan:
    """Which agents run and which gates each environment will require.

    `event` is `pull_request` (opened/synchronize/reopened) or the name of the command that
    asked (`plan`, `generate`, `audit`): an explicit `generate` runs the pipeline engineer
    even for a docs-only change. `known_environments` are the repo's GitHub environments;
    the plan covers them, the configured ones and, failing both, `generate.environments`.
    """
    agents = [_pipeline_step(classification, config, is_fork=is_fork, event=event),
              AgentStep(agent="auditor", runs=True, reason="every change is audited")]
    known = set(known_environments or set())
    # Predecessors read best first: staging before production.
    ordered = sorted(known, key=lambda n: (is_production(n), n.lower()))
    names = _unique([*config.environments, *ordered]) or list(config.generate.environments)
    # With the repo's environments known, judge as the gate does: a configured predecessor
    # missing on GitHub is reported as missing, and defaults follow what exists.
    every = known if known_environments is not None else known | set(names)
    environments = [
        EnvironmentPlan(
            name=name,
            gates=(gates := gates_for(name, config, classification.tier, every)),
            approval_needed=any(g.kind == "approval" for g in gates),
        )
        for name in names
    ]
    agents.append(AgentStep(
        agent="release_manager",
        runs=bool(environments),
        reason=f"gates deployments to {', '.join(names)}" if names else "no environments",
    ))
    return Plan(classification=classification, agents=agents, environments=environments)


def _pipeline_step(
    c: Classification, config: RepoConfig, *, is_fork: bool, event: str
) -> AgentStep:
    mode = config.generate.mode
    if mode is GenerateMode.OFF:
        return AgentStep(agent="pipeline_engineer", runs=False, reason="generate.mode is off")
    if c.kinds == {ChangeKind.DOCS} and event != "generate":
        return AgentStep(agent="pipeline_engineer", runs=False, reason="docs-only change")
    if is_fork and mode in (GenerateMode.COMMIT, GenerateMode.PULL_REQUEST):
        # The installation token cannot push to a fork: suggest instead of committing.
        return AgentStep(agent="pipeline_engineer", runs=True, mode=GenerateMode.SUGGEST.value,
                         reason="fork pull request: changes are suggested, not committed")
    return AgentStep(agent="pipeline_engineer", runs=True, mode=mode.value,
                     reason=f"generate.mode is {mode.value}")


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out

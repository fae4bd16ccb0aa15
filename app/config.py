"""`.github/shipcrew.yml`: the repo config model and its loader.

Read from the default branch only (a PR cannot change the rules it is judged by).
YAML is parsed with ruamel.yaml so that every error carries a line and a column.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from app import CONFIG_PATH as CONFIG_PATH  # defined without pydantic, for the audit CLI

MAX_CONFIG_BYTES = 256 * 1024

Permission = Literal["read", "triage", "write", "maintain", "admin"]
Tier = Literal["low", "medium", "high"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GenerateMode(StrEnum):
    COMMIT = "commit"
    PULL_REQUEST = "pull_request"
    SUGGEST = "suggest"
    OFF = "off"


SAFE_PATH = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*")
DNS_LABEL = re.compile(r"[a-z]([a-z0-9-]{0,38}[a-z0-9])?")


def _no_control(value: str, what: str) -> str:
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError(f"{what} must be one line without control characters")
    return value


def _repo_path(value: str) -> str:
    value = value.strip().strip("/") or "."
    if value != "." and (not SAFE_PATH.fullmatch(value) or ".." in value.split("/")):
        raise ValueError("must be a path inside the repository (letters, digits, . _ - /)")
    return value


class ServiceConfig(_Model):
    """One `services:` entry: answers detection could not (or got wrong), once."""

    path: str = Field(description='project directory, "." for the repository root')
    name: str | None = None
    kind: Literal["service", "library"] | None = None
    language: Literal["python", "node", "go", "java", "rust"] | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    start: list[str] | None = Field(default=None, description="the command the image runs")
    build: str | None = None
    test: str | None = None
    install: str | None = None
    version: str | None = Field(default=None, description="runtime version (3.12, 22, 1.25)")
    dockerfile: str | None = Field(default=None, description="keep this Dockerfile, build it")

    @field_validator("path", "dockerfile")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        return None if v is None else _repo_path(v)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not DNS_LABEL.fullmatch(v):
            raise ValueError("must be a DNS label: lowercase letters, digits and -, "
                             "at most 40 characters, starting with a letter")
        return v

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, v: Any) -> Any:
        if isinstance(v, str):
            _no_control(v, "start")
            return shlex.split(v)
        return v

    @field_validator("start")
    @classmethod
    def _start_words(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and (not v or any(_no_control(w, "start") == "" for w in v[:1])):
            raise ValueError("start must name a command")
        return v

    @field_validator("build", "test", "install")
    @classmethod
    def _command(cls, v: str | None) -> str | None:
        return None if v is None else _no_control(v, "a command")

    @field_validator("version")
    @classmethod
    def _version(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d+(\.\d+){0,2}", v):
            raise ValueError("must be a version number such as 3.12, 22 or 1.25")
        return v


class GenerateIgnore(_Model):
    """PRs the pipeline engineer never commits to (it suggests in its check run instead).
    Bots (`[bot]` accounts, Dependabot, Renovate) and drafts are always left alone."""

    authors: list[str] = []
    labels: list[str] = []
    branches: list[str] = []  # globs, e.g. `release/**`


class GenerateConfig(_Model):
    mode: GenerateMode = GenerateMode.COMMIT
    ignore: GenerateIgnore = GenerateIgnore()
    artifacts: list[Literal["workflows", "docker", "helm"]] = ["workflows", "docker", "helm"]
    chart_dir: str = "deploy/helm"
    environments: list[str] = ["staging", "production"]
    # Filled from the top-level `services:` section (see RepoConfig).
    services: list[ServiceConfig] = []


class RuleOverride(_Model):
    mode: Literal["enforce", "audit", "off"] | None = None
    severity: Literal["hard", "soft"] | None = None
    # Globs (`**` any depth, `*` within a directory): the override holds only for findings in
    # these files (a scoped waiver); None: everywhere.
    paths: list[str] | None = None


class PoliciesConfig(_Model):
    mode: Literal["enforce", "audit"] = "enforce"
    rules: dict[str, RuleOverride] = {}
    dirs: list[str] = []
    legacy: Literal["report", "block"] = "report"
    exclude: list[str] = []  # globs of files whose findings are dropped (and counted)

    @field_validator("rules", mode="before")
    @classmethod
    def _short_form(cls, v: Any) -> Any:
        # `GHA002: audit` is shorthand for `GHA002: {mode: audit}`.
        if isinstance(v, Mapping):
            return {k: {"mode": o} if isinstance(o, str) else o for k, o in v.items()}
        return v


class Freeze(_Model):
    cron: str
    duration: str = Field(description="e.g. 30m, 12h, 2d")
    timezone: str = "UTC"
    action: Literal["reject", "hold"] = "reject"
    reason: str = ""


class Approvers(_Model):
    users: list[str] = []
    teams: list[str] = []
    min_permission: Permission = "maintain"
    count: int = Field(default=1, ge=0, le=10)


class Reviewers(_Model):
    """GitHub's own required reviewers of the environment (`shipcrew environments apply`)."""

    users: list[str] = []
    teams: list[str] = []  # slugs of the repository owner's organization
    prevent_self_review: bool = True
    wait_timer: int = Field(default=0, ge=0, le=43200)


BypassGate = Literal["freeze", "approval", "soak"]


class Rollback(_Model):
    """What a rollback to a version that already ran in the environment may skip."""

    bypass: list[BypassGate] = ["freeze", "approval", "soak"]


class EnvironmentConfig(_Model):
    requires: list[str] | None = None
    # branches deployed from (audited on push; the environment's deployment branch policy)
    branches: list[str] | None = None
    reviewers: Reviewers | None = None
    rollback: Rollback = Rollback()
    soak_minutes: int = Field(default=0, ge=0)
    required_checks: list[str] | None = None
    approvers: Approvers | None = None
    allow_author: bool = False
    approval_tiers: list[Tier] | None = None
    auto_approve: list[Tier] | None = None
    freeze: list[Freeze] = []


class RiskConfig(_Model):
    high: list[str] = []
    medium: list[str] = []
    low: list[str] = []


class CommandsConfig(_Model):
    permissions: dict[str, Permission] = {}
    approver_teams: list[str] = []


class LLMConfig(_Model):
    enabled: bool = False
    model: str | None = None


class RepoConfig(_Model):
    version: int = 1
    generate: GenerateConfig = GenerateConfig()
    policies: PoliciesConfig = PoliciesConfig()
    environments: dict[str, EnvironmentConfig] = {}
    risk: RiskConfig = RiskConfig()
    commands: CommandsConfig = CommandsConfig()
    llm: LLMConfig = LLMConfig()
    services: list[ServiceConfig] = []

    @field_validator("services")
    @classmethod
    def _one_entry_per_path(cls, v: list[ServiceConfig]) -> list[ServiceConfig]:
        paths = [s.path for s in v]
        if len(paths) != len(set(paths)):
            raise ValueError("two entries for the same path")
        return v

    @model_validator(mode="after")
    def _services_reach_generation(self) -> RepoConfig:
        self.generate.services = self.services
        return self


class ConfigProblem(BaseModel):
    path: str = CONFIG_PATH
    line: int | None = None
    column: int | None = None
    field: str = ""
    message: str


class ConfigError(BaseModel):
    """A broken config, ready to publish (check run annotations carry path and line)."""

    problems: list[ConfigProblem]

    def summary(self) -> str:
        return "\n".join(
            f"{p.path}:{p.line or '?'}:{p.column or '?'}: {p.field + ': ' if p.field else ''}"
            f"{p.message}"
            for p in self.problems
        )


def parse_config(text: str | None, path: str = CONFIG_PATH) -> RepoConfig | ConfigError:
    """Plain text in, a config (defaults when absent or empty) or an error out."""
    if text is None or not text.strip():
        return RepoConfig()
    if len(text.encode()) > MAX_CONFIG_BYTES:
        return ConfigError(problems=[ConfigProblem(path=path, message="file over 256 KiB")])
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return ConfigError(problems=[ConfigProblem(
            path=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            message=f"invalid YAML: {exc.problem or exc.context}",
        )])
    except YAMLError as exc:
        return ConfigError(problems=[ConfigProblem(path=path, message=f"invalid YAML: {exc}")])
    if data is None:
        return RepoConfig()
    if not isinstance(data, Mapping):
        return ConfigError(problems=[ConfigProblem(
            path=path, line=1, column=1, message="the top level must be a mapping"
        )])
    try:
        return RepoConfig.model_validate(_plain(data))
    except ValidationError as exc:
        return ConfigError(problems=[_problem(data, err, path) for err in exc.errors()])


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _problem(data: Any, err: Mapping[str, Any], path: str) -> ConfigProblem:
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "str")))]
    line, column = _position(data, loc)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    return ConfigProblem(
        path=path, line=line, column=column, field=".".join(str(p) for p in loc), message=msg
    )


def _position(data: Any, loc: Sequence[Any]) -> tuple[int | None, int | None]:
    """Line and column (1-based) of the deepest node of `loc` that exists."""
    node, line, col = data, 1, 1
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            ln, cl = node.lc.key(key)
            line, col = ln + 1, cl + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            ln, cl = node.lc.item(key)
            line, col = ln + 1, cl + 1
            node = node[key]
        else:
            break
    return line, col

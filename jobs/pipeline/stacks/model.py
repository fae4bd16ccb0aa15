"""The `Stack` value: what detection found for one project directory."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

Language = Literal["python", "node", "go", "java", "rust", "unknown"]
Kind = Literal["service", "library"]

# Framework defaults when the code does not say which port it listens on.
DEFAULT_PORTS = {
    "fastapi": 8000, "flask": 8000, "django": 8000, "express": 3000, "nextjs": 3000,
    "nestjs": 3000, "node": 3000, "go": 8080, "spring-boot": 8080, "axum": 8080,
    "actix-web": 8080, "rocket": 8000, "warp": 8080,
}


class Stack(BaseModel):
    path: str = Field(description='service directory, "." for the repository root')
    name: str = Field(description="DNS-1123 label used for images, charts and workflow names")
    language: Language
    kind: Kind = "library"
    framework: str | None = None
    build_tool: str | None = None
    version: str | None = Field(default=None, description="language / runtime version")
    port: int | None = None
    start_command: list[str] | None = None
    test_command: str | None = None
    lint_command: str | None = None
    build_command: str | None = None
    install_command: str | None = None
    binaries: list[str] = Field(default_factory=list, description="Go/Rust/Node entry points")
    workspace_root: str | None = Field(
        default=None, description="directory that owns the lockfile when it is not `path`"
    )
    manifests: list[str] = Field(default_factory=list, description="files detection read")
    native_deps: list[str] = Field(
        default_factory=list, description="dependencies that need system libraries (cgo, -sys)")
    ci_tools: list[str] = Field(
        default_factory=list, description="tools CI calls that the project does not declare")
    typescript: bool = False
    dockerfile: str | None = Field(
        default=None, description="a human Dockerfile `services:` says to keep and build")
    undecided: str | None = Field(
        default=None, description="what detection could not tell (no image is generated)")
    evidence: list[str] = Field(default_factory=list, description="what it saw instead")
    env: dict[str, str] = Field(
        default_factory=dict, description="variables the image sets (a listen address)")
    frontends: list[dict[str, str]] = Field(
        default_factory=list, description="npm projects whose build output the image embeds")
    warnings: list[str] = Field(
        default_factory=list, description="what will not work as generated, and the fix")
    reasons: list[str] = Field(default_factory=list)

    @property
    def is_service(self) -> bool:
        return self.kind == "service" and self.language != "unknown" and self.undecided is None

    @property
    def build_root(self) -> str:
        return self.workspace_root or self.path


def dns_label(raw: str, fallback: str = "app") -> str:
    """A lowercase RFC 1123 label (max 40 chars so release + suffixes stay under 63)."""
    label = raw.rsplit("/", 1)[-1].lower()
    label = re.sub(r"[^a-z0-9-]+", "-", label).strip("-")
    label = re.sub(r"-{2,}", "-", label)[:40].strip("-")
    if not label or not label[0].isalpha():
        label = f"{fallback}-{label}".strip("-") if label else fallback
    return label


def join(base: str, rel: str) -> str:
    """Repo-relative path of `rel` inside directory `base` ("." is the root)."""
    return rel if base in ("", ".") else f"{base}/{rel}"


def parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else "."

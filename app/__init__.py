"""shipcrew: a GitHub App that takes pull requests to production with a crew of agents."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICIES_DIR = ROOT / "policies"
TEMPLATES_DIR = ROOT / "workflow_templates"
CONFIG_PATH = ".github/shipcrew.yml"  # the repo config (models in app.config)

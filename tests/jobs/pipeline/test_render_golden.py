"""Every template rendered for every sample repo, compared with tests/jobs/golden/.

Regenerate after an intended template change: UPDATE_GOLDEN=1 pytest tests/jobs -k golden
"""

from __future__ import annotations

import os
import shutil

from app.files import read_tree, write_tree
from jobs.pipeline.plan import plan_generation
from tests.jobs.conftest import GOLDEN, REPO_NAMES, repo


def test_golden_outputs(repo_name: str) -> None:
    rendered = plan_generation(repo(repo_name)).changes
    golden = GOLDEN / repo_name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        shutil.rmtree(golden, ignore_errors=True)
        write_tree(golden, rendered)
    assert rendered, "every sample repo gets at least a CI workflow"
    assert read_tree(golden) == rendered


def test_every_template_is_exercised() -> None:
    kinds = set()
    languages = set()
    for name in REPO_NAMES:
        plan = plan_generation(repo(name))
        kinds |= {a.kind for a in plan.artifacts}
        languages |= {s.language for s in plan.stacks if s.is_service}
    assert kinds == {"ci-workflow", "delivery-workflow", "dockerfile", "dockerignore",
                     "helm-chart"}
    assert languages == {"python", "node", "go", "java", "rust"}


def test_golden_dirs_match_sample_repos() -> None:
    assert sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()) == REPO_NAMES

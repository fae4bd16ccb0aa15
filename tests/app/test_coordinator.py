from __future__ import annotations

import pytest

from app.config import RepoConfig
from app.coordinator import ChangedFile, ChangeKind, classify, glob_match, plan

NO_CONFIG = RepoConfig()


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("**/*.sql", "schema.sql", True),
        ("**/*.sql", "db/sql/001.sql", True),
        ("**/*.sql", "db/sql/001.sql.bak", False),
        ("*.sql", "a/b/c.sql", True),  # no slash: any depth
        ("/*.sql", "a/b/c.sql", False),  # leading slash anchors
        ("/*.sql", "c.sql", True),
        ("migrations/**", "migrations/0001_init.py", True),
        ("migrations/**", "app/migrations/0001_init.py", False),  # a slash anchors
        ("**/migrations/**", "app/migrations/0001_init.py", True),
        ("**/migrations/**", "migrations/x.py", True),
        ("**/migrations/**", "migrationsx/x.py", False),
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/pkg/a.py", False),
        ("src/**/*.py", "src/pkg/deep/a.py", True),
        ("src/**/*.py", "src/a.py", True),
        ("infra/", "infra/main.tf", True),
        ("infra/", "infrastructure/main.tf", False),
        ("file?.txt", "file1.txt", True),
        ("file?.txt", "file/.txt", False),
        ("[abc].md", "b.md", True),
        ("[!abc].md", "d.md", True),
        ("[!abc].md", "a.md", False),
        ("a+b(c).md", "a+b(c).md", True),  # regex metacharacters are literal
        ("docs/**", "./docs/x.md", True),
    ],
)
def test_glob(pattern: str, path: str, expected: bool) -> None:
    assert glob_match(pattern, path) is expected


@pytest.mark.parametrize(
    ("paths", "kinds", "tier"),
    [
        (["README.md", "docs/guide/setup.md"], {"docs"}, "low"),
        (["src/app.py"], {"app"}, "medium"),
        (["README.md", "src/app.py"], {"docs", "app"}, "medium"),
        (["requirements.txt"], {"dependency"}, "medium"),
        (["web/package-lock.json"], {"dependency"}, "medium"),
        (["migrations/0002_users.py"], {"migration"}, "high"),
        (["shop/migrations/0002_users.py"], {"migration"}, "high"),
        (["db/schema.sql"], {"migration"}, "high"),
        (["alembic/versions/abc.py"], {"migration"}, "high"),
        (["terraform/main.tf"], {"infra"}, "high"),
        (["infra/network.tf"], {"infra"}, "high"),
        (["deploy/helm/Chart.yaml"], {"infra"}, "high"),
        (["charts/api/templates/deployment.yaml"], {"infra"}, "high"),
        (["k8s/deployment.yaml"], {"infra"}, "high"),
        ([".github/workflows/ci.yml"], {"workflow"}, "high"),
        ([".github/CODEOWNERS", "setup.cfg"], {"config", "dependency"}, "medium"),
        (["Dockerfile"], {"config"}, "medium"),
        ([], set(), "low"),
    ],
)
def test_classify_defaults(paths: list[str], kinds: set[str], tier: str) -> None:
    c = classify(paths, NO_CONFIG)
    assert {k.value for k in c.kinds} == kinds
    assert c.tier == tier
    assert c.mixed is (len(kinds) > 1)
    assert c.reasons


def test_reasons_name_the_deciding_files() -> None:
    c = classify(["src/a.py", "migrations/1.py", "README.md"], NO_CONFIG)
    assert c.reasons == ["high: migrations/1.py is a database migration "
                         "(default `**/migrations/**`)"]


def test_rename_counts_both_paths() -> None:
    moved = ChangedFile(path="archive/old.py", status="renamed",
                        previous_filename="migrations/0001.py")
    c = classify([moved], NO_CONFIG)
    assert c.tier == "high" and ChangeKind.MIGRATION in c.kinds


def test_config_globs_raise_and_lower() -> None:
    config = RepoConfig.model_validate({"risk": {
        "high": ["src/payments/**"],
        "low": ["tests/**", "**/*.sql"],
    }})
    assert classify(["src/payments/charge.py"], config).tier == "high"
    assert classify(["tests/test_a.py"], config).tier == "low"
    assert classify(["tests/test_a.py", "src/x.py"], config).tier == "medium"
    sql = classify(["fixtures/seed.sql"], config)
    assert sql.tier == "low"
    assert sql.reasons == ["low: fixtures/seed.sql matches risk.low glob `**/*.sql` "
                           "(.github/shipcrew.yml)"]


def test_highest_config_tier_wins_when_several_match() -> None:
    config = RepoConfig.model_validate({"risk": {"low": ["src/**"], "high": ["**/auth.py"]}})
    assert classify(["src/auth.py"], config).tier == "high"


def test_custom_chart_dir_is_infra() -> None:
    config = RepoConfig.model_validate({"generate": {"chart_dir": "ops/chart"}})
    assert classify(["ops/chart/values-prod.yaml"], config).tier == "high"


def test_reasons_are_bounded() -> None:
    c = classify([f"migrations/{i}.py" for i in range(50)], NO_CONFIG)
    assert len(c.reasons) == 11 and c.reasons[-1] == "… and 40 more"


ENVS = {"staging", "production"}


def test_plan_for_high_risk_change() -> None:
    c = classify(["migrations/0003.sql"], NO_CONFIG)
    p = plan(c, NO_CONFIG, is_fork=False, event="pull_request", known_environments=ENVS)
    assert [(a.agent, a.runs) for a in p.agents] == [
        ("pipeline_engineer", True), ("auditor", True), ("release_manager", True)]
    assert [e.name for e in p.environments] == ["staging", "production"]
    staging, production = p.environments
    assert [g.kind for g in staging.gates] == ["checks", "policy"]
    assert [g.kind for g in production.gates] == ["checks", "policy", "predecessor", "approval"]
    assert production.approval_needed and not staging.approval_needed
    text = p.render_markdown()
    assert "**Risk tier: high**" in text
    assert "the same commit deployed successfully to `staging`" in text
    assert "not the PR author or last pusher" in text


def test_plan_docs_only_skips_pipeline_engineer_unless_asked() -> None:
    c = classify(["README.md"], NO_CONFIG)
    p = plan(c, NO_CONFIG, is_fork=False, event="pull_request")
    assert not p.runs("pipeline_engineer") and p.runs("auditor")
    assert plan(c, NO_CONFIG, is_fork=False, event="generate").runs("pipeline_engineer")
    # Without known environments the plan covers the ones the delivery workflow targets.
    assert [e.name for e in p.environments] == ["staging", "production"]


def test_plan_generate_off_and_forks() -> None:
    c = classify(["src/a.py"], NO_CONFIG)
    off = RepoConfig.model_validate({"generate": {"mode": "off"}})
    assert not plan(c, off, is_fork=False, event="pull_request").runs("pipeline_engineer")
    fork = plan(c, NO_CONFIG, is_fork=True, event="pull_request")
    step = fork.agents[0]
    assert step.runs and step.mode == "suggest" and "fork" in step.reason


def test_plan_uses_configured_environments() -> None:
    config = RepoConfig.model_validate({"environments": {
        "qa": {}, "prod-eu": {"requires": ["qa"], "soak_minutes": 30, "auto_approve": ["high"]},
    }})
    c = classify(["migrations/1.py"], config)
    p = plan(c, config, is_fork=False, event="plan", known_environments={"qa", "prod-eu"})
    assert [e.name for e in p.environments] == ["qa", "prod-eu"]
    prod = p.environments[1]
    assert [g.kind for g in prod.gates] == ["checks", "policy", "predecessor"]
    assert "at least 30 min earlier" in p.render_markdown()

"""What the generated files say for real layouts, and that the real validators and our own
auditor accept them (inputs in our own words, shaped like the named upstream repositories)."""

from __future__ import annotations

import json

from app.config import GenerateConfig, ServiceConfig, parse_config
from app.files import Files
from jobs.auditor.core import audit_files
from jobs.pipeline.plan import plan_generation
from jobs.pipeline.report import undecided_section
from jobs.pipeline.validate import validate_report
from tests.jobs.conftest import repo
from tests.jobs.pipeline.test_stacks_realworld import FLASK_REALWORLD

GO_CGO: Files = {  # alpody/golang-fiber-realworld-example-app @ 134a4987
    "go.mod": "module fiber-rw\n\ngo 1.23\n\nrequire (\n\tgithub.com/gofiber/fiber/v2 v2.52.5\n"
    "\tgorm.io/driver/sqlite v1.5.6\n)\n",
    "go.sum": "",
    "main.go": 'package main\nimport "github.com/gofiber/fiber/v2"\n'
    'func main() { fiber.New().Listen(":8585") }\n',
}
RUST_NATIVE: Files = {  # fairingrey/actix-realworld-example-app @ 8348aedd
    "Cargo.toml": '[package]\nname = "conduit"\n[dependencies]\nactix-web = "1"\n',
    "Cargo.lock": '[[package]]\nname = "openssl-sys"\n[[package]]\nname = "pq-sys"\n',
    "src/main.rs": 'fn main() { HttpServer::new(|| App::new()).bind("0.0.0.0:8088") }\n',
}
GRADLE_WRAPPER: Files = {  # gothinkster/spring-boot-realworld-example-app @ ee17e31a
    "build.gradle": "plugins { id 'org.springframework.boot' version '2.6.3' }\n"
    "sourceCompatibility = '11'\n"
    "dependencies { implementation 'org.springframework.boot:spring-boot-starter-web' }\n",
    "settings.gradle": "rootProject.name = 'realworld'\n",
    "gradlew": "#!/bin/sh\n",
    "gradle/wrapper/gradle-wrapper.properties": "distributionUrl=gradle-7.4-bin.zip\n",
    "src/main/java/App.java": "class App {}\n",
}


def generated(files: Files, **kwargs: object) -> Files:
    return plan_generation(files, **kwargs).changes  # type: ignore[arg-type]


def test_native_dependencies_reach_the_images_and_pass_hadolint() -> None:
    go, rust, java = generated(GO_CGO), generated(RUST_NATIVE), generated(GRADLE_WRAPPER)
    assert "CGO_ENABLED=1 go build" in go["Dockerfile"]
    assert "FROM golang:1.25-bookworm AS build" in go["Dockerfile"]
    assert "gcr.io/distroless/base-debian12:nonroot" in go["Dockerfile"]
    assert "libpq-dev libssl-dev pkg-config" in rust["Dockerfile"]
    assert "ca-certificates libpq5 libssl3" in rust["Dockerfile"]
    assert "RUN chmod +x gradlew && ./gradlew --no-daemon dependencies" in java["Dockerfile"]
    assert "FROM eclipse-temurin:11-jdk AS build" in java["Dockerfile"]
    report = validate_report(
        {
            f"{n}/Dockerfile": f["Dockerfile"]
            for n, f in (("go", go), ("rust", rust), ("java", java))
        }
    )
    assert report.ok, report.errors()


def test_requirements_includes_are_copied_into_the_image() -> None:
    dockerfile = generated(FLASK_REALWORLD)["Dockerfile"]
    assert "COPY requirements.txt ./\nCOPY requirements ./requirements\n" in dockerfile
    assert 'CMD ["gunicorn", "--bind", "0.0.0.0:8000", "autoapp:app"]' in dockerfile


def test_a_kept_dockerfile_sets_the_chart_port() -> None:
    # miguelgrinberg/microblog @ a975ef64: the human Dockerfile EXPOSEs 5000.
    files = {
        **FLASK_REALWORLD,
        "Dockerfile": 'FROM python:slim\nEXPOSE 5001\nENTRYPOINT ["./boot.sh"]\n',
    }
    plan = plan_generation(files)
    assert plan.stacks[0].port == 5001
    assert "containerPort: 5001" in plan.changes["deploy/helm/app/values.yaml"]
    assert "Dockerfile" not in plan.changes


def test_a_kept_member_dockerfile_written_for_the_root_gets_the_root_context() -> None:
    # fastapi/full-stack-fastapi-template @ 68adb40d: backend/Dockerfile COPYs ./backend/app.
    files = {
        "backend/requirements.txt": "fastapi\nuvicorn\n",
        "backend/app/__init__.py": "",
        "backend/app/main.py": "app = FastAPI()\n",
        "frontend/index.html": "",
        "backend/Dockerfile": "FROM python:3.14\nCOPY ./backend/app /app/backend/app\n",
    }
    delivery = generated(files)[".github/workflows/delivery.yml"]
    assert 'context: "."' in delivery and 'file: "backend/Dockerfile"' in delivery


def test_an_existing_human_test_workflow_is_recognised() -> None:
    # testdrivenio/fastapi-tdd-docker: .github/workflows/main.yml already runs pytest.
    files = {
        **FLASK_REALWORLD,
        ".github/workflows/main.yml": "on: push\njobs:\n  t:\n    steps:\n"
        "      - run: python -m pytest .\n",
    }
    plan = plan_generation(files)
    assert ".github/workflows/ci.yml" not in plan.changes
    assert any("main.yml already runs this project's tests" in r for r in plan.stacks[0].reasons)


def test_pnpm_workspace_member_image_is_not_pruned() -> None:
    files = {
        "package.json": json.dumps({"name": "root"}),
        "pnpm-workspace.yaml": "packages:\n  - apps/*\n",
        "pnpm-lock.yaml": "",
        "apps/web/package.json": json.dumps(
            {"name": "web", "scripts": {"start": "next start"}, "dependencies": {"next": "15"}}
        ),
    }
    dockerfile = generated(files)["apps/web/Dockerfile"]
    assert "pnpm prune" not in dockerfile


def test_our_own_monorepo_output_passes_our_own_auditor() -> None:
    files = repo("node-workspaces")
    out = generated(files)
    assert any(p.endswith("Dockerfile.dockerignore") for p in out)
    findings = audit_files({**files, **out}).findings
    assert [f for f in findings if f.rule.startswith("INPUT")] == []


def test_services_entries_override_detection() -> None:
    config = GenerateConfig(
        services=[
            ServiceConfig(path=".", port=9000, name="web", start="gunicorn -b :9000 wsgi:app")
        ]
    )
    plan = plan_generation(FLASK_REALWORLD, config)
    [stack] = plan.stacks
    assert (stack.name, stack.port, stack.start_command) == (
        "web",
        9000,
        ["gunicorn", "-b", ":9000", "wsgi:app"],
    )
    assert "services: name, port, start set in .github/shipcrew.yml" in stack.reasons
    assert 'CMD ["gunicorn", "-b", ":9000", "wsgi:app"]' in plan.changes["Dockerfile"]


def test_cannot_tell_reports_evidence_and_a_snippet_that_parses() -> None:
    files = {"requirements.txt": "fastapi\nuvicorn\n", "api/routes.py": "router = APIRouter()\n"}
    plan = plan_generation(files)
    assert "Dockerfile" not in plan.changes and ".github/workflows/ci.yml" in plan.changes
    section = undecided_section(plan)
    assert section is not None and "which module creates the fastapi application" in section
    assert "fastapi is a runtime dependency (requirements.txt)" in section
    snippet = section.split("````yaml\n", 1)[1].split("\n````", 1)[0]
    config = parse_config(
        snippet.replace("<command that starts the server>", "uvicorn api.main:app --host 0.0.0.0")
    )
    assert not hasattr(config, "problems"), config
    settled = plan_generation(files, config.generate)  # type: ignore[union-attr]
    assert "Dockerfile" in settled.changes and undecided_section(settled) is None

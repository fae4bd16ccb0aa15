from __future__ import annotations

import pytest

from jobs.pipeline.stacks import Stack, detect_stacks
from jobs.pipeline.stacks.model import dns_label
from tests.jobs.conftest import repo


def stacks(name: str) -> dict[str, Stack]:
    return {s.path: s for s in detect_stacks(repo(name))}


def only(name: str) -> Stack:
    (stack,) = detect_stacks(repo(name))
    return stack


def why(stack: Stack) -> str:
    return " | ".join(stack.reasons)


def test_fastapi_with_uv() -> None:
    s = only("py-fastapi-uv")
    assert (s.language, s.kind, s.framework, s.build_tool, s.version, s.port) == (
        "python", "service", "fastapi", "uv", "3.12", 8000)
    assert s.name == "orders-api"
    assert s.start_command == ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
    assert (s.test_command, s.lint_command) == ("uv run pytest", "uv run ruff check .")
    assert "app/main.py creates a FastAPI application" in why(s)


def test_flask_with_requirements_and_port_from_code() -> None:
    s = only("py-flask-requirements")
    assert (s.kind, s.framework, s.build_tool, s.port) == ("service", "flask", "pip", 5000)
    assert s.start_command == ["gunicorn", "--bind", "0.0.0.0:5000", "app:app"]
    assert s.test_command == "python -m pytest" and s.lint_command == "python -m flake8"
    assert s.install_command is not None and "-r requirements.txt" in s.install_command


def test_flask_app_factory_in_a_package() -> None:
    s = only("py-pyproject-service")
    assert s.kind == "service" and s.name == "greeter-service"
    assert s.start_command is not None and s.start_command[-1] == "svc:create_app()"


def test_django_without_manage_py_at_the_root() -> None:
    s = only("py-django-nested")
    assert (s.kind, s.framework) == ("service", "django")
    assert s.start_command == ["gunicorn", "--chdir", "src", "--bind", "0.0.0.0:8000",
                               "mysite.wsgi:application"]
    assert "src/manage.py (not at the project root)" in why(s)


def test_library_that_looks_like_a_service() -> None:
    # Depends on Flask and its tests create a Flask app, but the package creates none.
    s = only("py-flask-extension")
    assert (s.kind, s.framework, s.build_tool, s.version) == ("library", "flask", "hatch", "3.13")
    assert "creates no application" in why(s)
    assert s.start_command is None and s.port is None


@pytest.mark.parametrize(("name", "tool", "test", "reason"), [
    ("py-poetry-cli", "poetry", "tox", "command-line"),
    ("py-pdm-lib", "pdm", "pdm run pytest", "no web framework"),
])
def test_python_libraries(name: str, tool: str, test: str, reason: str) -> None:
    s = only(name)
    assert (s.kind, s.build_tool, s.test_command) == ("library", tool, test)
    assert reason in why(s)


def test_express_with_npm_and_nvmrc() -> None:
    s = only("node-express-npm")
    assert (s.kind, s.framework, s.build_tool, s.version, s.port) == (
        "service", "express", "npm", "22", 4000)
    assert s.name == "inventory"
    assert s.start_command == ["node", "src/server.js"]
    assert (s.install_command, s.test_command, s.lint_command) == (
        "npm ci", "npm run test", "npm run lint")


def test_node_workspaces() -> None:
    found = stacks("node-workspaces")
    assert set(found) == {"apps/api", "apps/web", "packages/ui"}
    api, web, ui = found["apps/api"], found["apps/web"], found["packages/ui"]
    assert all(s.workspace_root == "." and s.build_tool == "yarn" for s in found.values())
    # engines of the workspace root (">=20"): the newest LTS it allows
    assert all(s.version == "24" for s in found.values())
    assert (api.kind, api.framework, api.port, api.typescript) == ("service", "nestjs", 3001,
                                                                    True)
    assert api.build_command == "yarn workspace @acme/api run build"
    assert (web.kind, web.framework, web.port) == ("service", "nextjs", 3000)
    assert ui.kind == "library" and ui.test_command is None  # npm's placeholder test script


def test_express_middleware_is_a_library() -> None:
    s = only("node-pnpm-middleware")
    assert (s.kind, s.build_tool, s.typescript) == ("library", "pnpm", True)
    assert "express only as a peer dependency" in why(s)


def test_go_module_with_two_binaries() -> None:
    s = only("go-two-binaries")
    assert (s.kind, s.framework, s.version, s.port) == ("service", "chi", "1.25", 8081)
    assert s.binaries == ["cmd/api", "cmd/worker"]
    assert s.name == "shipping" and s.start_command == ["/app/api"]
    assert "cmd/api starts a chi server" in why(s)


def test_go_library() -> None:
    s = only("go-library")
    assert (s.kind, s.version, s.binaries) == ("library", "1.25", [])  # `go 1.23` is a minimum


def test_maven_spring_boot() -> None:
    s = only("java-maven-spring")
    assert (s.kind, s.framework, s.build_tool, s.version, s.port, s.name) == (
        "service", "spring-boot", "maven", "17", 8081, "billing-service")
    assert s.test_command == "./mvnw -B -ntp verify"


def test_gradle_kotlin_dsl_spring_boot() -> None:
    s = only("java-gradle-kotlin")
    assert (s.kind, s.build_tool, s.version, s.port, s.name) == (
        "service", "gradle", "21", 9090, "catalog")
    assert s.build_command == "./gradlew bootJar" and "Kotlin DSL, wrapper" in why(s)


def test_gradle_groovy_library_without_wrapper() -> None:
    s = only("java-gradle-groovy-lib")
    assert (s.kind, s.version, s.test_command) == ("library", "17", "gradle test")


def test_rust_axum_service() -> None:
    s = only("rust-axum")
    assert (s.kind, s.framework, s.version, s.port, s.binaries) == (
        "service", "axum", "1.83", 3000, ["geo-api"])


def test_rust_workspace_members() -> None:
    found = stacks("rust-workspace")
    assert set(found) == {"crates/core", "crates/cli", "crates/server"}
    assert found["crates/core"].kind == "library"
    assert "command-line tool" in why(found["crates/cli"])
    server = found["crates/server"]
    assert (server.kind, server.framework, server.port) == ("service", "actix-web", 8088)
    assert server.test_command == "cargo test -p ledger-server --locked"


def test_monorepo_finds_every_service_and_reports_unknown_stacks() -> None:
    found = stacks("monorepo")
    assert set(found) == {"libs/common", "services/api", "services/web", "services/billing",
                          "tools/legacy"}  # docs/requirements.txt is not a project
    assert {p: s.kind for p, s in found.items() if s.language != "unknown"} == {
        "libs/common": "library", "services/api": "service", "services/web": "service",
        "services/billing": "service"}
    legacy = found["tools/legacy"]
    assert legacy.language == "unknown" and "ruby" in why(legacy)


def test_empty_repository_is_unknown_not_guessed() -> None:
    (s,) = detect_stacks({"README.md": "# hi\n", "main.c": "int main(){}\n"})
    assert s.language == "unknown" and s.kind == "library"
    assert "no recognised build manifest" in why(s)


def test_requirements_only_dirs_inside_a_python_project_are_tooling() -> None:
    files = {**repo("py-fastapi-uv"), "scripts/requirements.txt": "requests\n"}
    assert [s.path for s in detect_stacks(files)] == ["."]


def test_names_are_unique_dns_labels() -> None:
    files = {"a/api/package.json": '{"name": "api", "scripts": {"test": "x"}}',
             "b/api/package.json": '{"name": "api"}'}
    names = [s.name for s in detect_stacks(files)]
    assert len(set(names)) == 2
    assert dns_label("@Acme/My_Service") == "my-service"
    assert dns_label("9lives") == "app-9lives"


def test_root_package_json_with_only_tooling_is_not_a_project() -> None:
    files = {"package.json": '{"private": true, "devDependencies": {"prettier": "^3"}}',
             **{f"svc/{p}": t for p, t in repo("node-express-npm").items()}}
    assert [s.path for s in detect_stacks(files)] == ["svc"]

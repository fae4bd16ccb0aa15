"""Go, JVM and Rust on held-out real layouts: multi-module builds, loopback listeners, embedded
frontends, binaries with subcommands, configured ports, and workflows that do or do not test.

Each input is written by us in the shape of the named upstream repository at the named commit:
only the lines detection reads, in our own words and values (no upstream file is copied).
"""

from __future__ import annotations

import json

from app.config import GenerateMode
from app.files import Files
from bench.realworld import ci_runs_tests
from bench.rehearse_build import rehearse
from jobs.pipeline.github import deliver
from jobs.pipeline.plan import plan_generation
from jobs.pipeline.report import check_output, warnings_section
from jobs.pipeline.stacks import detect_stacks
from jobs.pipeline.stacks.jvm import gradle_modules
from jobs.pipeline.validate import ValidationReport, validate_report
from tests.jobs.pipeline.test_stacks_realworld import only

BOOT = "org.springframework.boot"
WRAPPER = {"gradlew": "#!/bin/sh\n", "gradle/wrapper/gradle-wrapper.properties": "url=7.2\n"}


def services(files: Files) -> dict[str, object]:
    return {s.path: s for s in detect_stacks(files) if s.is_service}


def test_a_module_of_a_kotlin_multi_module_gradle_build_is_the_service() -> None:
    # daggerok/gradle-multi-module-spring-boot-starter @ b3c27907: the root applies no Boot
    # plugin; apps/consumer does, javaVersion=1.8 lives in gradle.properties.
    files = {
        **WRAPPER,
        "settings.gradle.kts": 'rootProject.name = "starter"\ninclude(\n    ":apps:consumer"\n)\n',
        "build.gradle.kts": 'plugins { kotlin("jvm") }\nallprojects { repositories { } }\n',
        "gradle.properties": "javaVersion=1.8\n",
        "apps/consumer/build.gradle.kts": f'plugins {{ id("{BOOT}") }}\ndependencies {{\n'
        f'  implementation("{BOOT}:spring-boot-starter-web")\n}}\n',
        "apps/consumer/src/main/kotlin/App.kt": "fun main() {}\n",
    }
    [stack] = services(files).values()
    assert (stack.path, stack.build_root, stack.version, stack.port) == (  # type: ignore[attr-defined]
        "apps/consumer", ".", "8", 8080)
    out = plan_generation(files).changes
    dockerfile = out["apps/consumer/Dockerfile"]
    assert "COPY . .\n" in dockerfile and "COPY src ./src" not in dockerfile
    assert "./gradlew --no-daemon -p apps/consumer bootJar -x test" in dockerfile
    assert "find apps/consumer/build/libs" in dockerfile
    assert "apps/consumer/Dockerfile.dockerignore" in out
    assert 'context: "."' in out[".github/workflows/delivery.yml"]
    report = validate_report({"Dockerfile": dockerfile})
    assert report.ok, report.errors()


def test_renamed_projects_and_a_web_starter_from_a_project_dependency() -> None:
    # conductor-oss/conductor @ b54f0d4e: projects renamed conductor-*, one moved with
    # projectDir; server applies Boot and gets the web starter through project(':conductor-rest').
    settings = ("rootProject.name = 'conductor'\ninclude 'server'\ninclude 'rest'\n"
                "include 'scheduler-core' // the scheduler\n"
                "rootProject.children.each {it.name=\"conductor-${it.name}\"}\n"
                "project(':conductor-scheduler-core').projectDir = file('scheduler/core')\n")
    assert gradle_modules(settings) == ["rest", "scheduler/core", "server"]
    files = {
        **WRAPPER,
        "settings.gradle": settings,
        "build.gradle": f"plugins {{ id '{BOOT}' version '3.5.14' }}\nallprojects {{\n"
        "  java { toolchain { languageVersion = JavaLanguageVersion.of(21) } }\n}\n",
        "server/build.gradle": f"plugins {{ id '{BOOT}' }}\n"
        "dependencies { implementation project(':conductor-rest') }\n",
        "server/src/main/java/Conductor.java": "class Conductor {}\n",
        "rest/build.gradle": f"dependencies {{ implementation '{BOOT}:spring-boot-starter-web' "
        "}\n",
        "scheduler/core/build.gradle": "dependencies { }\n",
    }
    found = services(files)
    assert list(found) == ["server"]
    assert "the web starter comes from module rest" in found["server"].reasons  # type: ignore[attr-defined]
    assert found["server"].version == "21"  # type: ignore[attr-defined]


def test_a_maven_module_builds_with_its_dependencies() -> None:
    # spring-petclinic/spring-petclinic-microservices @ 9a76b4e3: java.version in the parent
    # pom, ports only in docker-compose.yml, a config server's web comes with its starter.
    files = {
        "pom.xml": "<project><packaging>pom</packaging><properties><java.version>17"
        "</java.version></properties><modules><module>api</module>"
        "<module>core</module><module>config</module></modules></project>",
        "docker-compose.yml": "services:\n  api:\n    image: example/app-api\n    ports:\n"
        "      - 8081:8081\n  config-server:\n    image: example/config\n    ports:\n"
        "      - 8888:8888\n",
        "config/pom.xml": "<project><artifactId>config</artifactId><dependencies>"
        "<dependency>spring-cloud-config-server</dependency></dependencies>"
        "<build>spring-boot-maven-plugin</build></project>",
        "config/src/main/resources/application.yml": "server.port: 8888\n",
        "api/pom.xml": "<project><artifactId>api</artifactId><dependencies>"
        "<dependency>spring-boot-starter-web</dependency></dependencies></project>",
        "api/src/main/java/App.java": "class App {}\n",
        "core/pom.xml": "<project><artifactId>core</artifactId></project>",
    }
    found = services(files)
    stack = found["api"]
    assert (sorted(found), stack.port, stack.version) == (  # type: ignore[attr-defined]
        ["api", "config"], 8081, "17")
    dockerfile = plan_generation(files).changes["api/Dockerfile"]
    assert stack.build_command == "mvn -B -ntp -pl api -am -DskipTests package"  # type: ignore[attr-defined]
    assert "mvn -B -ntp -pl api -am -DskipTests package" in dockerfile


def test_a_loopback_default_next_to_its_env_variable_is_set_in_the_image() -> None:
    # miniflux/v2 @ 106cdd09: LISTEN_ADDR defaults to 127.0.0.1:8080 in internal/config.
    files = {
        "go.mod": "module miniflux.app/v2\n\ngo 1.26.0\n",
        "main.go": 'package main\nimport "miniflux.app/v2/internal/cli"\n'
        "func main() { cli.Parse() }\n",
        "internal/cli/cli.go": 'package cli\nimport "net/http"\n'
        "func Parse() { s := &http.Server{}; s.ListenAndServe() }\n",
        "internal/config/options.go": 'package config\nvar defaults = map[string]opt{\n'
        '\t"LISTEN_ADDR": {\n\t\traw: "127.0.0.1:8080",\n\t},\n}\n',
    }
    stack = only(files)
    assert (stack.env, stack.warnings, stack.version) == ({"LISTEN_ADDR": "0.0.0.0:8080"}, [],
                                                          "1.26")
    dockerfile = plan_generation(files).changes["Dockerfile"]
    assert "ENV LISTEN_ADDR=0.0.0.0:8080\n" in dockerfile
    assert 'ENTRYPOINT ["/app/miniflux-app"]' in dockerfile  # not "v2"


def test_a_loopback_address_in_code_is_a_warning_with_file_and_line() -> None:
    # xesina/golang-echo-realworld-example-app @ 2afa470f: e.Start("127.0.0.1:8585").
    files = {
        "go.mod": "module realworld\n\ngo 1.12\n\nrequire github.com/labstack/echo/v4 v4.1.6\n",
        "main.go": 'package main\n\nimport "github.com/labstack/echo/v4"\n\n'
        'func main() {\n\te := echo.New()\n\te.Start("127.0.0.1:8585")\n}\n',
        "docs/docs.go": 'package docs\nvar host = "127.0.0.1:8585"\n',
    }
    plan = plan_generation(files)
    section = warnings_section(plan)
    assert section is not None and '`main.go:7` binds "127.0.0.1:8585" (loopback)' in section
    assert "ENV " not in plan.changes["Dockerfile"]
    outcome = deliver(None, None, "0" * 40, plan, GenerateMode.SUGGEST, fork=False)
    _, summary, _ = check_output(plan, ValidationReport(results=[], timings={}), outcome,
                                 GenerateMode.SUGGEST, fork=False)
    assert f"## Warnings\n\n{section}\n\n## Artifacts" in summary  # in the check run


def test_an_env_file_listen_address_and_a_client_address() -> None:
    # fairingrey/actix-realworld-example-app @ 8348aedd: BIND_ADDRESS=127.0.0.1:8088 in
    # .env.example; bxcodec/go-clean-arch's DATABASE_HOST=localhost is a client's address.
    files = {
        "Cargo.toml": '[package]\nname = "conduit"\n[dependencies]\nactix-web = "1"\n',
        "src/main.rs": "fn main() { HttpServer::new(|| App::new()).bind(addr) }\n",
        ".env.example": "DATABASE_HOST=localhost\nBIND_ADDRESS=127.0.0.1:8088\n",
    }
    stack = only(files)
    assert (stack.port, stack.env) == (8088, {"BIND_ADDRESS": "0.0.0.0:8088"})
    kept = only({**files, "Dockerfile": "FROM rust\nEXPOSE 8088\n"})
    assert kept.env == {} and "add `ENV BIND_ADDRESS=0.0.0.0:8088`" in kept.warnings[0]


def test_a_binary_in_src_bin_with_a_subcommand_bound_to_loopback() -> None:
    # rust-lang/crates.io @ 57fa0006: src/bin/crates-io/main.rs (default-run), Procfile
    # `web: … crates-io server`, PORT defaults to 8888, 127.0.0.1 unless DEV_DOCKER is set.
    files = {
        "Cargo.toml": '[package]\nname = "crates_io"\ndefault-run = "crates-io"\n\n'
        '[dependencies]\naxum = "0.8"\n',
        "Cargo.lock": '[[package]]\nname = "libgit2-sys"\nversion = "0.18.7+1.9.6"\n\n'
        '[[package]]\nname = "pq-sys"\nversion = "0.7.5"\n',
        "src/lib.rs": "pub mod config;\n",
        "src/bin/crates-io/main.rs": "fn main() { server::run() }\n",
        "src/bin/crates-io/server.rs": "let l = TcpListener::bind((ip, port)).await?;\n"
        "axum::serve(l, app).await\n",
        "src/bin/monitor.rs": "fn main() {}\n",
        "src/config/bind.rs": 'let ip = if docker {\n  [0, 0, 0, 0].into()\n} else {\n'
        '  [127, 0, 0, 1].into()\n};\nlet port = var_parsed("PORT")?.unwrap_or(8888);\n',
        "Procfile": "release: ./target/release/crates-io migrate\n"
        "web: ./target/release/crates-io server\n",
    }
    stack = only(files)
    assert stack.binaries == ["crates-io", "monitor"]
    assert (stack.port, stack.start_command) == (8888, ["/app/crates-io", "server"])
    assert stack.native_deps == ["pq-sys"]  # libgit2 1.9 is newer than bookworm's: bundled
    assert "`src/config/bind.rs:4` binds [127, 0, 0, 1] (loopback)" in stack.warnings[0]
    dockerfile = plan_generation(files).changes["Dockerfile"]
    assert "--bin crates-io" in dockerfile and "libgit2" not in dockerfile
    assert 'ENTRYPOINT ["/app/crates-io", "server"]' in dockerfile


def test_ports_from_config_files() -> None:
    # LukeMathWalker/zero-to-production @ 970987c5 (configuration/base.yaml) and
    # LemmyNet/lemmy @ 439734dd (config/defaults.hjson): the database's port comes first.
    rust = {"Cargo.toml": '[package]\nname = "z"\n[dependencies]\nactix-web = "4"\n',
            "src/main.rs": "fn main() { HttpServer::new(f).listen(listener) }\n"}
    yaml = "database:\n  port: 5433\napplication:\n  port: 8000\n  host: 0.0.0.0\n"
    z2p = only({**rust, "configuration/base.yaml": yaml,
                "Cargo.lock": '[[package]]\nname = "libsqlite3-sys"\nversion = "0.30.1"\n'})
    assert (z2p.port, z2p.native_deps) == (8000, [])  # sqlx lists sqlite; no feature enables it
    hjson = ("{\n  database: {\n    port: 5433\n  }\n  prometheus: {\n    port: 10002\n  }\n"
             "  bind: \"0.0.0.0\"\n  port: 8536\n}\n")
    assert only({**rust, "config/defaults.hjson": hjson}).port == 8536


def test_an_embedded_npm_frontend_is_built_first_and_is_no_service() -> None:
    # gotify/server @ d543a8aa: ui/serve.go embeds build/*, the Vite output of ui/ (yarn,
    # vite a runtime dependency and a `.listen(` in its sources, so alone it reads as a server);
    # config defaults Port: 80; test plugins under plugin/testing are no binaries of the image.
    files = {
        "go.mod": "module github.com/gotify/server/v2\n\ngo 1.25.0\n\ntoolchain go1.26.0\n\n"
        "require github.com/gin-gonic/gin v1.12.0\n",
        "app.go": 'package main\nimport "github.com/gotify/server/v2/runner"\n'
        "func main() { runner.Run() }\n",
        "runner/runner.go": 'package runner\nimport "github.com/gin-gonic/gin"\n'
        "func Run() { gin.New(); srv.Serve(l); http.Server{} }\n",
        "config/config.go": "package config\nfunc Get() { c := Configuration{\n"
        "\tServer: Server{\n\t\tPort: 80,\n\t\tSSL: SSL{\n\t\t\tPort: 443,\n\t\t},\n\t},\n} }\n",
        "ui/serve.go": 'package ui\nimport "embed"\n//go:embed build/*\nvar box embed.FS\n',
        "ui/package.json": json.dumps({"name": "ui", "scripts": {"start": "vite",
                                                                 "build": "vite build"},
                                       "dependencies": {"react": "19", "vite": "7"}}),
        "ui/yarn.lock": "",
        "ui/src/reactions.ts": "stores.ws.listen((message) => {});\n",  # a WebSocket's
        "plugin/testing/broken/main.go": "package main\nfunc main() {}\n",
    }
    stacks = {s.path: s for s in detect_stacks(files)}
    go, ui = stacks["."], stacks["ui"]
    assert (go.port, go.version, go.binaries, ui.kind) == (80, "1.26", ["."], "library")
    assert "below 1024" in go.warnings[0]
    dockerfile = plan_generation(files).changes["Dockerfile"]
    assert "AS frontend-1\nWORKDIR /src\nCOPY ui/package.json ui/yarn.lock ./\n" in dockerfile
    assert "RUN yarn install --frozen-lockfile\nCOPY ui/ ./\nRUN yarn run build\n" in dockerfile
    assert "COPY --from=frontend-1 /src/build ./ui/build\n" in dockerfile
    report = validate_report({"Dockerfile": dockerfile})
    assert report.ok, report.errors()


def test_which_human_workflows_run_the_tests() -> None:
    # spring-petclinic/spring-petclinic-rest @ 698bd832: docker-build.yml only runs
    # `mvn compile jib:build`; jhipster/jhipster-sample-app @ f8da577c runs ./mvnw verify
    # through npm scripts.
    pom = ("<project><artifactId>app</artifactId><dependencies>spring-boot-starter-web"
           "</dependencies></project>")
    jib = {"pom.xml": pom, ".github/workflows/docker-build.yml": "jobs:\n  b:\n    steps:\n"
           "      - run: mvn compile jib:build\n"}
    plan = plan_generation(jib)
    assert ".github/workflows/ci.yml" in plan.changes
    entry = {"projects": [{"path": ".", "language": "java", "kind": "service",
                           "test": "mvn -B -ntp verify"}]}
    assert ci_runs_tests(entry, jib, plan) == [(".", True, "runs 'mvn -B -ntp verify'")]
    entry["projects"][0]["real_test"] = "./mvnw test"
    assert ci_runs_tests(entry, jib, plan) == [(".", False, "no step runs './mvnw test'")]
    npm = {"pom.xml": pom, "package.json": json.dumps({"scripts": {
        "ci:backend:test": "npm run backend:unit:test -- -Pprod",
        "backend:unit:test": "./mvnw -ntp verify --batch-mode"}}),
        ".github/workflows/app.yml": "jobs:\n  b:\n    steps:\n"
        "      - run: npm run ci:backend:test\n"}
    plan = plan_generation(npm)
    assert ".github/workflows/ci.yml" not in plan.changes
    entry["projects"][0]["real_test"] = "ci:backend:test"
    assert ci_runs_tests(entry, npm, plan) == [(".", True, "kept .github/workflows/app.yml")]


def test_the_static_build_rehearsal_finds_missing_build_inputs() -> None:
    # An embed of a directory no commit holds and no npm project builds: the warning, and the
    # rehearsal of the generated Dockerfile, both say so; the multi-module build is complete.
    files = {
        "go.mod": "module site\n\ngo 1.24\n\nrequire github.com/go-chi/chi/v5 v5.2.0\n",
        "main.go": 'package main\nimport "github.com/go-chi/chi/v5"\n//go:embed static\n'
        'var static embed.FS\nfunc main() { http.ListenAndServe(":8080", chi.NewRouter()) }\n',
    }
    assert "`main.go` embeds `static`, which no commit holds" in only(files).warnings[0]
    assert rehearse(files) == {"Dockerfile": [
        "main.go: //go:embed static matches nothing in the image"]}
    assert rehearse({**files, "static/index.html": "<p>"}) == {"Dockerfile": []}
    daggerok = {**WRAPPER, "settings.gradle": "include 'app', 'lib'\n", "build.gradle": "",
                "app/build.gradle": f"plugins {{ id '{BOOT}' }}\n// spring-boot-starter-web\n",
                "lib/build.gradle": ""}
    assert rehearse(daggerok) == {"app/Dockerfile": []}


def test_a_cobra_server_starts_with_its_serve_command() -> None:
    # dhax/go-base @ 45be02ce: main calls cmd.Execute(); cmd/serve.go is the cobra `serve`
    # command that starts api.NewServer(); viper's default port is 3000.
    files = {
        "go.mod": "module github.com/dhax/go-base\n\ngo 1.25.0\n\n"
        "require github.com/go-chi/chi/v5 v5.2.4\n",
        "main.go": 'package main\nimport "github.com/dhax/go-base/cmd"\n'
        "func main() { cmd.Execute() }\n",
        "cmd/serve.go": 'package cmd\nimport (\n\t"github.com/dhax/go-base/api"\n'
        '\t"github.com/spf13/cobra"\n\t"github.com/spf13/viper"\n)\n'
        'var serveCmd = &cobra.Command{\n\tUse: "serve",\n\tRun: func() { api.NewServer() },\n}\n'
        'func init() {\n\tviper.SetDefault("port", "3000")\n}\n',
        "api/server.go": 'package api\nimport (\n\t"net/http"\n\t"github.com/go-chi/chi/v5"\n)\n'
        "func NewServer() { srv := http.Server{Addr: addr}; srv.ListenAndServe() }\n",
    }
    stack = only(files)
    assert (stack.framework, stack.port, stack.start_command) == (
        "chi", 3000, ["/app/go-base", "serve"])
    assert 'ENTRYPOINT ["/app/go-base", "serve"]' in plan_generation(files).changes["Dockerfile"]

"""Node and Rust detection on the layouts real repositories have (inputs in our own words,
shaped like the named upstream repository at the named commit)."""

from __future__ import annotations

import json
from typing import Any

from jobs.pipeline.stacks import detect_stacks
from jobs.pipeline.stacks.runtime import newest
from tests.jobs.pipeline.test_stacks_realworld import only


def pkg(**fields: Any) -> str:
    return json.dumps(fields)


def test_compound_start_script_runs_the_node_entry() -> None:
    # sahat/hackathon-starter @ dbcac7a7: "start": "npm run scss && node app.js".
    s = only(
        {
            "package.json": pkg(
                name="hackathon",
                engines={"node": ">=24.18.0"},
                scripts={"start": "npm run scss && node app.js"},
                dependencies={"express": "^5"},
            ),
            "package-lock.json": "{}",
            "app.js": "app.set('port', process.env.PORT || 8080);\napp.listen(app.get('port'));\n",
        }
    )
    assert (s.start_command, s.port, s.version) == (["node", "app.js"], 8080, "24")


def test_pm2_start_falls_back_to_the_main_entry() -> None:
    # hagopj13/node-express-boilerplate @ 179ae84e: start is pm2, main src/index.js,
    # engines >=12 (the newest LTS inside it, not 12).
    s = only(
        {
            "package.json": pkg(
                name="boilerplate",
                main="src/index.js",
                engines={"node": ">=12.0.0"},
                scripts={"start": "pm2 start ecosystem.config.json --no-daemon"},
                dependencies={"express": "^4", "pm2": "^5"},
            ),
            "yarn.lock": "",
            "src/index.js": "server = app.listen(config.port);\n",
        }
    )
    assert (s.start_command, s.version, s.build_tool) == (["node", "src/index.js"], "24", "yarn")


def test_ts_node_entry_is_skipped_for_the_built_one() -> None:
    # lujakob/nestjs-realworld-example-app @ c1c2cc4e: "start": "node index.js" where index.js
    # registers ts-node (a dev dependency); start:prod runs dist/main.js after `tsc`.
    s = only(
        {
            "package.json": pkg(
                name="nest-rw",
                main="index.js",
                scripts={
                    "start": "node index.js",
                    "prestart:prod": "tsc",
                    "start:prod": "node dist/main.js",
                },
                dependencies={"@nestjs/core": "^7", "typescript": "^4"},
                devDependencies={"ts-node": "^8"},
            ),
            "package-lock.json": "{}",
            "index.js": "require('ts-node/register');\nrequire('./src/main');\n",
        }
    )
    assert s.start_command == ["node", "dist/main.js"]
    assert s.build_command == "npm run build"


def test_a_start_script_of_runtime_tools_stays_npm_start() -> None:
    # fastify/fastify-example-twitter @ 1823ae5b: `env-cmd local.env fastify start index.js`,
    # both tools are dependencies; index.js exports a plugin (no .listen). env-cmd spawns
    # `fastify` from PATH, which only `npm start` sets up (the rehearsal caught
    # node_modules/.bin/env-cmd failing with "spawn fastify ENOENT").
    s = only(
        {
            "package.json": pkg(
                name="server",
                main="index.js",
                scripts={"start": "env-cmd local.env fastify start index.js"},
                dependencies={"fastify": "^2", "fastify-cli": "^1", "env-cmd": "^10"},
            ),
            "index.js": "module.exports = async function (fastify) {}\n",
        }
    )
    assert s.start_command == ["npm", "start"] and s.is_service
    assert "start: npm start (env-cmd: runtime dependencies)" in s.reasons


def test_a_dev_tool_start_is_undecided() -> None:
    # gothinkster/node-express-realworld-example-app @ 30b68e1e: "start": "nx serve".
    s = only(
        {
            "package.json": pkg(
                name="api",
                scripts={"start": "nx serve", "test": "nx test"},
                dependencies={"express": "^4"},
                devDependencies={"nx": "^19"},
            ),
            "package-lock.json": "{}",
            "src/main.ts": "app.listen(PORT);\n",
        }
    )
    assert s.undecided == "the command that starts the built service" and not s.is_service
    # ... unless the repository's own Dockerfile answers it (that one builds the image).
    kept = only(
        {
            "package.json": pkg(
                name="api", scripts={"start": "nx serve"}, dependencies={"express": "^4"}
            ),
            "src/main.ts": "app.listen(PORT);\n",
            "Dockerfile": 'FROM node:lts-alpine\nENV PORT=3000\nCMD [ "node", "api" ]\n',
        }
    )
    assert kept.is_service


def test_bun_lockfile_and_pnpm_turbo_member() -> None:
    # fastapi/full-stack-fastapi-template @ 68adb40d: bun workspace; t3-oss/create-t3-turbo
    # @ e69b5858: pnpm workspace, the Next app starts through a dotenv wrapper script.
    bun = detect_stacks(
        {
            "package.json": pkg(name="root", private=True, workspaces=["frontend"]),
            "bun.lock": "{}",
            "frontend/package.json": pkg(
                name="frontend", scripts={"build": "vite build"}, dependencies={"react": "^19"}
            ),
        }
    )
    assert [(s.path, s.build_tool) for s in bun] == [("frontend", "bun")]
    t3 = {
        s.path: s
        for s in detect_stacks(
            {
                "package.json": pkg(name="t3", engines={"node": "^22.21.0"}),
                "pnpm-workspace.yaml": "packages:\n  - apps/*\n  - packages/*\n",
                "pnpm-lock.yaml": "",
                "apps/nextjs/package.json": pkg(
                    name="@acme/nextjs",
                    scripts={
                        "build": "pnpm with-env next build",
                        "start": "pnpm with-env next start",
                    },
                    dependencies={"next": "^15", "@acme/api": "workspace:*"},
                ),
                "packages/api/package.json": pkg(name="@acme/api", scripts={"build": "tsc"}),
            }
        )
    }
    web = t3["apps/nextjs"]
    assert (web.version, web.start_command[:2]) == ("22", ["node_modules/.bin/next", "start"])
    assert web.build_command == "pnpm --filter @acme/nextjs... run build"


def test_version_ranges_pick_the_newest_supported_inside() -> None:
    lts = ("24", "22")
    assert [newest(lts, r) for r in (">=12", "^22.1.0", "~22.1", "20.x || 22.x", "<22")] == [
        "24",
        "22",
        "22",
        "22",
        None,
    ]
    py = ("3.13", "3.12", "3.11", "3.10")
    assert [newest(py, r) for r in (">=3.9", "^3.9", "~=3.10", "==3.11.*", ">=3.8,<3.12")] == [
        "3.13",
        "3.13",
        "3.13",
        "3.11",
        "3.11",
    ]


AXUM = (
    '[package]\nname = "realworld"\n[dependencies]\naxum = "0.6"\n'
    'sqlx = { version = "0.6", features = ["postgres"] }\n'
)


def test_rust_native_libraries_and_a_redis_url_is_not_the_port() -> None:
    # launchbadge/realworld-axum-sqlx @ f1b25654: openssl-sys in Cargo.lock; the server binds
    # 0.0.0.0:8080, while a config default names a redis URL.
    s = only(
        {
            "Cargo.toml": AXUM,
            "Cargo.lock": '[[package]]\nname = "openssl-sys"\n',
            "src/main.rs": 'const REDIS: &str = "redis://localhost:6379";\nfn main() {}\n',
            "src/http/mod.rs": 'axum::Server::bind(&"0.0.0.0:8080".parse()?)\n',
        }
    )
    assert (s.port, s.native_deps) == (8080, ["openssl-sys"])


def test_rust_bind_address_from_env_and_stable_toolchain() -> None:
    # fairingrey/actix-realworld-example-app @ 8348aedd: BIND_ADDRESS in .env.example, pq-sys.
    s = only(
        {
            "Cargo.toml": '[package]\nname = "conduit"\n[dependencies]\nactix-web = "1"\n',
            "Cargo.lock": '[[package]]\nname = "pq-sys"\n',
            "rust-toolchain": "stable\n",
            ".env.example": "DATABASE_URL=postgres://localhost:5432/conduit\n"
            "BIND_ADDRESS=127.0.0.1:8088\n",
            "src/main.rs": "fn main() {}\n",
            "src/app/mod.rs": "HttpServer::new(move || App::new()).bind(&bind_address)\n",
        }
    )
    assert (s.port, s.version, s.native_deps) == (8088, "1.91", ["pq-sys"])


def test_rust_server_in_a_path_dependency_and_a_binary_that_serves_nothing() -> None:
    # JoeyMckenzie/realworld-rust-axum-sqlx @ 248e6f82: conduit-bin calls a serve() defined in
    # the conduit-api path dependency. LemmyNet/lemmy: a utility [[bin]] that serves nothing.
    found = {
        s.path: s
        for s in detect_stacks(
            {
                "Cargo.toml": '[workspace]\nmembers = ["crates/*"]\n',
                "Cargo.lock": "",
                "crates/bin/Cargo.toml": '[package]\nname = "conduit-bin"\n[dependencies]\n'
                'axum = "0.6"\n'
                'conduit-api = { path = "../api" }\n',
                "crates/bin/src/main.rs": "fn main() { Controller::serve(port) }\n",
                "crates/api/Cargo.toml": '[package]\nname = "conduit-api"\n[dependencies]\n'
                'axum = "0.6"\n',
                "crates/api/src/lib.rs": 'axum::Server::bind(&addr(port).parse()?)\n',
                "crates/utils/Cargo.toml": '[package]\nname = "utils"\n[dependencies]\n'
                'axum = "0.6"\n',
                "crates/utils/src/main.rs": "fn main() { print_docs() }\n",
            }
        )
    }
    assert found["crates/bin"].is_service and found["crates/bin"].start_command == [
        "/app/conduit-bin"
    ]
    assert not found["crates/utils"].is_service and not found["crates/api"].is_service

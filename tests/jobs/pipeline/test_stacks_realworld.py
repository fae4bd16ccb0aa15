"""Detection on the layouts real repositories have.

Each input is written by us in the shape of the named upstream repository at the named commit:
only the lines detection reads, in our own words and values (no upstream file is copied).
"""

from __future__ import annotations

from app.files import Files
from jobs.pipeline.stacks import Stack, detect_stacks


def only(files: Files, repo_name: str | None = None) -> Stack:
    found = [s for s in detect_stacks(files, repo_name) if s.language != "unknown"]
    assert len(found) == 1, [s.path for s in found]
    return found[0]


def by_path(files: Files) -> dict[str, Stack]:
    return {s.path: s for s in detect_stacks(files)}


# --- Go --------------------------------------------------------------------------------------


def test_gin_run_without_an_address() -> None:
    # gothinkster/golang-gin-realworld-example-app @ 728cb04b: `r.Run()` in the root main.
    s = only(
        {
            "go.mod": "module realworld-backend\n\ngo 1.15\n\n"
            "require github.com/gin-gonic/gin v1.6.3\n",
            "hello.go": 'package main\n\nimport "github.com/gin-gonic/gin"\n\n'
            "func main() {\n\tr := gin.Default()\n\tr.Run()\n}\n",
        }
    )
    assert (s.kind, s.framework, s.port, s.version) == ("service", "gin", 8080, "1.25")
    assert "go.mod declares go 1.15 (a minimum): building with 1.25" in s.reasons


def test_echo_started_from_cmd_with_the_address_from_env() -> None:
    # bxcodec/go-clean-arch @ e06c6d0c: app/main.go, `e.Start(address)`, SERVER_ADDRESS in
    # example.env.
    s = only(
        {
            "go.mod": "module github.com/acme/articles\n\ngo 1.20\n\n"
            "require github.com/labstack/echo/v4 v4.11.1\n",
            "app/main.go": 'package main\n\nimport "github.com/labstack/echo/v4"\n\n'
            'func main() {\n\te := echo.New()\n\taddress := os.Getenv("SERVER_ADDRESS")\n'
            "\te.Logger.Fatal(e.Start(address))\n}\n",
            "example.env": 'SERVER_ADDRESS = ":9191"\nDATABASE_PORT = "3306"\n',
        }
    )
    assert (s.kind, s.framework, s.port, s.start_command) == ("service", "echo", 9191, ["/app/app"])


def test_fiber_server_in_a_package_run_from_cmd() -> None:
    # evrone/go-clean-template: pkg/httpserver calls `app.Listen`, cmd/app/main.go runs it.
    s = only(
        {
            "go.mod": "module github.com/acme/svc\n\ngo 1.24\n\n"
            "require github.com/gofiber/fiber/v2 v2.52.0\n",
            "cmd/app/main.go": 'package main\n\nimport "github.com/acme/svc/internal/app"\n\n'
            "func main() { app.Run() }\n",
            "internal/app/app.go": 'package app\n\nimport "github.com/acme/svc/pkg/httpserver"\n'
            "func Run() { httpserver.New().Start() }\n",
            "pkg/httpserver/server.go": "package httpserver\n\n"
            'import "github.com/gofiber/fiber/v2"\n'
            "func (s *Server) Start() { go s.App.Listen(s.addr) }\n",
            ".env.example": "HTTP_PORT=8090\nGRPC_PORT=8091\n",
        }
    )
    assert (s.kind, s.framework, s.port, s.start_command) == (
        "service",
        "fiber",
        8090,
        ["/app/app"],
    )


def test_cgo_sqlite_driver_is_recorded() -> None:
    # alpody/golang-fiber-realworld-example-app @ 134a4987: gorm's sqlite driver needs cgo.
    s = only(
        {
            "go.mod": "module fiber-realworld\n\ngo 1.23\n\nrequire (\n"
            "\tgithub.com/gofiber/fiber/v2 v2.52.5\n"
            "\tgorm.io/driver/sqlite v1.5.6\n)\n",
            "main.go": 'package main\n\nimport "github.com/gofiber/fiber/v2"\n\n'
            'func main() {\n\tr := fiber.New()\n\tr.Listen(":8585")\n}\n',
        }
    )
    assert s.native_deps == ["gorm.io/driver/sqlite"] and s.port == 8585


def test_two_servers_are_not_guessed() -> None:
    s = only(
        {
            "go.mod": "module example.com/two\n\ngo 1.24\n",
            "cmd/a/main.go": 'package main\nimport "net/http"\n'
            'func main() { http.ListenAndServe(":1", nil) }\n',
            "cmd/b/main.go": 'package main\nimport "net/http"\n'
            'func main() { http.ListenAndServe(":2", nil) }\n',
        }
    )
    assert s.undecided == "which of several servers this image runs" and not s.is_service
    assert s.evidence == [
        "main package cmd/a starts a server",
        "main package cmd/b starts a server",
    ]


# --- Python ----------------------------------------------------------------------------------

FLASK_REALWORLD: Files = {
    # gothinkster/flask-realworld-example-app @ 4b95fb22: requirements.txt only `-r`s
    # requirements/prod.txt; dev.txt adds pytest; Procfile runs gunicorn autoapp:app.
    "requirements.txt": "# for the PaaS\n-r requirements/prod.txt\n",
    "requirements/prod.txt": "Flask\ngunicorn\nFlask_SQLAlchemy==2.2\n",
    "requirements/dev.txt": "-r prod.txt\npytest\nfactory-boy\n",
    "Procfile": "web: gunicorn autoapp:app -b 0.0.0.0:$PORT -w 3\n",
    "autoapp.py": "from conduit.app import create_app\napp = create_app(CONFIG)\n",
    "conduit/__init__.py": "",
    "conduit/app.py": "def create_app(config_object=None):\n    app = Flask(__name__)\n"
    "    return app\n",
    "tests/test_articles.py": "def test_list(testapp):\n    assert testapp\n",
}


def test_flask_factory_behind_requirements_includes_and_a_procfile() -> None:
    s = only(FLASK_REALWORLD)
    assert (s.kind, s.framework, s.build_tool, s.port) == ("service", "flask", "pip", 8000)
    assert s.start_command == ["gunicorn", "--bind", "0.0.0.0:8000", "autoapp:app"]
    assert s.test_command == "python -m pytest" and s.ci_tools == []
    assert s.install_command == (
        "python -m pip install -r requirements.txt -r requirements/dev.txt -r requirements/prod.txt"
    )


def test_boot_script_port_and_tests_py() -> None:
    # miguelgrinberg/microblog @ a975ef64: boot.sh `exec gunicorn -b :5000 ... microblog:app`,
    # unittest tests in tests.py.
    s = only(
        {
            "requirements.txt": "Flask==3.0.0\ngunicorn==21.2.0\n",
            "boot.sh": "#!/bin/bash\nflask db upgrade\n"
            "exec gunicorn -b :5000 --access-logfile - microblog:app\n",
            "microblog.py": "from app import create_app\napp = create_app()\n",
            "app/__init__.py": "def create_app(config_class=Config):\n"
            "    app = Flask(__name__)\n    return app\n",
            "tests.py": "import unittest\nclass UserModelCase(unittest.TestCase):\n    pass\n",
        }
    )
    assert (s.port, s.start_command[-1], s.test_command) == (
        5000,
        "microblog:app",
        "python -m unittest discover",
    )


def test_fastapi_get_application_factory_with_poetry() -> None:
    # nsidnev/fastapi-realworld-example-app @ 029eb778: `app = get_application()`.
    s = only(
        {
            "pyproject.toml": '[tool.poetry]\nname = "realworld"\n[tool.poetry.dependencies]\n'
            'python = "^3.9"\nfastapi = "^0.79"\nuvicorn = "^0.18"\n'
            '[tool.poetry.dev-dependencies]\npytest = "^7.1"\n',
            "app/__init__.py": "",
            "app/main.py": "def get_application() -> FastAPI:\n    application = FastAPI()\n"
            "    return application\n\n\napp = get_application()\n",
        }
    )
    assert s.start_command == ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
    assert (s.version, s.test_command) == ("3.13", "poetry run pytest")


def test_src_package_versus_src_layout() -> None:
    # zhanymkanov/fastapi_production_template @ 649e8404: src/ is itself a package.
    package = only(
        {
            "requirements.txt": "fastapi\nuvicorn\n",
            "src/__init__.py": "",
            "src/main.py": "app = FastAPI()\n",
        }
    )
    assert package.start_command[:2] == ["uvicorn", "src.main:app"]
    # Netflix/dispatch @ dd2837e8: src layout, the package is src/dispatch.
    layout = only(
        {
            "requirements.txt": "fastapi\nuvicorn\n",
            "src/dispatch/__init__.py": "",
            "src/dispatch/main.py": "app = FastAPI()\n",
        }
    )
    assert layout.start_command[:4] == ["uvicorn", "dispatch.main:app", "--app-dir", "src"]


def test_django_wsgi_module_and_manage_py_test() -> None:
    # wagtail/bakerydemo @ 8e2b6257: settings package (settings.dev), WSGI_APPLICATION in
    # settings/base.py, gunicorn not declared; Django tests in app packages.
    files = {
        "requirements.txt": "-r requirements/base.txt\n",
        "requirements/base.txt": "Django>=6.0,<6.1\nwagtail>=7.4\n",
        "manage.py": 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bakery.settings.dev")\n',
        "bakery/__init__.py": "",
        "bakery/wsgi.py": "application = get_wsgi_application()\n",
        "bakery/settings/base.py": 'WSGI_APPLICATION = "bakery.wsgi.application"\n'
        "CORS_ORIGIN_WHITELIST = ('0.0.0.0:4000',)\n",
        "bakery/base/tests/test_pages.py": "class T(TestCase):\n    pass\n",
    }
    s = only(files)
    assert s.start_command == ["python", "manage.py", "runserver", "--noreload", "0.0.0.0:8000"]
    assert s.test_command == "python manage.py test" and s.port == 8000
    s = only({**files, "requirements/base.txt": "Django\ngunicorn\n"})
    assert s.start_command == [
        "gunicorn",
        "--chdir",
        ".",
        "--bind",
        "0.0.0.0:8000",
        "bakery.wsgi:application",
    ]


def test_a_setup_py_that_is_not_a_project() -> None:
    # A settings module called setup.py inside an application is not a second project.
    found = by_path(
        {
            "requirements.txt": "flask\n",
            "app.py": "app = Flask(__name__)\n",
            "tools/setup.py": "DEBUG = True\n",
        }
    )
    assert set(found) == {"."}


def test_pytest_style_tests_without_pytest_declared() -> None:
    s = only(
        {
            "requirements.txt": "flask\n",
            "app.py": "app = Flask(__name__)\n",
            "tests/test_app.py": "def test_index(client):\n    assert client\n",
            "pyproject.toml": "[tool.ruff]\nline-length = 100\n",
        }
    )
    assert (s.test_command, s.lint_command) == ("python -m pytest", "python -m ruff check .")
    assert s.ci_tools == ["pytest", "ruff"]


def test_uv_workspace_member_and_nameless_root() -> None:
    # fastapi/full-stack-fastapi-template @ 68adb40d: root pyproject is a uv workspace with
    # uv.lock; backend/ is the member (no lockfile of its own, hatchling backend).
    found = by_path(
        {
            "pyproject.toml": '[tool.uv.workspace]\nmembers = ["backend"]\n',
            "uv.lock": "version = 1\n",
            "backend/pyproject.toml": '[project]\nname = "app"\nrequires-python = ">=3.14,<4.0"\n'
            'dependencies = ["fastapi[standard]"]\n'
            '[dependency-groups]\ndev = ["pytest"]\n'
            '[build-system]\nbuild-backend = "hatchling.build"\n',
            "backend/app/__init__.py": "",
            "backend/app/main.py": "app = FastAPI()\n",
        }
    )
    s = found["backend"]
    assert (s.build_tool, s.workspace_root, s.version) == ("uv", ".", "3.14")
    assert s.install_command == "uv sync --locked --all-packages"
    root = only(
        {"requirements.txt": "flask\n", "app.py": "app = Flask(__name__)\n"},
        repo_name="octo/payments",
    )
    assert root.name == "payments"


def test_web_framework_without_an_entry_point_is_undecided() -> None:
    s = only(
        {"requirements.txt": "fastapi\nuvicorn\n", "service/routes.py": "router = APIRouter()\n"}
    )
    assert s.undecided == "which module creates the fastapi application" and not s.is_service

"""The emulator's ASGI application: REST routes, control routes, GitHub-style errors."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tests.emulator import (
    control,
    control_more,
    control_trunk,
    routes_app,
    routes_archive,
    routes_checks,
    routes_deploy,
    routes_envs,
    routes_git,
    routes_pulls,
    routes_web,
)
from tests.emulator.api import Runtime, error_response
from tests.emulator.auth import new_app
from tests.emulator.hooks import Hooks
from tests.emulator.state import Store


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "Not Found" if exc.status_code == 404 else str(exc.detail)
    rt: Runtime = request.app.state.rt
    if not request.url.path.startswith("/_emulator"):
        with rt.store.lock:
            rt.store.requests.append({"method": request.method, "path": request.url.path,
                                      "query": str(request.url.query),
                                      "status": exc.status_code})
    return error_response(exc.status_code, message)


def create_app(store: Store | None = None) -> Starlette:
    """A fresh emulated GitHub with a freshly generated App."""
    store = store or Store(new_app())
    routes = [
        *routes_app.ROUTES,
        *routes_checks.ROUTES,  # before routes_git: commits/{ref}/check-runs
        *routes_git.ROUTES,
        *routes_pulls.ROUTES,
        *routes_deploy.ROUTES,
        *routes_archive.ROUTES,
        *routes_web.ROUTES,
        *control_trunk.ROUTES,
        *routes_envs.ROUTES,
        *control_more.ROUTES,  # before control: more specific /check-runs/{id}/action
        *control.ROUTES,
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.rt = Runtime(store, Hooks(store))
    return app

"""The request pipeline every REST endpoint goes through.

faults → request validation (OpenAPI) → authentication → repository access → handler,
with rate-limit headers on the answer and every request recorded for the control API.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.emulator import auth, git
from tests.emulator.hooks import Hooks
from tests.emulator.openapi import validate_request
from tests.emulator.state import Installation, Repo, Store

DOCS = "https://docs.github.com/rest"


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


@dataclass
class Runtime:
    store: Store
    hooks: Hooks
    rng: random.Random = field(default_factory=lambda: random.Random(0))


@dataclass
class Ctx:
    rt: Runtime
    request: Request
    params: dict[str, str]
    query: QueryParams
    body: Any
    installation: Installation | None = None
    repo: Repo | None = None
    user: str | None = None  # a person's own token (`user_or_token` routes) instead of the App

    @property
    def store(self) -> Store:
        return self.rt.store

    @property
    def hooks(self) -> Hooks:
        return self.rt.hooks

    @property
    def bot(self) -> str:
        return self.rt.store.app.bot_login

    def need_repo(self) -> Repo:
        assert self.repo is not None
        return self.repo

    def field(self, name: str, default: Any = ...) -> Any:
        body = self.body if isinstance(self.body, dict) else {}
        if name in body:
            return body[name]
        if default is ...:
            raise ApiError(422, "Invalid request.\n\n" + f'"{name}" wasn\'t supplied.')
        return default


Result = tuple[int, Any] | Response
Handler = Callable[[Ctx], Result]


def error_response(
    status: int, message: str, headers: dict | None = None, **extra: Any
) -> Response:
    body = {"message": message, **extra, "documentation_url": DOCS, "status": str(status)}
    return JSONResponse(body, status_code=status, headers=headers)


def _fault(rt: Runtime) -> Response | None:
    f = rt.store.faults
    f.used += 1
    if f.lifts_at is not None and time.time() >= f.lifts_at:  # the reset came: quota refilled
        f.rate_limit_after, f.lifts_at, f.used = None, None, 1
    if f.rate_limit_after is not None and f.used > f.rate_limit_after:
        return error_response(403, "API rate limit exceeded for installation.")
    secondary = f.secondary_rate_limit
    if secondary is True or (
        isinstance(secondary, int) and not isinstance(secondary, bool) and f.used > secondary
    ):
        return error_response(
            f.secondary_status,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you "
            "try again.",
            headers={"Retry-After": "60"},
        )
    if f.error_rate and rt.rng.random() < f.error_rate:
        status = rt.rng.choice([502, 503])
        return error_response(status, "Server Error" if status == 502 else "Service Unavailable")
    return None


def _rate_headers(store: Store) -> dict[str, str]:
    f = store.faults
    limit = f.rate_limit_after if f.rate_limit_after is not None else 5000
    if f.reset_at < time.time():
        f.reset_at = int(time.time()) + 3600
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, limit - f.used)),
        "X-RateLimit-Reset": str(f.reset_at),
        "X-RateLimit-Used": str(min(f.used, limit)),
        "X-RateLimit-Resource": "core",
        "X-GitHub-Api-Version-Selected": "2022-11-28",
        "X-GitHub-Request-Id": f"EMU:{f.used:08X}",
    }


def _validate(method: str, path: str, body: Any) -> str | None:
    return validate_request(method, path, body)


def _handle(rt: Runtime, request: Request, body: Any, handler: Handler, mode: str,
            received: float = 0.0) -> Response:
    s = rt.store
    with s.lock:
        latency = s.faults.latency_ms
    if latency:
        time.sleep(latency / 1000)
    with s.lock:
        resp = _fault(rt)
        if resp is None:
            resp = _dispatch(rt, request, body, handler, mode)
        resp.headers.update(_rate_headers(s))
        s.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": str(request.url.query),
                "status": resp.status_code,
                "time": time.time(),
                "received": received,  # when its request reached the endpoint
            }
        )
        return resp


def _dispatch(rt: Runtime, request: Request, body: Any, handler: Handler, mode: str) -> Response:
    s = rt.store
    ctx = Ctx(rt, request, dict(request.path_params), request.query_params, body)
    try:
        error = _validate(request.method, request.url.path, body)
        if error:
            raise ApiError(422, f"Invalid request.\n\n{error}")
        if mode == "jwt":
            auth.verify_jwt(s, request.headers.get("authorization"))
        elif mode in ("token", "user_or_token"):
            header = request.headers.get("authorization")
            ctx.user = auth.user_of(s, header) if mode == "user_or_token" else None
            if ctx.user is None:
                ctx.installation = auth.verify_token(s, header)
        if "owner" in ctx.params and "repo" in ctx.params:
            ctx.repo = s.repo(ctx.params["owner"], ctx.params["repo"])
            covered = ctx.repo is not None and (
                ctx.installation is None
                or ctx.repo.full_name.lower() in (r.lower() for r in ctx.installation.repos)
            )
            if not covered:
                raise not_found()
        result = handler(ctx)
    except auth.AuthError as e:
        return error_response(e.status, e.message)
    except ApiError as e:
        return error_response(e.status, e.message, **e.extra)
    except git.GitError as e:
        return error_response(422, str(e))
    if isinstance(result, Response):
        return result
    status, data = result
    if status == 204 or data is None:
        return Response(status_code=status)
    return JSONResponse(data, status_code=status)


def api(path: str, method: str, handler: Handler, mode: str = "token") -> Route:
    """A REST route. `mode`: "token" (installation token), "jwt" (App JWT) or "none"."""

    async def endpoint(request: Request) -> Response:
        received = time.time()
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return error_response(400, "Problems parsing JSON")
        rt: Runtime = request.app.state.rt
        return await run_in_threadpool(_handle, rt, request, body, handler, mode, received)

    return Route(path, endpoint, methods=[method], name=f"{method} {path}")


def paginate(ctx: Ctx, items: list, base_url: str) -> Response:
    """One page of `items` with GitHub's `Link` header (per_page ≤ 100, pages from 1)."""
    per_page = min(int(ctx.query.get("per_page", 30)), 100)
    page = max(int(ctx.query.get("page", 1)), 1)
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []
    if page < last:
        links.append(f'<{base_url}?per_page={per_page}&page={page + 1}>; rel="next"')
        links.append(f'<{base_url}?per_page={per_page}&page={last}>; rel="last"')
    if page > 1:
        links.append(f'<{base_url}?per_page={per_page}&page=1>; rel="first"')
        links.append(f'<{base_url}?per_page={per_page}&page={page - 1}>; rel="prev"')
    headers = {"Link": ", ".join(links)} if links else None
    return JSONResponse(chunk, headers=headers)

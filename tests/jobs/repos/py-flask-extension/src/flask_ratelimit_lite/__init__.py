"""A tiny rate limiter for Flask applications."""
from flask import Flask, request


class RateLimit:
    def __init__(self, app: Flask | None = None, per_minute: int = 60) -> None:
        self.per_minute = per_minute
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        app.before_request(self._check)

    def _check(self) -> None:
        _ = request.remote_addr

"""Event routing, Probot style: `(event, action)` -> handlers that plan jobs.

Handlers are pure: they read the lenient event model and return `JobSpec`s. The web
endpoint enqueues what they return; nothing here talks to GitHub or Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.events import Event
from app.queue import JobSpec
from app.webhooks import Delivery

Handler = Callable[[Event, Delivery], list[JobSpec]]


@dataclass(frozen=True)
class Route:
    event: str
    actions: frozenset[str] | None  # None: every action
    handler: Handler
    humans_only: bool  # never triggered by our own bot (no loops)
    only_us: bool = False  # only for events our own bot caused


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._matching: dict[tuple[str, str | None], list[Route]] = {}  # per delivery: cached

    def register(
        self, event: str, *actions: str, humans_only: bool = True, only_us: bool = False
    ) -> Callable[[Handler], Handler]:
        def add(handler: Handler) -> Handler:
            self._matching.clear()
            self.routes.append(Route(event, frozenset(actions) or None, handler,
                                     humans_only and not only_us, only_us))
            return handler

        return add

    def merge(self, *others: Router) -> Router:
        self._matching.clear()
        for other in others:
            self.routes.extend(other.routes)
        return self

    def matching(self, event: str, action: str | None) -> list[Route]:
        key = (event, action)
        found = self._matching.get(key)
        if found is None:
            found = [r for r in self.routes
                     if r.event == event and (r.actions is None or (action in r.actions))]
            if len(self._matching) < 1024:  # only signed deliveries get here; still bounded
                self._matching[key] = found
        return found

    def dispatch(self, delivery: Delivery, event: Event, bot_login: str | None) -> list[JobSpec]:
        from_us = is_own_bot(event, bot_login)
        jobs: list[JobSpec] = []
        for route in self.matching(delivery.event, delivery.action):
            if (route.humans_only and from_us) or (route.only_us and not from_us):
                continue
            jobs.extend(route.handler(event, delivery))
        return jobs


def is_own_bot(event: Event, bot_login: str | None) -> bool:
    sender = event.sender
    return bool(bot_login and sender and sender.login.lower() == bot_login.lower())

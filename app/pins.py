"""Action pins: every `uses:` we generate is a full commit SHA with its tag in a comment.

The offline table (workflow_templates/action-pins.json) is the fallback and the source for
tests; online, a resolver (tag -> SHA through the GitHub API, passed in by the job) refreshes
it. The pure core never touches the network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from app import TEMPLATES_DIR

PINS_FILE = TEMPLATES_DIR / "action-pins.json"
SHA = re.compile(r"^[0-9a-f]{40}$")

# (action "owner/repo", ref) -> sha, or None when the ref is unknown.
Resolver = Callable[[str, str], str | None]


class Pin(BaseModel):
    ref: str
    sha: str
    runs_using: str = "node24"


class UnknownAction(KeyError):
    """An action the table does not pin: templates must only use pinned actions."""


class Pins(BaseModel):
    pins: dict[str, Pin]

    @classmethod
    def load(cls, path: Path = PINS_FILE) -> Pins:
        return _load(str(path))

    def uses(self, action: str) -> str:
        """`owner/repo[/path]@<sha> # <ref>` for an action the table pins."""
        repo = "/".join(action.split("/")[:2])
        pin = self.pins.get(repo)
        if pin is None:
            raise UnknownAction(f"no pin for {repo}; add it to {PINS_FILE.name}")
        return f"{action}@{pin.sha} # {pin.ref}"

    def refreshed(self, resolve: Resolver) -> Pins:
        """A copy with every pin's ref re-resolved online; unresolvable refs keep their SHA.

        Wrap the resolver with `cached()` and keep it for the process, so each
        (action, ref) costs one API call at most.
        """
        fresh = {}
        for action, pin in self.pins.items():
            sha = resolve(action, pin.ref)
            ok = isinstance(sha, str) and SHA.match(sha)
            fresh[action] = pin.model_copy(update={"sha": sha}) if ok else pin
        return Pins(pins=fresh)


def cached(resolve: Resolver, size: int = 256) -> Resolver:
    return lru_cache(maxsize=size)(resolve)


@lru_cache(maxsize=4)
def _load(path: str) -> Pins:
    return Pins.model_validate({"pins": json.loads(Path(path).read_text())["pins"]})

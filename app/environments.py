"""Provisioning GitHub Environments from `.github/shipcrew.yml` (`shipcrew environments`).

For each configured environment: create it, add its required reviewers
(`environments.*.reviewers`), `prevent_self_review`, the wait timer, the deployment branch
policies (`environments.*.branches`) and shipcrew's own custom deployment protection rule.
It runs with an admin's token, so the App keeps least privilege (`administration` is not in
app.yml). Idempotent; `plan` shows the diff, `apply` makes it. It only adds: a reviewer or a
branch policy someone set by hand is never removed.

`diff` is pure; `read_current` and `apply` are the GitHub edge.
"""

from __future__ import annotations

from typing import Any

from githubkit.exception import RequestFailed
from pydantic import BaseModel

from app.config import RepoConfig
from app.github import body


class EnvState(BaseModel):
    name: str
    exists: bool = True
    reviewers: list[str] = []  # "user:login" | "team:slug"
    prevent_self_review: bool = False
    wait_timer: int = 0
    branches: list[str] | None = None  # None: any branch may deploy
    protection_rule: bool = False  # shipcrew's custom rule is enabled


class Change(BaseModel):
    environment: str
    what: str  # create | reviewer | prevent_self_review | wait_timer | branch | protection_rule
    detail: str

    def line(self) -> str:
        return f"+ {self.environment}: {self.what} {self.detail}".rstrip()


def desired(config: RepoConfig) -> list[EnvState]:
    out = []
    for name, env in config.environments.items():
        r = env.reviewers
        out.append(EnvState(
            name=name,
            reviewers=[f"user:{u}" for u in (r.users if r else [])]
            + [f"team:{t}" for t in (r.teams if r else [])],
            prevent_self_review=r.prevent_self_review if r else False,
            wait_timer=r.wait_timer if r else 0,
            branches=env.branches, protection_rule=True))
    return out


def diff(want: EnvState, have: EnvState | None) -> list[Change]:
    """What `apply` would change, only additions (and settings that differ)."""
    n = want.name
    have = have or EnvState(name=n, exists=False)
    out = [] if have.exists else [Change(environment=n, what="create", detail="")]
    out += [Change(environment=n, what="reviewer", detail=r)
            for r in want.reviewers if r not in have.reviewers]
    if want.reviewers and want.prevent_self_review and not have.prevent_self_review:
        out.append(Change(environment=n, what="prevent_self_review", detail="true"))
    if want.wait_timer and want.wait_timer != have.wait_timer:
        out.append(Change(environment=n, what="wait_timer",
                          detail=f"{have.wait_timer} → {want.wait_timer} min"))
    out += [Change(environment=n, what="branch", detail=b)
            for b in want.branches or [] if b not in (have.branches or [])]
    if want.protection_rule and not have.protection_rule:
        out.append(Change(environment=n, what="protection_rule", detail="shipcrew"))
    return out


# --- the GitHub edge ---------------------------------------------------------------------------


def _missing(exc: RequestFailed) -> bool:
    return exc.response.status_code == 404


def read_current(gh: Any, owner: str, repo: str, name: str, app_slug: str) -> EnvState | None:
    try:
        env = body(gh.rest.repos.get_environment(owner, repo, name))
    except RequestFailed as exc:
        if _missing(exc):
            return None
        raise
    state = EnvState(name=name)
    for rule in env.get("protection_rules") or []:
        if rule.get("type") == "required_reviewers":
            state.prevent_self_review = bool(rule.get("prevent_self_review"))
            for r in rule.get("reviewers") or []:
                who = r.get("reviewer") or {}
                state.reviewers.append(f"team:{who.get('slug')}" if r.get("type") == "Team"
                                       else f"user:{who.get('login')}")
        elif rule.get("type") == "wait_timer":
            state.wait_timer = int(rule.get("wait_timer") or 0)
    if (env.get("deployment_branch_policy") or {}).get("custom_branch_policies"):
        data = body(gh.rest.repos.list_deployment_branch_policies(owner, repo, name))
        state.branches = [b["name"] for b in data.get("branch_policies") or []]
    rules = body(gh.rest.repos.get_all_deployment_protection_rules(
        owner=owner, repo=repo, environment_name=name))
    state.protection_rule = any(
        (r.get("app") or {}).get("slug") == app_slug
        for r in rules.get("custom_deployment_protection_rules") or [])
    return state


def _reviewer_ids(gh: Any, owner: str, reviewers: list[str]) -> list[dict[str, Any]]:
    out = []
    for r in reviewers:
        kind, _, who = r.partition(":")
        if kind == "team":
            out.append({"type": "Team",
                        "id": body(gh.rest.teams.get_by_name(owner, who))["id"]})
        else:
            out.append({"type": "User", "id": body(gh.rest.users.get_by_username(who))["id"]})
    return out


def apply(gh: Any, owner: str, repo: str, want: EnvState, have: EnvState | None,
          app_id: int) -> list[Change]:
    changes = diff(want, have)
    if not changes:
        return []
    kinds = {c.what for c in changes}
    current = have or EnvState(name=want.name, exists=False)
    if kinds & {"create", "reviewer", "prevent_self_review", "wait_timer", "branch"}:
        reviewers = list(dict.fromkeys(current.reviewers + want.reviewers))  # only adds
        data: dict[str, Any] = {
            "wait_timer": want.wait_timer or current.wait_timer,
            "prevent_self_review": current.prevent_self_review or (
                want.prevent_self_review and bool(reviewers)),
            "reviewers": _reviewer_ids(gh, owner, reviewers) if reviewers else None,
            "deployment_branch_policy": None if want.branches is None and current.branches
            is None else {"protected_branches": False, "custom_branch_policies": True},
        }
        gh.rest.repos.create_or_update_environment(owner, repo, want.name, data=data)
    for c in changes:
        if c.what == "branch":
            gh.rest.repos.create_deployment_branch_policy(owner, repo, want.name,
                                                          data={"name": c.detail})
    if "protection_rule" in kinds:
        gh.rest.repos.create_deployment_protection_rule(
            owner=owner, repo=repo, environment_name=want.name, data={"integration_id": app_id})
    return changes


def setup_reply(gh: Any, owner: str, repo: str, config: RepoConfig, *, app_id: int,
                app_slug: str) -> str:
    """`/crew setup`: apply where the App has been granted `administration`, else the plan."""
    wants = desired(config)
    if not wants:
        return ("No environments in `.github/shipcrew.yml` (`environments:`): nothing to set "
                "up.")
    current = {w.name: read_current(gh, owner, repo, w.name, app_slug) for w in wants}
    planned = [c for w in wants for c in diff(w, current[w.name])]
    if not planned:
        return "GitHub Environments are set up as `.github/shipcrew.yml` asks."
    try:
        done = [c for w in wants for c in apply(gh, owner, repo, w, current[w.name], app_id)]
    except RequestFailed as exc:
        if exc.response.status_code not in (403, 404):
            raise
        lines = [c.line() for c in planned]
        return ("Planned (not applied: the App has no `administration` permission, by "
                f"design). Run `shipcrew environments apply {owner}/{repo}` with an admin's "
                "token, or make these changes in Settings → Environments:\n\n```diff\n"
                + "\n".join(lines) + "\n```")
    return "Applied:\n\n```diff\n" + "\n".join(c.line() for c in done) + "\n```"


# --- `shipcrew environments plan|apply OWNER/REPO` -------------------------------------------


def run(repo: str, action: str, *, token: str, api_url: str, app_id: int, app_slug: str,
        config_text: str | None = None, as_json: bool = False) -> tuple[int, str]:
    """Exit code and output. The config is the given text, else the repo's default branch's."""
    import json

    from githubkit import GitHub

    from app.config import CONFIG_PATH, ConfigError, parse_config
    from app.github import read_file

    owner, _, name = repo.partition("/")
    if not owner or not name:
        return 2, f"shipcrew environments: REPO must be OWNER/NAME, not {repo!r}"
    with GitHub(token, base_url=api_url, auto_retry=False) as gh:
        try:
            if config_text is None:
                branch = body(gh.rest.repos.get(owner, name))["default_branch"]
                config_text = read_file(gh, owner, name, CONFIG_PATH, branch)
            config = parse_config(config_text)
            if isinstance(config, ConfigError):
                return 2, config.summary()
            changes: list[Change] = []
            for want in desired(config):
                have = read_current(gh, owner, name, want.name, app_slug)
                changes += (apply(gh, owner, name, want, have, app_id) if action == "apply"
                            else diff(want, have))
        except RequestFailed as exc:
            status = exc.response.status_code
            hint = " (an admin's token is needed)" if status in (401, 403) else ""
            return 1, f"GitHub answered {status}{hint}: {exc.response.text[:300]}"
    if as_json:
        return 0, json.dumps({"action": action, "repo": repo,
                              "changes": [c.model_dump() for c in changes]})
    verb = "applied" if action == "apply" else "to apply"
    head = f"{len(changes)} change(s) {verb} to {repo}" if changes else \
        f"{repo}: environments are up to date"
    return 0, "\n".join([head, *(c.line() for c in changes)])

from __future__ import annotations

import itertools

import pytest

from app.command_parser import (
    DEFAULT_PERMISSIONS,
    HELP_TEXT,
    MAX_BODY,
    MAX_COMMANDS,
    Command,
    CommandName,
    authorize,
    is_actionable,
    parse_comment,
)
from app.config import RepoConfig

SLUG = "shipcrew"

# (body, expected commands as (name, env|rule|artifact, note) tuples, expects an error reply)
A, D, R = "approve", "deploy", "rollback"
PARSER_CASES: list[tuple[str, str, list[tuple[str, str | None, str]], bool]] = [
    ("plain help", "/crew help", [("help", None, "")], False),
    ("bare prefix is help", "/crew", [("help", None, "")], False),
    ("help ignores arguments", "/crew help me please", [("help", None, "")], False),
    ("plan", "/crew plan", [("plan", None, "")], False),
    ("upper case", "/CREW PLAN", [("plan", None, "")], False),
    ("mixed case", "/Crew Approve Production", [(A, "Production", "")], False),
    ("extra blanks", "  /crew    approve \t staging   ok then ", [(A, "staging", "ok then")],
     False),
    ("tab after prefix", "/crew\tplan", [("plan", None, "")], False),
    ("CRLF line ends", "hello\r\n/crew plan\r\n", [("plan", None, "")], False),
    ("generate all", "/crew generate", [("generate", None, "")], False),
    ("generate docker", "/crew generate Docker", [("generate", "docker", "")], False),
    ("generate helm", "/crew generate helm", [("generate", "helm", "")], False),
    ("generate unknown", "/crew generate terraform", [], True),
    ("generate two", "/crew generate docker helm", [], True),
    ("audit", "/crew audit", [("audit", None, "")], False),
    ("audit with args", "/crew audit now", [], True),
    ("explain", "/crew explain gha002", [("explain", "GHA002", "")], False),
    ("explain bad rule", "/crew explain 002", [], True),
    ("explain no rule", "/crew explain", [], True),
    ("approve with note", "/crew approve production LGTM, ship it",
     [(A, "production", "LGTM, ship it")], False),
    ("approve no env", "/crew approve", [], True),
    ("approve env with slash", "/crew approve prod-eu/west", [(A, "prod-eu/west", "")], False),
    ("deploy", "/crew deploy staging", [(D, "staging", "")], False),
    ("deploy extra", "/crew deploy staging production", [], True),
    ("rollback", "/crew rollback production", [(R, "production", "")], False),
    ("why", "/crew why", [("why", None, "")], False),
    ("why env", "/crew why production", [("why", "production", "")], False),
    ("waive", "/crew waive DKR001 base image pinned upstream",
     [("waive", "DKR001", "base image pinned upstream")], False),
    ("waive no reason", "/crew waive DKR001", [], True),
    ("waive no rule", "/crew waive", [], True),
    ("unknown command", "/crew frobnicate", [], True),
    ("app mention", "@shipcrew plan", [("plan", None, "")], False),
    ("bot mention", "@shipcrew[bot] deploy staging", [(D, "staging", "")], False),
    ("mention case", "@ShipCrew why", [("why", None, "")], False),
    ("other app mention", "@othercrew plan", [], False),
    ("prefix glued to word", "/crewplan", [], False),
    ("prefix mid-line", "please /crew approve production", [], False),
    ("two commands", "/crew approve staging\n/crew approve production",
     [(A, "staging", ""), (A, "production", "")], False),
    ("duplicate command", "/crew plan\n/crew plan", [("plan", None, "")], False),
    ("valid and invalid", "/crew plan\n/crew nope", [("plan", None, "")], True),
    ("prose around", "Looks good.\n\n/crew approve staging\n\nThanks!", [(A, "staging", "")],
     False),
    # hostile and Markdown-hidden
    ("quoted", "> /crew approve production", [], False),
    ("quoted indented", "   > /crew approve production", [], False),
    ("nested quote", "> > /crew approve production", [], False),
    ("backtick fence", "```\n/crew approve production\n```", [], False),
    ("tilde fence", "~~~sh\n/crew approve production\n~~~", [], False),
    ("fence with info", "```text\n/crew deploy production\n```\n/crew plan",
     [("plan", None, "")], False),
    ("unclosed fence", "```\n/crew approve production", [], False),
    ("shorter closer does not close", "````\n```\n/crew approve production\n````", [], False),
    ("closer of other char", "```\n~~~\n/crew approve production\n```", [], False),
    ("fence inside a quote ends with it", "> ```\n/crew plan", [("plan", None, "")], False),
    ("backticks in info string: no fence", "``` a`b\n/crew plan", [("plan", None, "")], False),
    ("indented code", "    /crew approve production", [], False),
    ("tab indented code", "\t/crew approve production", [], False),
    ("three spaces ok", "   /crew plan", [("plan", None, "")], False),
    ("inline code", "`/crew approve production`", [], False),
    ("html comment", "<!-- /crew approve production -->", [], False),
    ("multi-line html comment", "<!--\n/crew approve production\n-->\n/crew plan",
     [("plan", None, "")], False),
    ("unclosed html comment", "<!--\n/crew approve production", [], False),
    ("fullwidth slash", "\uff0fcrew approve production", [], False),
    ("division slash", "\u2215crew approve production", [], False),
    ("cyrillic es", "/\u0441rew approve production", [], False),
    ("cyrillic command", "/crew \u0430pprove production", [], True),
    ("kelvin sign command", "/crew \u212aeep", [], True),
    ("cyrillic env", "/crew approve pr\u043eduction", [], True),
    ("zero-width space before", "\u200b/crew approve production", [], False),
    ("zero-width joiner in prefix", "/cr\u200dew approve production", [], False),
    ("nbsp after prefix", "/crew\u00a0approve production", [], False),
    ("env with backticks", "/crew approve `production`", [], True),
    ("env too long", "/crew deploy " + "a" * 300, [], True),
    ("long comment, command at the end", "x" * (MAX_BODY + 10) + "\n/crew approve production",
     [], False),
    ("many lines", "\n".join(["text"] * 50_000 + ["/crew plan"]), [], False),
    ("long note truncated", "/crew approve staging " + "n" * 5000, [(A, "staging", "n" * 500)],
     False),
]


@pytest.mark.parametrize(
    ("body", "expected", "error"),
    [pytest.param(b, e, err, id=name) for name, b, e, err in PARSER_CASES],
)
def test_parser_table(body: str, expected: list[tuple[str, str | None, str]], error: bool) -> None:
    result = parse_comment(body, SLUG)
    got = [(c.name.value, c.environment or c.rule or c.artifact, c.note) for c in result.commands]
    assert got == expected
    assert bool(result.errors) is error
    assert result.ignore is (not expected and not error)


def test_parser_table_is_large_enough() -> None:
    assert len(PARSER_CASES) >= 40


def test_long_comment_is_bounded_and_fast() -> None:
    import time

    body = ("/crew " + "x" * 1000 + "\n") * 5000  # 5 MB of would-be commands
    start = time.perf_counter()
    result = parse_comment(body, SLUG)
    assert time.perf_counter() - start < 2
    assert not result.commands
    assert len(result.errors) == MAX_COMMANDS + 1  # then it stops scanning


def test_command_keeps_line_and_text() -> None:
    cmd = parse_comment("hi\n\n/crew deploy staging", SLUG).commands[0]
    assert cmd == Command(name=CommandName.DEPLOY, environment="staging", line=3,
                          text="/crew deploy staging")


def test_errors_reply_with_usage_and_help() -> None:
    result = parse_comment("/crew waive GHA002", SLUG)
    reply = result.reply()
    assert "needs a reason" in reply and "/crew waive RULE reason" in reply
    assert reply.endswith(HELP_TEXT)
    assert parse_comment("/crew plan", SLUG).reply() == ""


def test_unknown_command_is_named_without_breaking_markdown() -> None:
    reply = parse_comment("/crew `rm", SLUG).reply()
    assert "unknown command `'rm`" in reply


@pytest.mark.parametrize(
    ("action", "sender_type", "login", "expected"),
    [
        ("created", "User", "alice", True),
        ("edited", "User", "alice", False),
        ("deleted", "User", "alice", False),
        ("created", "Bot", "dependabot[bot]", False),
        ("created", "User", "shipcrew[bot]", False),
        ("created", "User", "ShipCrew", False),
    ],
)
def test_is_actionable(action: str, sender_type: str, login: str, expected: bool) -> None:
    assert is_actionable(action, sender_type, login, SLUG) is expected


# --- authorization -------------------------------------------------------------------------

LEVELS = ["none", "read", "triage", "write", "maintain", "admin"]
RANK = {p: i for i, p in enumerate(LEVELS)}
COMMAND_TEXT = {
    CommandName.HELP: "/crew help", CommandName.PLAN: "/crew plan",
    CommandName.GENERATE: "/crew generate", CommandName.AUDIT: "/crew audit",
    CommandName.EXPLAIN: "/crew explain GHA001", CommandName.APPROVE: "/crew approve production",
    CommandName.DEPLOY: "/crew deploy production",
    CommandName.ROLLBACK: "/crew rollback production",
    CommandName.WHY: "/crew why", CommandName.WAIVE: "/crew waive GHA001 upstream bug",
    CommandName.SETUP: "/crew setup",
    CommandName.RETRY: "/crew retry",
}
EXPECTED_MINIMUM = {
    "help": "read", "why": "read", "explain": "read", "plan": "read", "generate": "write",
    "audit": "write", "approve": "maintain", "deploy": "maintain", "rollback": "maintain",
    "waive": "maintain", "setup": "admin", "retry": "write",
}


def _command(name: CommandName) -> Command:
    return parse_comment(COMMAND_TEXT[name], SLUG).commands[0]


@pytest.mark.parametrize(
    ("name", "permission", "is_author", "tier"),
    list(itertools.product(list(CommandName), LEVELS, [False, True], ["low", "high"])),
)
def test_authorization_matrix(name: CommandName, permission: str, is_author: bool,
                              tier: str) -> None:
    decision = authorize(_command(name), permission=permission, is_author=is_author,
                         is_last_pusher=False, teams=set(), risk_tier=tier, config=RepoConfig(),
                         actor="alice")
    minimum = EXPECTED_MINIMUM[name.value]
    enough = RANK[permission] >= RANK[minimum]
    self_approval = name is CommandName.APPROVE and is_author and tier == "high"
    assert decision.allowed is (enough and not self_approval)
    if not enough:
        assert decision.reason == (
            f"refused: `{name.value}` needs {minimum} permission"
            + (" or membership in commands.approver_teams" if minimum == "maintain" else "")
            + f" (default matrix); @alice has {permission}"
        )
    elif self_approval:
        assert "separation of duties" in decision.reason
        assert "environments.production.allow_author" in decision.reason
    else:
        assert decision.reason.startswith("allowed:")


def test_default_matrix_matches_the_issue() -> None:
    assert {k.value: v for k, v in DEFAULT_PERMISSIONS.items()} == EXPECTED_MINIMUM


def _auth(text: str, config: RepoConfig | None = None, **kw: object):  # noqa: ANN202
    args: dict[str, object] = dict(permission="write", is_author=False, is_last_pusher=False,
                                   teams=set(), risk_tier="medium", actor="bob")
    args.update(kw)
    return authorize(parse_comment(text, SLUG).commands[0], config=config or RepoConfig(),
                     **args)  # type: ignore[arg-type]


def test_config_overrides_permission() -> None:
    config = RepoConfig.model_validate({"commands": {"permissions": {"deploy": "write",
                                                                     "plan": "triage"}}})
    assert _auth("/crew deploy staging", config).allowed
    refused = _auth("/crew plan", config, permission="read")
    assert not refused.allowed
    assert "(commands.permissions.plan)" in refused.reason and "@bob has read" in refused.reason


def test_approver_team_grants_release_commands_only() -> None:
    config = RepoConfig.model_validate({"commands": {"approver_teams": ["acme/release"]}})
    ok = _auth("/crew approve production", config, teams={"acme/release"}, permission="read")
    assert ok.allowed and "acme/release" in ok.reason
    assert not _auth("/crew generate", config, teams={"acme/release"}, permission="read").allowed
    bare = RepoConfig.model_validate({"commands": {"approver_teams": ["release"]}})
    assert _auth("/crew rollback production", bare, teams={"acme/release"}).allowed
    assert not _auth("/crew rollback production", config, teams={"other/release"}).allowed


def test_environment_approvers_may_approve_that_environment() -> None:
    config = RepoConfig.model_validate(
        {"environments": {"production": {"approvers": {"users": ["Bob"], "teams": ["sre"]}}}})
    assert _auth("/crew approve production", config).allowed
    assert not _auth("/crew approve staging", config).allowed
    assert _auth("/crew approve production", config, actor="carol", teams={"acme/sre"}).allowed


def test_last_pusher_cannot_approve_high_risk() -> None:
    refused = _auth("/crew approve production", permission="admin", is_last_pusher=True,
                    risk_tier="high")
    assert not refused.allowed and "pushed its last commit" in refused.reason


def test_allow_author_and_approval_tiers() -> None:
    allow = RepoConfig.model_validate({"environments": {"production": {"allow_author": True}}})
    assert _auth("/crew approve production", allow, permission="admin", is_author=True,
                 risk_tier="high").allowed
    tiers = RepoConfig.model_validate({"environments": {"staging": {"approval_tiers":
                                                                    ["medium", "high"]}}})
    assert not _auth("/crew approve staging", tiers, permission="admin", is_author=True).allowed
    # Production is case-insensitive, and low risk needs no approval, so no conflict of duty.
    assert _auth("/crew approve Production", permission="admin", is_author=True,
                 risk_tier="low").allowed


def test_replies_name_the_real_slug_quote_the_user_and_suggest() -> None:
    reply = parse_comment("/crew aprove production\n/crew approve", "acme-crew").reply()
    assert "line 1: unknown command `aprove` in `/crew aprove production`; did you mean " \
           "`approve`?" in reply
    assert "line 2: `/crew approve` needs an environment name: you wrote `/crew approve`" in reply
    assert "`@acme-crew ...`" in reply and "@app" not in reply
    assert "did you mean" not in parse_comment("/crew frobnicate", SLUG).reply()


@pytest.mark.parametrize("rule", ["K8S005", "GHA002", "INPUT001", "POLICY001"])
def test_every_built_in_rule_id_parses(rule: str) -> None:
    [cmd] = parse_comment(f"/crew explain {rule.lower()}", SLUG).commands
    assert cmd.rule == rule

"""PR comment commands: a pure parser and the authorization matrix.

Grammar (one command per line; a comment may hold several, up to MAX_COMMANDS):

    /crew help | plan | audit | why [ENV]
    /crew generate [workflows|docker|helm]
    /crew explain RULE
    /crew approve ENV [note]
    /crew deploy ENV | rollback ENV
    /crew waive RULE reason
    /crew retry

`@<app-slug>` and `@<app-slug>[bot]` work as prefixes too. A command is a line whose first
characters (after at most three spaces, as in Markdown) are the ASCII prefix followed by
whitespace or the end of the line. Lines inside fenced or indented code blocks, block quotes
and HTML comments are not commands, and nothing is Unicode-normalized: a fullwidth slash or
a Cyrillic letter never turns text into a command. Bodies are cut at MAX_BODY characters.
"""

from __future__ import annotations

import difflib
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from app.config import RepoConfig
from jobs.release.gates import (
    approval_tiers_for,
    environment_config,
    permission_at_least,
    team_matches,
)

MAX_BODY = 65_536  # GitHub's own limit on a comment body
MAX_COMMANDS = 5
MAX_NOTE = 500


class CommandName(StrEnum):
    HELP = "help"
    PLAN = "plan"
    GENERATE = "generate"
    AUDIT = "audit"
    EXPLAIN = "explain"
    APPROVE = "approve"
    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    WHY = "why"
    WAIVE = "waive"
    SETUP = "setup"
    RETRY = "retry"


# name -> (arguments, what it does)
USAGE: dict[CommandName, tuple[str, str]] = {
    CommandName.HELP: ("", "show this help"),
    CommandName.PLAN: ("", "classify the change; show which agents run and which gates apply"),
    CommandName.GENERATE: ("[workflows|docker|helm]", "regenerate delivery artifacts"),
    CommandName.AUDIT: ("", "re-run the policy audit on the head commit"),
    CommandName.EXPLAIN: ("RULE", "explain a policy rule and how to satisfy it"),
    CommandName.APPROVE: ("ENV [note]", "approve the release of this PR to ENV"),
    CommandName.DEPLOY: ("ENV", "deploy the PR head to ENV (through the same gates)"),
    CommandName.ROLLBACK: ("ENV", "roll ENV back to its last good version"),
    CommandName.WHY: ("[ENV]", "show the last gate decision and the deployment history"),
    CommandName.WAIVE: ("RULE reason", "waive a failing policy rule for this PR"),
    CommandName.SETUP: ("", "show the GitHub Environments setup the config asks for "
                            "(applied where the App may administer the repository)"),
    CommandName.RETRY: ("", "run this PR's last failed job again"),
}



def help_text(app_slug: str) -> str:
    """The help, naming this App's real mention (`@<slug>`), one line per command."""
    return f"shipcrew commands (`/crew ...` or `@{app_slug} ...`, one per line):\n\n" + "\n".join(
        f"- `/crew {' '.join(filter(None, (name.value, args)))}`: {text}"
        for name, (args, text) in USAGE.items())


HELP_TEXT = help_text("shipcrew")  # the default App's; replies use help_text(real slug)

DEFAULT_PERMISSIONS: dict[CommandName, str] = {
    CommandName.HELP: "read",
    CommandName.WHY: "read",
    CommandName.EXPLAIN: "read",
    CommandName.PLAN: "read",
    CommandName.GENERATE: "write",
    CommandName.AUDIT: "write",
    CommandName.APPROVE: "maintain",
    CommandName.DEPLOY: "maintain",
    CommandName.ROLLBACK: "maintain",
    CommandName.WAIVE: "maintain",
    CommandName.SETUP: "admin",
    CommandName.RETRY: "write",
}
# Commands that move releases: members of `commands.approver_teams` may run them whatever
# their repository permission.
TEAM_COMMANDS = frozenset(
    {CommandName.APPROVE, CommandName.DEPLOY, CommandName.ROLLBACK, CommandName.WAIVE}
)
ARTIFACTS = ("workflows", "docker", "helm")

_ENV = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}", re.ASCII)
_RULE = re.compile(r"[A-Z][A-Z0-9]{0,18}[0-9]", re.ASCII)  # GHA002, K8S005, INPUT001
_WORD = re.compile(r"[a-z]+", re.ASCII)
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_SPACE = " \t"


class Command(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: CommandName
    environment: str | None = None  # approve, deploy, rollback, why
    rule: str | None = None  # explain, waive (upper-cased)
    artifact: str | None = None  # generate; None means all
    note: str = ""  # approve note, waive reason
    line: int  # 1-based line of the comment body
    text: str  # the command line as written (bounded)


class ParseResult(BaseModel):
    """Atlantis-style value: commands to run, problems to answer, or nothing to do."""

    commands: list[Command] = []
    errors: list[str] = []
    app_slug: str = "shipcrew"

    @property
    def ignore(self) -> bool:
        return not self.commands and not self.errors

    def reply(self) -> str:
        """The answer for the problems (empty when there are none), help text included."""
        if not self.errors:
            return ""
        return "\n".join(f"- {e}" for e in self.errors) + "\n\n" + help_text(self.app_slug)


def is_actionable(action: str, sender_type: str, sender_login: str, app_slug: str) -> bool:
    """Only newly created comments by people: edits, deletions and bots (us included) never
    run commands — an edit would otherwise replay an approval."""
    if action != "created" or sender_type.lower() == "bot":
        return False
    return sender_login.lower() not in {app_slug.lower(), f"{app_slug.lower()}[bot]"}


def parse_comment(body: str, app_slug: str) -> ParseResult:
    prefixes = ("/crew", f"@{app_slug}[bot]", f"@{app_slug}")
    result = ParseResult(app_slug=app_slug)
    for number, line in _visible_lines(body[:MAX_BODY]):
        rest = _strip_prefix(line, prefixes)
        if rest is None:
            continue
        if len(result.commands) + len(result.errors) >= MAX_COMMANDS:
            result.errors.append(f"line {number}: at most {MAX_COMMANDS} commands per comment")
            break
        parsed = _parse_line(rest.strip(_SPACE), number, line.strip(_SPACE)[:300])
        if isinstance(parsed, Command):
            key = parsed.model_dump(include={"name", "environment", "rule", "artifact"})
            if all(key != c.model_dump(include=set(key)) for c in result.commands):
                result.commands.append(parsed)
        else:
            result.errors.append(parsed)
    return result


def _visible_lines(body: str) -> list[tuple[int, str]]:
    """Lines that Markdown renders as ordinary paragraph text, with their 1-based numbers."""
    # An HTML comment hides its lines; keep the newlines so line numbers stay right.
    body = _HTML_COMMENT.sub(lambda m: "\n" * m.group().count("\n"), body)
    out: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(body.replace("\r\n", "\n").split("\n"), start=1):
        opener = _FENCE.match(line)
        if fence is not None:
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence) \
                    and not opener.group(2).strip():
                fence = None
            continue
        if opener and not (opener.group(1)[0] == "`" and "`" in opener.group(2)):
            fence = opener.group(1)
            continue
        # Quoted and indented-code lines need no test here: they cannot start with a prefix
        # (see _strip_prefix), and a fence opened inside a quote ends with the quote.
        out.append((number, line))
    return out


def _strip_prefix(line: str, prefixes: tuple[str, ...]) -> str | None:
    text = line.lstrip(" ")
    if len(line) - len(text) > 3:
        return None
    for prefix in prefixes:
        head = text[: len(prefix)]
        # isascii first: str.lower() maps some non-ASCII letters (the Kelvin sign) to ASCII.
        if head.isascii() and head.lower() == prefix.lower():
            rest = text[len(prefix):]
            if not rest or rest[0] in _SPACE:
                return rest
    return None


def _split(text: str) -> tuple[str, str]:
    """First word and the rest; only ASCII blanks separate words."""
    first, _, rest = text.strip(_SPACE).replace("\t", " ").partition(" ")
    return first, rest.strip(_SPACE)


def did_you_mean(word: str, choices: list[str]) -> str:
    """` (did you mean `x`?)` for a near miss, else empty."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def _parse_line(rest: str, number: int, text: str) -> Command | str:
    word, args = _split(rest)
    name = word.lower() or "help"
    if not word.isascii() or not _WORD.fullmatch(name) or \
            name not in CommandName.__members__.values():
        hint = did_you_mean(name, [c.value for c in CommandName]) if word.isascii() else ""
        return (f"line {number}: unknown command `{_code(word[:40])}` in "
                f"`{_code(text[:120])}`{hint}")
    cmd = CommandName(name)
    first, extra = _split(args)
    # Case-fold only ASCII: str.upper()/lower() turn some non-ASCII letters into ASCII ones.
    ascii_first = first if first.isascii() else "\ufffd"

    def usage(problem: str) -> str:
        syntax = " ".join(filter(None, ("/crew", cmd.value, USAGE[cmd][0])))
        return (f"line {number}: `/crew {cmd.value}` {problem}: you wrote "
                f"`{_code(text[:120])}` (usage: `{syntax}`)")

    fields: dict[str, str | None] = {}
    if cmd in (CommandName.HELP, CommandName.PLAN, CommandName.AUDIT, CommandName.SETUP,
               CommandName.RETRY):
        if first and cmd is not CommandName.HELP:
            return usage("takes no arguments")
    elif cmd is CommandName.GENERATE:
        if extra or (first and ascii_first.lower() not in ARTIFACTS):
            return usage(f"takes one of {', '.join(ARTIFACTS)} or nothing")
        fields["artifact"] = first.lower() or None
    elif cmd in (CommandName.EXPLAIN, CommandName.WAIVE):
        if not _RULE.fullmatch(ascii_first.upper()):
            return usage("needs a rule id like GHA002")
        fields["rule"] = first.upper()
        if cmd is CommandName.EXPLAIN and extra:
            return usage("takes only a rule id")
        if cmd is CommandName.WAIVE:
            if not extra:
                return usage("needs a reason")
            fields["note"] = extra[:MAX_NOTE]
    else:  # approve, deploy, rollback, why: an environment
        if not first:
            if cmd is not CommandName.WHY:
                return usage("needs an environment name")
        elif not _ENV.fullmatch(first):
            return usage(f"`{_code(first[:60])}` is not a valid environment name")
        else:
            fields["environment"] = first
        if cmd is CommandName.APPROVE:
            fields["note"] = extra[:MAX_NOTE]
        elif extra:
            return usage("takes only an environment name")
    return Command(name=cmd, line=number, text=text, **fields)  # type: ignore[arg-type]


def _code(text: str) -> str:
    return text.replace("`", "'")


# --- authorization -------------------------------------------------------------------------


class AuthDecision(BaseModel):
    allowed: bool
    reason: str


def authorize(
    command: Command,
    *,
    permission: str,
    is_author: bool,
    is_last_pusher: bool,
    teams: set[str],
    risk_tier: str,
    config: RepoConfig,
    actor: str = "someone",
) -> AuthDecision:
    """May `actor` run `command`? Every refusal names the rule that refused it."""
    name = command.name
    who = f"@{actor}"
    needed: str
    if name.value in config.commands.permissions:
        needed = config.commands.permissions[name.value]
        source = f"commands.permissions.{name.value}"
    else:
        needed = DEFAULT_PERMISSIONS[name]
        source = "default matrix"
    via = ""
    if permission_at_least(permission, needed):
        via = f"{who} has {permission}"
    elif name in TEAM_COMMANDS:
        team = next((t for t in config.commands.approver_teams if team_matches(t, teams)), None)
        env = environment_config(config, command.environment or "")
        if team is not None:
            via = f"{who} is in approver team {team} (commands.approver_teams)"
        elif name is CommandName.APPROVE and env is not None and env.approvers is not None:
            if actor.lower() in {u.lower() for u in env.approvers.users}:
                via = f"{who} is an approver of {command.environment}"
            elif any(team_matches(t, teams) for t in env.approvers.teams):
                via = f"{who} is in an approver team of {command.environment}"
    if not via:
        teams_note = " or membership in commands.approver_teams" if name in TEAM_COMMANDS else ""
        return AuthDecision(
            allowed=False,
            reason=f"refused: `{name.value}` needs {needed} permission{teams_note} ({source}); "
            f"{who} has {permission or 'none'}",
        )
    if name is CommandName.APPROVE and (is_author or is_last_pusher):
        env_name = command.environment or ""
        env = environment_config(config, env_name)
        if risk_tier in approval_tiers_for(env_name, config) and not (env and env.allow_author):
            role = "authored this pull request" if is_author else "pushed its last commit"
            return AuthDecision(
                allowed=False,
                reason=f"refused: separation of duties: {who} {role} and cannot approve a "
                f"{risk_tier}-risk release to {env_name} "
                f"(environments.{env_name}.allow_author is not set)",
            )
    return AuthDecision(allowed=True, reason=f"allowed: `{name.value}` needs {needed} ({source}); "
                        f"{via}")

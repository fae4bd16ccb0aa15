"""The real-world corpus score does not regress (bench/realworld.py prints the details).

The corpus holds only our labels; the repositories come from the `fetch` mirror
(/work/.mirror, or $SHIPCREW_MIRROR). Where the snapshots are not on the machine, the corpus
test skips and says which are missing; the scoring itself is tested everywhere below.
"""

from __future__ import annotations

import json

import pytest

from bench.realworld import (
    FLOOR,
    MIRROR,
    ci_runs_tests,
    load_corpus,
    missing,
    score_repo,
    snapshot,
    summary,
)
from jobs.pipeline.plan import plan_generation
from jobs.pipeline.stacks import Stack, detect_stacks


@pytest.mark.slow
def test_corpus_detection_does_not_regress() -> None:
    corpus = load_corpus()
    assert len(corpus) >= 25
    absent = set(missing(corpus))
    if len(absent) == len(corpus):
        pytest.skip(
            f"none of the {len(corpus)} corpus snapshots is on this machine: the corpus holds "
            f"only labels and commits; bring the repositories into {MIRROR} (or "
            "$SHIPCREW_MIRROR) with the search tool's fetch, then rerun "
            "(bench/realworld.py lists what is missing)"
        )
    present = [e for e in corpus if e["repo"] not in absent]
    scores, ci = [], {}
    for entry in present:
        files = snapshot(entry)
        scores.append(score_repo(entry, detect_stacks(files)))
        verdicts = [v for v in ci_runs_tests(entry, files, plan_generation(files)) if v[1] is False]
        if verdicts:
            ci[entry["repo"]] = verdicts
    result = summary(scores)
    floor = json.loads(FLOOR.read_text())
    wrong = {s.repo: s.problems for s in scores if not s.right}
    where = f"{len(present)} of {len(corpus)} snapshots present"
    assert result["detection"] >= floor["detection"], (where, wrong)
    assert result["fields"] >= floor["fields"], (where, [p for s in scores for p in s.problems])
    assert not ci, (where, "CI does not run the repository's real tests", ci)


LABEL = {
    "repo": "octo/shop",
    "commit": "0" * 40,
    "projects": [
        {
            "path": ".",
            "language": "python",
            "framework": "flask",
            "kind": "service",
            "build_tool": "pip",
            "port": 5000,
            "start": "wsgi:app",
            "test": "pytest",
        },
        {
            "path": "web",
            "language": "node",
            "framework": None,
            "kind": "library",
            "build_tool": None,
            "port": None,
            "start": None,
            "test": None,
        },
    ],
}


def service(**extra: object) -> Stack:
    values: dict[str, object] = {
        "path": ".",
        "name": "shop",
        "language": "python",
        "kind": "service",
        "framework": "flask",
        "build_tool": "pip",
        "port": 5000,
        "start_command": ["gunicorn", "wsgi:app"],
        "test_command": "python -m pytest",
    }
    return Stack.model_validate({**values, **extra})


def test_scoring_counts_what_is_right_and_names_what_is_not() -> None:
    right = score_repo(LABEL, [service()])
    assert (right.right, right.fields_right, right.fields_total) == (True, 3, 3)
    wrong = score_repo(
        LABEL,
        [
            service(port=8000, framework="django"),
            Stack(path="web", name="web", language="node", kind="service", framework="nextjs"),
        ],
    )
    assert not wrong.right and wrong.fields_right == 2
    assert wrong.problems == [
        ".: framework 'django', expected 'flask'",
        ".: port 8000, expected 5000",
        "web: kind 'service', expected 'library'",
        "web: detected as a nextjs service, labelled otherwise",
    ]
    missed = score_repo(LABEL, [])
    assert missed.problems == [".: service not found"] and missed.fields_total == 3
    undecided = score_repo(LABEL, [service(undecided="which module")])
    assert undecided.problems == [
        ".: could not tell which module",  # and so no image:
        ".: start 'gunicorn wsgi:app', expected 'wsgi:app'",
    ]
    assert summary([right, missed]) == {"repos": 2, "detection": 0.5, "fields": 0.5}

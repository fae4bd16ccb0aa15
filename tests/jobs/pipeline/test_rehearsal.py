"""The rehearsal (bench/rehearse.py) in the suite: generated Python/Node images are built by
interpreting their Dockerfile, started, and must answer HTTP.

Always: our own sample services (tests/jobs/pipeline/samples/, real layouts' shapes).
When the `fetch` mirror holds them: a bounded set of the corpus's Python/Node services (CI has
no mirror: that test skips and says so). Downloads are cached in ~/.cache/shipcrew-rehearse
($SHIPCREW_REHEARSE_CACHE), so a second run installs from the cache.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.files import read_tree
from bench.realworld import load_corpus, missing, snapshot
from bench.rehearse import OPERATOR_ENV, listen_addresses, rehearse

SAMPLES = Path(__file__).parent / "samples"
# Corpus services that build in seconds and need at most the machine's PostgreSQL (the
# rest of the corpus: bench/rehearse.py, whose failures are mostly this machine's limits).
CORPUS_SUBSET = ("mjhea0/flaskr-tdd", "nestjs/typescript-starter", "render-examples/fastapi",
                 "render-examples/flask-hello-world", "render-examples/express-hello-world",
                 "mdn/django-locallibrary-tutorial",
                 # Django 1.10 caps the image at python:3.5; rehearsed on the nearest, 3.6.
                 "gothinkster/django-realworld-example-app",
                 # Django 6 on python:3.13 (the interpreter pyenv has).
                 "heroku/python-getting-started")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _toolchains() -> None:
    for tool in ("npm", "node", "python3"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not on this machine: the rehearsal needs it")


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()))
def test_sample_service_builds_starts_and_answers(sample: str) -> None:
    _toolchains()
    results = rehearse(read_tree(SAMPLES / sample), timeout=60, repo_name=f"octo/{sample}")
    assert len(results) == 1
    assert results[0].ok, results[0].detail
    assert "answers HTTP 200" in results[0].detail


def test_corpus_python_node_services_start() -> None:
    _toolchains()
    corpus = [e for e in load_corpus() if e["repo"] in CORPUS_SUBSET]
    assert len(corpus) == len(CORPUS_SUBSET)
    absent = missing(corpus)
    if absent:
        pytest.skip(f"{len(absent)} corpus snapshots are not on this machine (no fetch mirror, "
                    f"as in CI): {', '.join(absent)}")
    operator = json.loads(OPERATOR_ENV.read_text())["services"]
    failed = {}
    for entry in corpus:
        labels = {p["path"]: {"rehearsal_env": operator.get(entry["repo"], {}).get(p["path"])}
                  for p in entry["projects"]}
        for r in rehearse(snapshot(entry), labels, timeout=60, repo_name=entry["repo"]):
            if not r.ok:
                failed[f"{entry['repo']}:{r.service}"] = r.detail
    assert not failed, failed


def test_listen_addresses_sees_a_loopback_only_server() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert listen_addresses(port) == {"0100007F"}
    assert listen_addresses(port) == set()


@pytest.mark.parametrize("image", ["3.5", "3.7", "3.13", "3.14"])
def test_the_rehearsal_runs_the_images_python_or_says_which_it_used(
        image: str, tmp_path: Path) -> None:
    import subprocess

    from bench.rehearse import _build_env
    from bench.rehearse_env import python_for, pythons

    minor, interpreter = python_for(image)
    assert pythons()[minor] == interpreter
    if image in pythons():
        assert minor == image
    env, note = _build_env(tmp_path, f"FROM python:{image}-slim AS build\n")
    ran = subprocess.run([str(tmp_path / "shims" / "python"), "-c",
                          "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert ran == minor
    assert note == ("" if minor == image else
                    f"; image python:{image}, rehearsed on python {minor} (the nearest this "
                    "machine has)")

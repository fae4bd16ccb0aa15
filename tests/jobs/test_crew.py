"""`shipcrew run PATH` as a user runs it: a dry run says so and how to write the files."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main

SAMPLE = Path(__file__).parent / "repos/py-fastapi-uv"


def test_without_out_it_is_a_dry_run_that_says_how_to_write(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p.name for p in SAMPLE.rglob("*"))
    assert main(["run", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "  would create Dockerfile  (missing)" in out
    assert "Dry run: nothing written. To write the " in out and "--out DIR" in out
    assert sorted(p.name for p in SAMPLE.rglob("*")) == before

    assert main(["run", str(SAMPLE), "--out", str(tmp_path)]) == 0
    written = capsys.readouterr().out
    assert "  create Dockerfile  (missing)" in written and "would" not in written
    assert f"under {tmp_path}" in written and (tmp_path / "Dockerfile").is_file()


def test_help_says_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "without it nothing is written" in capsys.readouterr().out.replace("\n", " ").replace(
        "  ", " ")

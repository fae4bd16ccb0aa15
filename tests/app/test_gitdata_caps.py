"""A head tarball that unpacks to far more than it weighs is refused, not held in memory."""

from __future__ import annotations

import io
import resource
import tarfile
import time

import pytest

from app.gitdata import MAX_TEXT_BYTES, PermanentError, read_archive


def _tarball(files: int, size: int) -> bytes:
    buf = io.BytesIO()
    chunk = b"sk-" * (size // 3)
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for i in range(files):
            info = tarfile.TarInfo(f"repo-abc/f{i}.txt")
            info.size = len(chunk)
            tar.addfile(info, io.BytesIO(chunk))
    return buf.getvalue()


def test_a_small_tarball_of_repeated_text_is_refused_within_its_cap() -> None:
    data = _tarball(files=64, size=4 * 1024 * 1024)  # 256 MB of text
    assert len(data) < 3 * 1024 * 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    with pytest.raises(PermanentError, match=f"over {MAX_TEXT_BYTES >> 20} MB"):
        read_archive(data)
    assert time.monotonic() - t0 < 10
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grew_mb < (MAX_TEXT_BYTES >> 20) * 2.5  # never the whole 256 MB and its copies


def test_too_many_files_is_refused() -> None:
    with pytest.raises(PermanentError, match="over 100 files"):
        read_archive(_tarball(files=101, size=3), max_files=100)


def test_a_head_within_the_caps_is_read() -> None:
    files, present = read_archive(_tarball(files=3, size=30))
    assert sorted(files) == ["f0.txt", "f1.txt", "f2.txt"] and len(present) == 3

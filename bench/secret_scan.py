"""Secret scan cost against input size, on files built to make a regex scan backtrack.

    .venv/bin/python bench/secret_scan.py

Each case is scanned at 60 KB and 120 KB: a linear scan takes about twice as long on the
second. Cases: lines of `sk-` decoys (the OpenAI pattern's `{20,}` run), one 120 KB line of
them, a minified bundle with a token on a 20,000-character line, and plain text.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.auditor.inputs.secret_scan import scan_text  # noqa: E402

CASES = {
    "decoy lines": lambda n: ("sk-" * 40 + "\n") * (n // 121),
    "one decoy line": lambda n: "sk-" * (n // 3),
    "minified + token": lambda n: "a" * (n // 2) + " ghp_" + "A1b2" * 9 + " " + "b" * (n // 2),
    "plain text": lambda n: ("the quick brown fox jumps over the lazy dog\n") * (n // 44),
}


def best(text: str, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        scan_text(text)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    for name, make in CASES.items():
        small, large = best(make(60_000)), best(make(120_000))
        print(f"{name:18} 60 KB {small * 1000:8.1f} ms   120 KB {large * 1000:8.1f} ms   "
              f"ratio {large / max(small, 1e-9):.1f}")


if __name__ == "__main__":
    main()

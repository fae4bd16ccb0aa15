"""Wall time of detection + generation + validation, per sample repo and per service.

    .venv/bin/python bench/generate.py [--repeat N]

Target: under 2 s per service on 2 cores, validators included.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.files import read_tree  # noqa: E402
from jobs.pipeline import plan_generation  # noqa: E402
from jobs.stacks import detect_stacks  # noqa: E402
from jobs.validators import validate_report  # noqa: E402

REPOS = Path(__file__).resolve().parent.parent / "tests" / "jobs" / "repos"


def measure(repo: Path) -> dict[str, float | int]:
    files = read_tree(repo)
    t0 = time.perf_counter()
    stacks = detect_stacks(files)
    t1 = time.perf_counter()
    plan = plan_generation(files)
    t2 = time.perf_counter()
    report = validate_report(plan.generated)
    t3 = time.perf_counter()
    if not report.ok:
        raise SystemExit(f"{repo.name}: validators failed: {report.errors()}")
    return {"projects": len([s for s in stacks if s.language != "unknown"]),
            "services": len([s for s in stacks if s.is_service]),
            "files": len(plan.generated), "detect": t1 - t0, "generate": t2 - t1,
            "validate": t3 - t2, "total": t3 - t0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'repo':24} {'proj':>4} {'svc':>3} {'files':>5} {'detect':>8} {'generate':>9} "
          f"{'validate':>9} {'total':>7} {'per proj':>9}")
    per_project = []
    for repo in sorted(p for p in REPOS.iterdir() if p.is_dir()):
        runs = [measure(repo) for _ in range(args.repeat)]
        best = {k: statistics.median(float(r[k]) for r in runs) for k in runs[0]}
        each = best["total"] / max(best["projects"], 1)
        per_project.append(each)
        print(f"{repo.name:24} {int(best['projects']):>4} {int(best['services']):>3} "
              f"{int(best['files']):>5} {best['detect']:>8.3f} {best['generate']:>9.3f} "
              f"{best['validate']:>9.3f} {best['total']:>7.3f} {each:>9.3f}")
    print(f"per project (s): median {statistics.median(per_project):.3f}, "
          f"max {max(per_project):.3f} — target < 2 s")


if __name__ == "__main__":
    main()

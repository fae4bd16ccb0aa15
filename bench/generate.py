"""Wall time of detection + generation + validation, per sample repo and per service, and
the GitHub API calls of the PR flow.

    .venv/bin/python bench/generate.py [--repeat N] [--api-only]

Targets: under 2 s per service on 2 cores, validators included; at most 6 API calls on the
commit path (PR, files, tree, create tree, create commit, update ref). The calls are counted
from the GitHub emulator's request log (webhook deliveries are not requests); the
installation token, the config read and the check run are reported apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.files import read_tree  # noqa: E402
from jobs.pipeline.plan import plan_generation  # noqa: E402
from jobs.pipeline.stacks import detect_stacks  # noqa: E402
from jobs.pipeline.validate import validate_report  # noqa: E402

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


def kind_of(request: dict[str, Any]) -> str:
    path = request["path"]
    if path.endswith("/access_tokens"):
        return "token"
    if "/contents/" in path:
        return "config"
    if "/check-runs" in path:
        return "check run"
    return "core"


def api_calls(service: str = "py-fastapi-uv") -> list[tuple[str, list[dict[str, Any]]]]:
    """The requests the pipeline job makes for a PR: the commit path with a cold token, then
    a human push that changes nothing relevant (warm token)."""
    from app.embedded import EmbeddedRedis
    from app.github import GitHubApp
    from app.settings import load_settings
    from jobs.pipeline import generate_for_pull_request
    from tests.emulator.fixture import Emulator

    emu = Emulator().start()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp))
        try:
            import redis

            conn = redis.Redis.from_url(server.start())
            creds = emu.credentials
            gh_app = GitHubApp(load_settings(
                app_id=creds["app_id"], private_key=creds["private_key_pem"],
                webhook_secret=creds["webhook_secret"], github_api_url=emu.url,
                redis_url=server.url, _env_file=None))
            repo = emu.create_repo("octo", "bench", {"README.md": "# bench\n"})
            files = read_tree(REPOS / service)
            pr = emu.open_pull("octo", "bench", "feature", files, user="alice")
            scenarios = []
            for label in ("commit path (cold token)", "no-op synchronize (warm token)"):
                emu.clear_requests()
                result = generate_for_pull_request(
                    installation_id=repo["installation_id"], repo="octo/bench",
                    delivery_id=label, number=pr["number"], head_sha=pr["head_sha"],
                    conn=conn, factory=gh_app.installation)
                scenarios.append((f"{label}: {result['status']}", emu.requests()))
                main = emu.state("octo", "bench")["files"]["feature"]["app/main.py"]
                pr = emu.push("octo", "bench", pr["number"],
                              {"app/main.py": main + "\n# touch\n"}, user="alice")
        finally:
            server.stop()
            emu.stop()
    return scenarios


def print_api_calls() -> None:
    for label, requests in api_calls():
        kinds = Counter(kind_of(r) for r in requests)
        print(f"\n{label}: {len(requests)} requests — "
              + ", ".join(f"{k} {kinds[k]}" for k in ("core", "token", "config", "check run")))
        for r in requests:
            path = r["path"] if len(r["path"]) < 70 else r["path"][:67] + "..."
            print(f"  {kind_of(r):9} {r['method']:5} {path} -> {r['status']}")
    print("target: core ≤ 6 on the commit path")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--api-only", action="store_true")
    args = parser.parse_args()
    if args.api_only:
        print_api_calls()
        return
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
    print_api_calls()


if __name__ == "__main__":
    main()

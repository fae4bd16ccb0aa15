"""Container probes for processes without an HTTP port (the workers): `python -m app.probe`.

`redis`: Redis answers (readiness: a worker that cannot reach its queues takes no work).
`worker`: an RQ worker of this host (pod) is registered and its heartbeat key is alive
(liveness: RQ extends the key's TTL past each job's timeout, so a busy worker passes and a
hung one does not). Exit 0 when healthy, 1 with one line on stderr when not.
"""

from __future__ import annotations

import os
import socket
import sys

import redis


def check(conn: redis.Redis, what: str, hostname: str) -> str | None:
    """None when healthy, else why not."""
    conn.ping()
    if what == "redis":
        return None
    names = [n.decode() if isinstance(n, bytes) else str(n)
             for n in conn.smembers("rq:workers")]  # type: ignore[union-attr]
    for key in names:
        if conn.hget(key, "hostname") in (hostname.encode(), hostname):
            return None
    return f"no live RQ worker registered for host {hostname}"


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    what = args[0] if args else "worker"
    if what not in {"redis", "worker"}:
        print(f"usage: python -m app.probe [redis|worker] (not {what!r})", file=sys.stderr)
        return 2
    url = os.environ.get("REDIS_URL")
    if not url:
        print("REDIS_URL: not set", file=sys.stderr)
        return 1
    try:
        conn = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=2)
        problem = check(conn, what, socket.gethostname())
    except redis.RedisError as exc:
        problem = f"redis: {exc}"
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Shared set-up for the benchmarks that run Django against the dedicated bench database.

``setup_django()`` points Django at ``complaints_bench`` on the local PostgreSQL (never the test
database, never the embedded SQLite file), creates that database if it is missing, and publishes
Celery messages to Redis db 14, which the benchmarks empty afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

BENCH_DB = "complaints_bench"
PG_SOCKET_DIR = "/var/run/postgresql"  # where Debian's PostgreSQL puts its Unix socket
BENCH_REDIS_DB = 14
BENCH_BROKER_URL = f"redis://127.0.0.1:6379/{BENCH_REDIS_DB}"


@functools.cache
def pg_host() -> str:
    """Where the benchmarks reach the local PostgreSQL: through its Unix socket when the server
    offers one that lets the bench in, as production reaches a database on its own host (README,
    Production), else through 127.0.0.1. A round trip through the socket costs about half the CPU
    of one through loopback TCP (24 against 45 µs for both ends on the bench machine): 2.5 % of a
    web filing, whose nine requests make some 24 queries (bench/README.md)."""
    import psycopg

    try:
        dsn = f"host={PG_SOCKET_DIR} port=5432 user=postgres dbname=postgres connect_timeout=2"
        psycopg.connect(dsn).close()
    except psycopg.Error:
        return "127.0.0.1"
    return PG_SOCKET_DIR


def pg_dsn() -> str:
    return f"host={pg_host()} port=5432 user=postgres"


def bench_database_url() -> str:
    """The bench database's DATABASE_URL, through the socket or TCP as ``pg_host`` found."""
    if pg_host().startswith("/"):
        return f"postgres://postgres@/{BENCH_DB}?host={pg_host()}&port=5432"
    return f"postgres://postgres@{pg_host()}:5432/{BENCH_DB}"


def ensure_database() -> bool:
    """Create the bench database if it does not exist. Returns True if it was created."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{pg_dsn()} dbname=postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
        return True


def production_env(static_root: str, media_root: str) -> dict[str, str]:
    """Settings as in production (DEBUG off, static files from a collected manifest, rate limits
    counted in Redis), pointed at the bench database and Redis db 14, on plain HTTP on the
    loopback (no proxy in front to terminate TLS)."""
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-not-a-secret-" + "x" * 40,
        "DATABASE_URL": bench_database_url(),
        "CELERY_BROKER_URL": BENCH_BROKER_URL,
        "CACHE_URL": BENCH_BROKER_URL.replace("redis://", "rediscache://"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_PROXY_SSL_HEADER_ENABLED": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "STATIC_ROOT": static_root,
        "MEDIA_ROOT": media_root,
        "EMAIL_URL": "consolemail://",
        "LOG_LEVEL": "WARNING",
    }


def collect_static(env: dict[str, str]) -> None:
    """``collectstatic`` into env's STATIC_ROOT: production's static files need their manifest."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )


def setup_django(*, migrate: bool = True, production: dict[str, str] | None = None) -> None:
    """Configure the environment for the bench database, then ``django.setup()`` (and migrate).
    With ``production`` (see ``production_env``), those settings instead of the DEBUG ones."""
    os.environ.update(production or {})
    # Set unconditionally: a DATABASE_URL inherited from the shell must never send the bench's
    # TRUNCATE to another database.
    os.environ["DATABASE_URL"] = bench_database_url()
    os.environ["DEBUG"] = "false" if production else "true"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["CELERY_BROKER_URL"] = BENCH_BROKER_URL
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    ensure_database()

    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def flush_bench_redis() -> int:
    """Empty Redis db 14 (the bench's broker); returns how many keys it held."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=BENCH_REDIS_DB)
    try:
        keys = client.dbsize()
        client.flushdb()
        return keys
    finally:
        client.close()


def process_tree_cpu_s(root: int) -> float:
    """CPU seconds used so far by a process and its children (a gunicorn master and its workers,
    PostgreSQL's postmaster and its backends), counting the children that have exited and been
    reaped: their time is in the parent's cutime and cstime."""

    def ticks(pid: int, children: bool) -> int:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        # utime, stime, cutime, cstime are fields 14 to 17; 12 to 15 after the name.
        return sum(int(x) for x in fields[11 : 15 if children else 13])

    total = ticks(root, children=True)
    with open(f"/proc/{root}/task/{root}/children") as listing:
        for pid in listing.read().split():
            # A child reaped since the listing is counted in the parent's cutime next time.
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                total += ticks(int(pid), children=False)
    return total / os.sysconf("SC_CLK_TCK")


def service_pids() -> dict[str, int]:
    """The process ids of the local PostgreSQL's postmaster and of Redis, where this machine
    shows them (both on this host, as the benchmarks expect), for ``process_tree_cpu_s``."""
    import psycopg
    import redis

    pids: dict[str, int] = {}
    with contextlib.suppress(OSError, ValueError, psycopg.Error):
        with psycopg.connect(f"{pg_dsn()} dbname=postgres", autocommit=True) as conn:
            (backend,) = conn.execute("SELECT pg_backend_pid()").fetchone()
        with open(f"/proc/{backend}/stat") as stat:
            pids["PostgreSQL"] = int(stat.read().rsplit(")", 1)[1].split()[1])  # its parent
    client = redis.Redis(host="127.0.0.1", port=6379)
    with contextlib.suppress(redis.RedisError, KeyError):
        pid = int(client.info("server")["process_id"])
        if os.path.exists(f"/proc/{pid}/stat"):
            pids["Redis"] = pid
    client.close()
    return pids


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> int:
    try:
        out = subprocess.run(["nproc"], capture_output=True, text=True, check=True)  # noqa: S607
        return int(out.stdout.strip())
    except (OSError, ValueError, subprocess.CalledProcessError):
        return os.cpu_count() or 0


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``p`` % of them at or below it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages: whether something else was running."""
    return [round(x, 2) for x in os.getloadavg()]


def _reference_work() -> int:
    rows = [{"id": i, "ref": f"CMP-2026-{i:06d}", "n": i * 7919 % 1000} for i in range(40_000)]
    rows.sort(key=lambda row: (row["n"], row["ref"]))
    return sum(len(row["ref"]) for row in rows if row["n"] % 3)


def cpu_reference_ms(rounds: int = 7) -> float:
    """The host's speed: CPU milliseconds for a fixed pure-Python workload (building dicts,
    formatting strings, sorting), best of ``rounds``; lower is faster.

    The same virtual machine has run the same code two and a half times slower on one day than on
    another, with nothing else running. Every benchmark prints this figure beside its own, so a
    slower host can be told from a slower portal, and figures from two runs compared."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        _reference_work()
        best = min(best, time.process_time() - started)
    return round(best * 1000, 1)


def machine() -> dict[str, object]:
    """The machine and database the figures were taken on (needs ``setup_django()`` first)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (pg_version,) = cursor.fetchone()
        cursor.execute("SHOW shared_buffers")
        (shared_buffers,) = cursor.fetchone()
    return {
        "nproc": nproc(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "cpu_reference_ms": cpu_reference_ms(),
        "postgresql": pg_version,
        "shared_buffers": shared_buffers,
        "postgresql_through": "Unix socket" if pg_host().startswith("/") else "TCP, 127.0.0.1",
    }


def write_results(name: str, results: dict) -> Path:
    """Write a benchmark's figures to bench/results/<name>.json (whole, or not at all)."""
    import json

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, default=str) + "\n")
    tmp.replace(out)
    return out

"""Compare filing on two versions of the portal, side by side on the same host at the same time.

Run from the project root (the local PostgreSQL and Redis must be up, the bench database seeded):

    .venv/bin/python bench/ab_filing.py HEAD~2             # HEAD~2 (A) against this checkout (B)
    .venv/bin/python bench/ab_filing.py v1 v2 --rounds 20  # two revisions
    .venv/bin/python bench/ab_filing.py /path/to/a --api   # another checkout; through the API

The virtual machines this runs on change speed from one minute to the next (bench/README.md, the
CPU reference), often by more than the change being measured, so two runs of bench_filing.py a
few minutes apart cannot compare two versions. This script runs both at once: each a gunicorn with
its own ``gunicorn.conf.py`` and 2 workers on the bench database (A on port 8765, B on 8766), each
driven by 4 customers at a time through the web flow of bench_filing.py (or, with ``--api``, 4
staff logging complaints through the API), in windows of a few seconds. Whatever the host does,
it does to both alike.

With ``--alternate``, one side at a time instead, 8 customers as in bench_filing.py, the sides
taking turns window by window (A then B, then B then A). Two sides at once keep the cores busy
while the other side's workers wait (on the database's disk, say), so a change that shortens
such waits shows only when each side has the machine to itself; the host's drift still falls
on both alike, as the windows interleave.

Figures for each side, summed over the windows: complaints filed, and the CPU its gunicorn used
per complaint (the master and its workers, including workers recycled meanwhile; read from
/proc). PostgreSQL's and Redis's share cannot be told apart by side and is left out; the
machine's busy time per complaint over both sides is printed beside it. Both sides run on this
checkout's virtual environment: a change of dependencies is not compared. A revision is checked
out in a temporary git worktree, removed afterwards. The bench's complaints are removed again at
the end. Results go to bench/results/ab_filing.json.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bench_filing as filing
from bench.common import (
    ROOT,
    flush_bench_redis,
    load_average,
    machine,
    process_tree_cpu_s,
    setup_django,
    write_results,
)

PORTS = {"A": 8765, "B": 8766}
CLIENTS = 4  # on each side
ALTERNATE_CLIENTS = 8  # one side at a time, as bench_filing.py


def checkout(spec: str, into: Path) -> tuple[Path, str]:
    """The code for ``spec``: this checkout ("."), a directory, or a revision checked out in a
    worktree at ``into``/code (one folder per side, so both may be the same revision). Returns
    the directory and a description."""
    if spec == ".":
        return ROOT, f"this checkout ({git('rev-parse', '--short', 'HEAD')}, with any changes)"
    if Path(spec).is_dir():
        return Path(spec).resolve(), f"the checkout in {spec}"
    revision = git("rev-parse", "--short", spec)
    tree = into / "code"
    git("worktree", "add", "--detach", "--quiet", str(tree), revision)
    return tree, f"{spec} ({revision})"


def git(*args: str) -> str:
    return subprocess.run(  # noqa: S603 (git, with the revisions given on the command line)
        ["git", *args],  # noqa: S607 (git from PATH, as the developer runs it)
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def one_round(
    servers: dict[str, subprocess.Popen],
    seconds: float,
    tokens: list[str] | None,
    serials,
    clients: int = CLIENTS,
) -> dict[str, dict[str, Any]]:
    """``clients`` threads on each side at once for ``seconds``; counts and CPU for each."""
    lock = threading.Lock()
    filed: dict[str, list[str]] = {side: [] for side in servers}
    errors: dict[str, list[str]] = {side: [] for side in servers}
    end = time.perf_counter() + seconds

    def customers(side: str) -> None:
        while time.perf_counter() < end:
            with lock:
                serial = next(serials)
            customer = filing.Customer(serial, PORTS[side])
            _, reference, error = filing.file_one(customer, serial)
            customer.close()
            with lock:
                (filed[side] if reference else errors[side]).append(reference or error)

    def staff(side: str) -> None:
        conn = http.client.HTTPConnection(filing.HOST, PORTS[side], timeout=30)
        while time.perf_counter() < end:
            with lock:
                serial = next(serials)
            conn, reference, error = filing.log_one(conn, tokens[serial % len(tokens)], serial)
            with lock:
                (filed[side] if reference else errors[side]).append(reference or error)
        conn.close()

    threads = [
        threading.Thread(target=customers if tokens is None else staff, args=(side,))
        for side in servers
        for _ in range(clients)
    ]
    before = {side: process_tree_cpu_s(server.pid) for side, server in servers.items()}
    machine_before = filing.cpu_snapshot()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    machine_after = filing.cpu_snapshot()
    figures = {
        side: {
            "filed": len(filed[side]),
            "errors": errors[side],
            "gunicorn_cpu_s": process_tree_cpu_s(server.pid) - before[side],
        }
        for side, server in servers.items()
    }
    figures["machine"] = {
        "busy_s": machine_after[0] - machine_before[0],
        "load_generator_s": machine_after[1] - machine_before[1],
    }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="a revision or a directory: the version compared against")
    parser.add_argument("b", nargs="?", default=".", help="the other (default: this checkout)")
    parser.add_argument("--rounds", type=int, default=12, help="windows")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one window")
    parser.add_argument("--api", action="store_true", help="staff through the API, not the web")
    parser.add_argument(
        "--alternate", action="store_true", help="one side at a time, taking turns (see above)"
    )
    args = parser.parse_args(argv)

    setup_django()
    filing.remove_bench_filings()
    flush_bench_redis()
    info = machine()
    results: dict[str, Any] = {"machine": info, "load_before": load_average()}
    path = "the API" if args.api else "the customers' web flow"
    print(
        f"machine: {info['nproc']} CPUs ({info['cpu_model']}), Python {info['python']}, "
        f"CPU reference {info['cpu_reference_ms']} ms"
    )

    worktrees = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    servers: dict[str, subprocess.Popen] = {}
    totals: dict[str, dict[str, Any]] = {
        side: {"filed": 0, "errors": [], "gunicorn_cpu_s": 0.0, "busy_s": 0.0} for side in PORTS
    }
    clients = ALTERNATE_CLIENTS if args.alternate else CLIENTS
    busy = {"busy_s": 0.0, "load_generator_s": 0.0}
    try:
        for side, spec in (("A", args.a), ("B", args.b)):
            code, results[side] = checkout(spec, worktrees / side)
            env = filing.server_env(
                str(worktrees / "static"), str(worktrees / "media"), PORTS[side]
            )
            log = worktrees / f"gunicorn-{side}.log"
            servers[side] = filing.start_server(env, log, code=code, port=PORTS[side])
            print(f"{side}: {results[side]}, gunicorn on port {PORTS[side]}")
        tokens = filing.api_tokens() if args.api else None
        serials = iter(range(1, 10_000_000))
        one_round(servers, 3.0, tokens, serials)  # warm-up: connections, first requests
        for number in range(args.rounds):
            groups = [servers]
            if args.alternate:
                order = ("A", "B") if number % 2 == 0 else ("B", "A")
                groups = [{side: servers[side]} for side in order]
            for group in groups:
                figures = one_round(group, args.seconds, tokens, serials, clients)
                for side in group:
                    totals[side]["filed"] += figures[side]["filed"]
                    totals[side]["errors"] += figures[side]["errors"]
                    totals[side]["gunicorn_cpu_s"] += figures[side]["gunicorn_cpu_s"]
                    if args.alternate:  # the machine was this side's alone
                        totals[side]["busy_s"] += figures["machine"]["busy_s"]
                for key in busy:
                    busy[key] += figures["machine"][key]
    finally:
        for server in servers.values():
            filing.stop_server(server)
        for side in PORTS:
            if (worktrees / side / "code" / ".git").exists():
                git("worktree", "remove", "--force", str(worktrees / side / "code"))
        shutil.rmtree(worktrees, ignore_errors=True)
        removed = filing.remove_bench_filings()
        filing.retire_api_accounts()
        flush_bench_redis()

    seconds = args.rounds * args.seconds
    how = "one side at a time, taking turns" if args.alternate else "both at once"
    print(
        f"\nFiling through {path}, {clients} at a time on each side, {how}, "
        f"{args.rounds} windows of {args.seconds:.0f} s"
    )
    print(f"  {'':<4}{'filed':>8}{'per second':>12}{'gunicorn CPU ms':>17}{'errors':>8}")
    for side, t in totals.items():
        t["complaints_per_s"] = t["filed"] / seconds
        t["gunicorn_cpu_ms_per_complaint"] = (
            1000 * t["gunicorn_cpu_s"] / t["filed"] if t["filed"] else None
        )
        t["error_samples"] = sorted(set(t["errors"]))[:5]
        t["errors"] = len(t["errors"])
        cpu = t["gunicorn_cpu_ms_per_complaint"]
        print(
            f"  {side:<4}{t['filed']:>8,}{t['complaints_per_s']:>12.1f}"
            f"{cpu if cpu is None else round(cpu, 1)!s:>17}{t['errors']:>8}  {t['error_samples']}"
        )
        if args.alternate:
            t["busy_percent"] = round(100 * t["busy_s"] / (seconds * (os.cpu_count() or 1)), 1)
            print(f"      the machine's cores {t['busy_percent']} % busy while this side ran")
    a, b = totals["A"], totals["B"]
    if a["filed"] and b["filed"]:
        rate = 100 * (b["filed"] / a["filed"] - 1)
        cpu = 100 * (b["gunicorn_cpu_ms_per_complaint"] / a["gunicorn_cpu_ms_per_complaint"] - 1)
        print(
            f"  B against A: {rate:+.1f} % complaints filed, "
            f"{cpu:+.1f} % gunicorn CPU per complaint"
        )
        filed = a["filed"] + b["filed"]
        server = busy["busy_s"] - busy["load_generator_s"]
        print(
            f"  both sides: {1000 * server / filed:.1f} ms of the machine's CPU per complaint "
            f"(gunicorn, PostgreSQL, Redis), {1000 * busy['load_generator_s'] / filed:.1f} ms "
            f"this load generator's"
        )
    print(f"  {removed:,} bench complaints removed again")
    results.update(
        path="api" if args.api else "web",
        clients_per_side=clients,
        alternate=args.alternate,
        rounds=args.rounds,
        window_s=args.seconds,
        totals=totals,
        machine_cpu=busy,
        load_after=load_average(),
    )
    print(f"wrote {write_results('ab_filing', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark filing: complaints per second through the real HTTP stack.

Run from the project root (the local PostgreSQL and Redis must be up):

    .venv/bin/python bench/bench_filing.py                  # 30 s at 8 customers at a time
    .venv/bin/python bench/bench_filing.py --seconds 10 --clients 4

It starts gunicorn with the project's ``gunicorn.conf.py`` and 2 workers on 127.0.0.1, in
production mode (``DEBUG`` off, static files collected and served by WhiteNoise), against the bench
database ``complaints_bench`` and Redis db 14 (broker and cache, so the rate limits count in Redis
as in production). Then ``--clients`` threads each play customers one after the other, for
``--seconds`` after a short warm-up, through the filing flow a browser goes through, following
each redirect to the page it names:

    GET  /complain/about-you/        the form, the CSRF cookie and token
    POST /complain/about-you/        -> 302 to the next page
    GET  /complain/your-complaint/   the second page
    POST /complain/your-complaint/   -> 302
    GET  /complain/support/          the third page
    POST /complain/support/          -> 302
    GET  /complain/check/            the check page and its one-time send token
    POST /complain/check/            -> 302: the complaint is filed
    GET  /complain/sent/             the confirmation with the reference

Figures: complaints filed per second (sustained over the measured window), p50 and p95 latency of
each request and of each whole filing, and errors (any other status, a missing reference, a
connection error). Every filing is checked in the database afterwards (one complaint per
confirmation), then the bench's complaints and everything recorded for them are removed again.

A second phase files through the API the way staff log a complaint taken by phone: one request
per complaint (``POST /api/v1/complaints/``, token auth, JSON), ``--api-clients`` at a time. Each
request comes from the next of the bench's API accounts (agents with their own tokens), so the
per-account throttle stays unchanged and is never the limit measured.

Rate limits stay on, unchanged. Each simulated customer comes from its own address, given in
``X-Forwarded-For`` as the production proxy gives it (``RATELIMIT_IP_META_KEY``, see the README),
so the per-address limits count exactly as they would for real customers; at the end one address
posts past its limit to show it is still refused (429).

Targets (from the issue, on this 2-core machine, with the load generator on the same machine):
at least 100 complaints/s, p95 at most 200 ms, no errors. Results go to bench/results/filing.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import seed as seeding
from bench.common import (
    ROOT,
    collect_static,
    flush_bench_redis,
    load_average,
    machine,
    percentile,
    process_tree_cpu_s,
    production_env,
    service_pids,
    setup_django,
    write_results,
)

HOST = "127.0.0.1"
PORT = 8765
WORKERS = 2
TAG = "F"  # account numbers of the bench's own complaints: F<9 digits>
TARGET_PER_S = 100.0
TARGET_P95_MS = 200.0
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TOKEN_RE = re.compile(r'name="token" value="([^"]+)"')
REFERENCE_RE = re.compile(r"CMP-\d{4}-\d{6,}")
CONTENT_LENGTH_RE = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)\r\n", re.IGNORECASE)
STEPS = (
    "about",
    "about_post",
    "complaint",
    "complaint_post",
    "support",
    "support_post",
    "check",
    "send",
    "sent",
)


# --- The server ---------------------------------------------------------------------------------


def cpu_snapshot(processes: dict[str, int] | None = None) -> tuple[float, float, dict]:
    """(CPU seconds the whole machine has been busy, CPU seconds of this process, the load
    generator, and of each of ``processes``, a name to the process id of a gunicorn master or
    PostgreSQL's postmaster, counted with their children) so far. Busy is everything but idle and
    I/O wait in /proc/stat, so it counts gunicorn's workers, PostgreSQL, Redis and this script
    alike, including processes that exit meanwhile (gunicorn recycles a worker after
    max_requests)."""
    with open("/proc/stat") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    each = {name: process_tree_cpu_s(pid) for name, pid in (processes or {}).items()}
    return busy / os.sysconf("SC_CLK_TCK"), usage.ru_utime + usage.ru_stime, each


def cpu_figures(before: tuple, after: tuple, seconds: float, filed: int) -> dict[str, Any]:
    """Where the CPU went in the measured window, in CPU milliseconds per complaint filed: in
    all, the server's part (all but the load generator), and each measured process's."""
    busy, own = after[0] - before[0], after[1] - before[1]
    per = (lambda x: round(x * 1000 / filed, 1)) if filed else (lambda x: None)
    each = {name: after[2][name] - before[2][name] for name in after[2]}
    return {
        "busy_percent": round(100 * busy / (seconds * (os.cpu_count() or 1)), 1),
        "ms_per_complaint": per(busy),
        "server_ms_per_complaint": per(busy - own),
        "load_generator_ms_per_complaint": per(own),
        "by_process_ms_per_complaint": {name: per(cpu) for name, cpu in each.items()},
        "other_ms_per_complaint": per(busy - own - sum(each.values())) if each else None,
    }


def run_clients(
    worker: Callable[[], None],
    clients: int,
    warm_up: float,
    seconds: float,
    processes: dict[str, int] | None = None,
) -> dict:
    """Run ``clients`` threads of ``worker`` (each stops itself at the window's end) and return
    the CPU snapshots taken at the start and the end of the measured window."""
    cpu: dict[str, tuple] = {}

    def measure() -> None:
        time.sleep(warm_up)
        cpu["before"] = cpu_snapshot(processes)
        time.sleep(seconds)
        cpu["after"] = cpu_snapshot(processes)

    threads = [threading.Thread(target=measure, daemon=True)]
    threads += [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return cpu


def print_cpu(cpu: dict[str, Any]) -> None:
    """The CPU a complaint cost: in all, by process where they were measured, and the load
    generator's; "the rest" is the kernel's work for no process of these, and anything else
    running."""
    generator = f"this load generator {cpu['load_generator_ms_per_complaint']} ms"
    parts = [f"{name} {ms} ms" for name, ms in cpu["by_process_ms_per_complaint"].items()]
    if parts:
        parts += [generator, f"the rest {cpu['other_ms_per_complaint']} ms"]
    else:
        parts = [f"gunicorn, PostgreSQL and Redis {cpu['server_ms_per_complaint']} ms", generator]
    print(
        f"  CPU per complaint                {cpu['ms_per_complaint']:8.1f} ms: "
        f"{', '.join(parts)} (both cores {cpu['busy_percent']} % busy)"
    )


def server_env(static_root: str, media_root: str, port: int = PORT) -> dict[str, str]:
    """Production settings (bench/common.py), and gunicorn's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GUNICORN_"))}
    env.update(production_env(static_root, media_root))
    env.update(
        {
            # As behind the production proxy: the customer's address is in X-Forwarded-For.
            "RATELIMIT_IP_META_KEY": "HTTP_X_FORWARDED_FOR",
            "GUNICORN_BIND": f"{HOST}:{port}",
            "GUNICORN_WORKERS": str(WORKERS),
        }
    )
    return env


def start_server(
    env: dict[str, str], log: Path, *, code: Path = ROOT, port: int = PORT
) -> subprocess.Popen:
    """gunicorn serving the portal in ``code`` (this checkout unless told) on ``port``, once it
    answers /healthz."""
    collect_static(env)
    handle = log.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "gunicorn.conf.py"],
        cwd=code,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"gunicorn did not answer /healthz in 30 s; see {log}")


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM to the gunicorn master this script started (it stops its own workers)."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- One customer -------------------------------------------------------------------------------


class Customer:
    """A browser as the server sees it: its cookies and its own address, one request at a time.

    Written on a plain socket, not ``http.client``: the load generator shares the two cores with
    the server, and ``http.client`` parses each response's headers with the e-mail package,
    which made the generator cost about 0.27 ms of CPU a request (measured with
    ``bench_filing.py``'s own CPU figures). gunicorn's sync worker closes the connection after
    every response, as it does for every client, so each request is sent on a new connection
    with ``Connection: close``. The response is read as far as its ``Content-Length``, and the
    connection closed then, as a browser does, rather than after waiting for the server's own
    close: the worker waits for this side's close before it takes the next request. A response
    that is not complete (cut short, or chunked) is an error, never a silent success."""

    def __init__(self, number: int, port: int = PORT) -> None:
        self.number = number
        self.port = port
        self.address = f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: dict | None = None
    ) -> tuple[int, str, float, str]:
        """(status, body, seconds, the Location header or ""). Raises OSError when the
        connection fails and http.client.HTTPException when the response is malformed."""
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {HOST}",
            f"X-Forwarded-For: {self.address}",
            "Connection: close",
        ]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        body = b""
        if form is not None:
            body = urlencode(form).encode()
            lines += [
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {len(body)}",
                f"Referer: http://{HOST}:{self.port}{path}",
            ]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        received = b""
        started = time.perf_counter()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # HOST is an IPv4 address
            sock.settimeout(30)
            sock.connect((HOST, self.port))
            sock.sendall(data)
            complete: float | None = None  # the response's length, once its head gives it
            while (complete is None or len(received) < complete) and (chunk := sock.recv(262144)):
                received += chunk
                end = received.find(b"\r\n\r\n")
                if complete is None and end >= 0:
                    found = CONTENT_LENGTH_RE.search(received, 0, end + 2)
                    complete = end + 4 + int(found[1]) if found else math.inf  # to the end
        elapsed = time.perf_counter() - started
        head, _, content = received.partition(b"\r\n\r\n")
        status_line, *headers = head.decode("latin-1").split("\r\n")
        try:
            status = int(status_line.split(" ", 2)[1])
        except (IndexError, ValueError):
            raise http.client.BadStatusLine(status_line) from None
        location, length = "", None
        for header in headers:
            name, _, value = header.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                cookie, _, rest = value.partition("=")
                self.cookies[cookie.strip()] = rest.split(";", 1)[0]
            elif name == "location":
                location = value
            elif name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                raise http.client.HTTPException(f"{method} {path}: unexpected {header}")
        if length is not None and length != len(content):
            raise http.client.IncompleteRead(content, length - len(content))
        return status, content.decode(), elapsed, location

    def close(self) -> None:
        """Nothing is held open between requests."""


def file_one(customer: Customer, serial: int) -> tuple[list[tuple[str, float]], str | None, str]:
    """The whole filing flow once. Returns (step, seconds) for each request, the reference the
    confirmation showed, and an error ("" when none)."""
    times: list[tuple[str, float]] = []

    def step(name, method, path, form=None, expect=200, to=None):
        status, text, elapsed, location = customer.request(method, path, form)
        times.append((name, elapsed))
        if status != expect:
            raise AssertionError(f"{name}: {method} {path} answered {status}, not {expect}")
        if to is not None and location != to:
            raise AssertionError(f"{name}: {method} {path} sent the browser to {location!r}")
        return text

    try:
        page = step("about", "GET", "/complain/about-you/")
        csrf = CSRF_RE.search(page).group(1)
        step(
            "about_post",
            "POST",
            "/complain/about-you/",
            {
                "csrfmiddlewaretoken": csrf,
                "customer_name": f"Load Customer {serial}",
                "email": f"load{serial}@example.com",
                "phone": "07700 900123",
                "postal_address": "1 High Street\nHertford\nSG14 1AA",
                "account_number": f"{TAG}{serial:09d}",
                "nation": "england-and-wales",
            },
            expect=302,
            to="/complain/your-complaint/",
        )
        step("complaint", "GET", "/complain/your-complaint/")
        step(
            "complaint_post",
            "POST",
            "/complain/your-complaint/",
            {
                "csrfmiddlewaretoken": csrf,
                "category": "billing",
                "what_went_wrong": "I was charged twice for October and nobody has put it right.",
                "started": "early October",
                "how_affected": "I went overdrawn.",
                "put_right": "Refund the second charge.",
            },
            expect=302,
            to="/complain/support/",
        )
        step("support", "GET", "/complain/support/")
        step(
            "support_post",
            "POST",
            "/complain/support/",
            {"csrfmiddlewaretoken": csrf, "preferred_response": "written", "support_needs": ""},
            expect=302,
            to="/complain/check/",
        )
        page = step("check", "GET", "/complain/check/")
        token = TOKEN_RE.search(page).group(1)
        step(
            "send",
            "POST",
            "/complain/check/",
            {"csrfmiddlewaretoken": csrf, "token": token},
            expect=302,
            to="/complain/sent/",
        )
        page = step("sent", "GET", "/complain/sent/")
        found = REFERENCE_RE.search(page)
        if not found:
            raise AssertionError("the confirmation shows no reference")
        return times, found.group(0), ""
    except (AssertionError, AttributeError, OSError, http.client.HTTPException) as exc:
        return times, None, f"{type(exc).__name__}: {exc}"


# --- The load -----------------------------------------------------------------------------------


def run_load(
    clients: int,
    warm_up: float,
    seconds: float,
    first_serial: int,
    processes: dict[str, int] | None = None,
) -> dict[str, Any]:
    """``clients`` threads filing one complaint after another. Filings that finish within the
    measured window (after the warm-up) are the figures; each thread is one customer at a time,
    so the load is bounded by the number of threads."""
    lock = threading.Lock()
    serials = iter(range(first_serial, first_serial + 10_000_000))
    filings: list[dict[str, Any]] = []
    started = time.perf_counter()
    window_start = started + warm_up
    window_end = window_start + seconds

    def worker() -> None:
        while time.perf_counter() < window_end:
            with lock:
                serial = next(serials)
            customer = Customer(serial)
            began = time.perf_counter()
            times, reference, error = file_one(customer, serial)
            ended = time.perf_counter()
            customer.close()
            with lock:
                filings.append(
                    {
                        "serial": serial,
                        "began": began,
                        "ended": ended,
                        "times": times,
                        "reference": reference,
                        "error": error,
                    }
                )

    cpu = run_clients(worker, clients, warm_up, seconds, processes)

    measured = [f for f in filings if window_start <= f["ended"] < window_end]
    ok = [f for f in measured if not f["error"]]
    errors = [f for f in filings if f["error"]]
    request_ms = [s * 1000 for f in measured for _, s in f["times"]]
    flow_ms = [(f["ended"] - f["began"]) * 1000 for f in ok]
    by_step = {
        name: [s * 1000 for f in measured for n, s in f["times"] if n == name] for name in STEPS
    }
    return {
        "clients": clients,
        "warm_up_s": warm_up,
        "seconds": seconds,
        "filings_started": len(filings),
        "filings_in_window": len(measured),
        "filed_in_window": len(ok),
        "complaints_per_s": len(ok) / seconds,
        "requests_in_window": len(request_ms),
        "requests_per_s": len(request_ms) / seconds,
        "request_p50_ms": statistics.median(request_ms) if request_ms else None,
        "request_p95_ms": percentile(request_ms, 95) if request_ms else None,
        "request_max_ms": max(request_ms) if request_ms else None,
        "filing_p50_ms": statistics.median(flow_ms) if flow_ms else None,
        "filing_p95_ms": percentile(flow_ms, 95) if flow_ms else None,
        "by_step_p50_p95_ms": {
            name: [statistics.median(v), percentile(v, 95)] for name, v in by_step.items() if v
        },
        "errors": len(errors),
        "error_samples": sorted({f["error"] for f in errors})[:5],
        "cpu": cpu_figures(cpu["before"], cpu["after"], seconds, len(ok)),
        "references": [f["reference"] for f in filings if f["reference"]],
    }


def limit_still_refuses() -> dict[str, Any]:
    """One address posting to the send page more often than its limit allows: refused (429)."""
    from complaints.views import RATES

    allowed = int(RATES["send"].split("/")[0])
    customer = Customer(0xFFFFFF)
    statuses = []
    page = customer.request("GET", "/complain/about-you/")[1]
    csrf = CSRF_RE.search(page).group(1)
    for _ in range(allowed + 1):
        statuses.append(
            customer.request("POST", "/complain/check/", {"csrfmiddlewaretoken": csrf})[0]
        )
    customer.close()
    return {"send_limit": RATES["send"], "statuses": statuses, "refused": statuses[-1] == 429}


# --- Through the API: one request per complaint --------------------------------------------------

API_ACCOUNTS = 64


def api_tokens() -> list[str]:
    """Agents ``bench-api-<n>`` with their API tokens, created once in the bench database."""
    from django.contrib.auth.models import Group, User

    from complaints.api_auth import api_token_issue
    from complaints.roles import AGENTS_GROUP

    agents = Group.objects.get_or_create(name=AGENTS_GROUP)[0]
    keys = []
    for n in range(API_ACCOUNTS):
        user, created = User.objects.get_or_create(username=f"bench-api-{n}")
        if created:
            user.set_unusable_password()
            user.groups.add(agents)
        user.is_active = True
        user.save()
        keys.append(api_token_issue(user=user, revoke_others=True))
    return keys


def retire_api_accounts() -> None:
    """Switch the bench's API agents off again: otherwise they are 64 more people in every
    "assign to" list of the staff pages that bench_pages.py measures."""
    from django.contrib.auth.models import User

    User.objects.filter(username__startswith="bench-api-").update(is_active=False)


def log_one(
    conn: http.client.HTTPConnection, token: str, serial: int
) -> tuple[http.client.HTTPConnection, str | None, str]:
    """One complaint taken by phone, logged through the API on ``conn`` (a new connection
    replaces it after a connection error). Returns the connection, the reference and an error
    ("" when none)."""
    body = json.dumps(
        {
            "customer_name": f"Phone Customer {serial}",
            "email": f"phone{serial}@example.com",
            "phone": "07700 900123",
            "account_number": f"{TAG}{serial:09d}",
            "category": "service_fault",
            "description": "Broadband drops every evening since the engineer's visit.",
            "channel": "phone",
            "preferred_response": "phone",
        }
    )
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "Host": HOST}
    try:
        conn.request("POST", "/api/v1/complaints/", body=body, headers=headers)
        response = conn.getresponse()
        text = response.read()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        error = f"{type(exc).__name__}: {exc}"
        return http.client.HTTPConnection(conn.host, conn.port, timeout=30), None, error
    if response.status == 201:
        return conn, json.loads(text)["reference"], ""
    return conn, None, f"answered {response.status}: {text[:120]!r}"


def run_api_load(
    clients: int,
    warm_up: float,
    seconds: float,
    first_serial: int,
    processes: dict[str, int] | None = None,
) -> dict:
    """``clients`` threads, each on one keep-alive connection, logging complaints one after
    another; the figures are the requests that finish within the measured window."""
    tokens = api_tokens()
    lock = threading.Lock()
    serials = iter(range(first_serial, first_serial + 10_000_000))
    done: list[tuple[float, float, str | None, str]] = []  # (ended, seconds, reference, error)
    started = time.perf_counter()
    window_start, window_end = started + warm_up, started + warm_up + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
        while time.perf_counter() < window_end:
            with lock:
                serial = next(serials)
            began = time.perf_counter()
            conn, reference, error = log_one(conn, tokens[serial % len(tokens)], serial)
            ended = time.perf_counter()
            with lock:
                done.append((ended, ended - began, reference, error))
        conn.close()

    cpu = run_clients(worker, clients, warm_up, seconds, processes)
    measured = [d for d in done if window_start <= d[0] < window_end]
    ms = [d[1] * 1000 for d in measured if not d[3]]
    errors = [d[3] for d in done if d[3]]
    return {
        "clients": clients,
        "seconds": seconds,
        "filed_in_window": len(ms),
        "complaints_per_s": len(ms) / seconds,
        "request_p50_ms": statistics.median(ms) if ms else None,
        "request_p95_ms": percentile(ms, 95) if ms else None,
        "request_max_ms": max(ms) if ms else None,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "cpu": cpu_figures(cpu["before"], cpu["after"], seconds, len(ms)),
        "references": [d[2] for d in done if d[2]],
    }


# --- Checking and tidying up --------------------------------------------------------------------


def check_filed(references: list[str]) -> dict[str, int]:
    from complaints.models import Complaint, Letter

    filed = Complaint.objects.filter(account_number__startswith=TAG, reference__in=references)
    return {
        "confirmations": len(references),
        "distinct_references": len(set(references)),
        "complaints_found": filed.count(),
        "acknowledgement_letters": Letter.objects.filter(
            complaint__in=filed, kind="acknowledgement"
        ).count(),
    }


def remove_bench_filings() -> int:
    """Delete the complaints this bench filed (``F`` account numbers) and every row that refers
    to them."""
    return seeding.remove_complaints(TAG)


# --- Main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="customers filing at a time")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window")
    parser.add_argument("--warm-up", type=float, default=5.0)
    parser.add_argument(
        "--api-clients", type=int, default=8, help="staff logging complaints through the API"
    )
    args = parser.parse_args(argv)

    setup_django()
    from complaints.models import Complaint

    results: dict[str, Any] = {"load_before": load_average()}
    removed = remove_bench_filings()
    if removed:
        print(f"removed {removed:,} complaints left by an earlier run")
    flush_bench_redis()
    info = machine()
    info["complaints"] = Complaint.objects.count()
    results["machine"] = info
    print(
        f"machine: {info['nproc']} CPUs ({info['cpu_model']}), PostgreSQL {info['postgresql']}, "
        f"Python {info['python']}, CPU reference {info['cpu_reference_ms']} ms; "
        f"{info['complaints']:,} complaints in the database"
    )

    with tempfile.TemporaryDirectory(prefix="bench-filing-") as tmp:
        log = Path(tmp) / "gunicorn.log"
        env = server_env(str(Path(tmp) / "static"), str(Path(tmp) / "media"))
        server = start_server(env, log)
        print(f"gunicorn: {WORKERS} workers on {HOST}:{PORT} (gunicorn.conf.py), DEBUG off")
        print(f"load average before: {results['load_before']}")
        # Each one's CPU is read with its children's: gunicorn's workers, PostgreSQL's backends.
        processes = {"gunicorn": server.pid, **service_pids()}
        try:
            figures = run_load(args.clients, args.warm_up, args.seconds, 1, processes)
            results["limit"] = limit_still_refuses()
            api = (
                run_api_load(args.api_clients, args.warm_up, args.seconds, 5_000_000, processes)
                if args.api_clients
                else {"clients": 0, "references": []}  # --api-clients 0: the web flow alone
            )
        finally:
            stop_server(server)
            results["server_log_tail"] = log.read_text().splitlines()[-5:]
    results["load_after"] = load_average()
    references = figures.pop("references")
    results["filing"] = figures
    results["check"] = check_filed(references)
    api_references = api.pop("references")
    results["api"] = api
    results["api_check"] = check_filed(api_references)
    results["removed"] = remove_bench_filings()
    retire_api_accounts()
    flush_bench_redis()

    f = figures
    print(
        f"\nFiling through gunicorn, {f['clients']} customers at a time, "
        f"{f['seconds']:.0f} s measured after {f['warm_up_s']:.0f} s of warm-up"
    )
    print(f"  complaints filed per second      {f['complaints_per_s']:8.1f}")
    print(
        f"  requests per second              {f['requests_per_s']:8.1f}  ({len(STEPS)} per filing)"
    )
    print(
        f"  request latency p50 / p95 / max  {f['request_p50_ms']:8.1f} / "
        f"{f['request_p95_ms']:.1f} / {f['request_max_ms']:.1f} ms"
    )
    print(
        f"  whole filing p50 / p95           {f['filing_p50_ms']:8.1f} / "
        f"{f['filing_p95_ms']:.1f} ms"
    )
    for name, (p50, p95) in f["by_step_p50_p95_ms"].items():
        print(f"    {name:<16} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")
    print(f"  errors                           {f['errors']:8d}  {f['error_samples']}")
    print_cpu(f["cpu"])
    c = results["check"]
    print(
        f"  checked: {c['confirmations']:,} confirmations, {c['complaints_found']:,} complaints "
        f"in the database, {c['acknowledgement_letters']:,} acknowledgement letters; "
        f"{results['removed']:,} removed again"
    )
    lim = results["limit"]
    print(
        f"  rate limit still on: {lim['send_limit']} per address; post {len(lim['statuses'])} "
        f"from one address -> last answered {lim['statuses'][-1]}"
    )
    a, ac = results["api"], results["api_check"]
    if a["clients"]:
        print(
            f"\nLogging through the API, one request per complaint, {a['clients']} at a time, "
            f"{a['seconds']:.0f} s measured"
        )
        print(f"  complaints filed per second      {a['complaints_per_s']:8.1f}")
        print(
            f"  request latency p50 / p95 / max  {a['request_p50_ms']:8.1f} / "
            f"{a['request_p95_ms']:.1f} / {a['request_max_ms']:.1f} ms"
        )
        print(f"  errors                           {a['errors']:8d}  {a['error_samples']}")
        print_cpu(a["cpu"])
        print(
            f"  checked: {ac['confirmations']:,} answered 201, {ac['complaints_found']:,} "
            f"complaints in the database, {ac['acknowledgement_letters']:,} acknowledgement "
            "letters"
        )
    ok_rate = f["complaints_per_s"] >= TARGET_PER_S
    ok_p95 = (f["request_p95_ms"] or 1e9) <= TARGET_P95_MS
    ok_errors = f["errors"] == 0 and c["complaints_found"] == c["confirmations"]
    results["targets"] = {
        "complaints_per_s": {
            "value": f["complaints_per_s"],
            "target": TARGET_PER_S,
            "met": ok_rate,
        },
        "request_p95_ms": {"value": f["request_p95_ms"], "target": TARGET_P95_MS, "met": ok_p95},
        "errors": {"value": f["errors"], "target": 0, "met": ok_errors},
    }
    if a["clients"]:
        results["targets"] |= {
            "api_complaints_per_s": {
                "value": a["complaints_per_s"],
                "target": TARGET_PER_S,
                "met": a["complaints_per_s"] >= TARGET_PER_S,
            },
            "api_request_p95_ms": {
                "value": a["request_p95_ms"],
                "target": TARGET_P95_MS,
                "met": (a["request_p95_ms"] or 1e9) <= TARGET_P95_MS,
            },
            "api_errors": {
                "value": a["errors"],
                "target": 0,
                "met": a["errors"] == 0 and ac["complaints_found"] == ac["confirmations"],
            },
        }

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print("\nTargets")
    print(f"  >= {TARGET_PER_S:.0f} complaints/s: {verdict(ok_rate)}")
    print(f"  request p95 <= {TARGET_P95_MS:.0f} ms: {verdict(ok_p95)}")
    print(f"  no errors: {verdict(ok_errors)}")
    for name, label in (
        ("api_complaints_per_s", f">= {TARGET_PER_S:.0f} complaints/s through the API"),
        ("api_request_p95_ms", f"API request p95 <= {TARGET_P95_MS:.0f} ms"),
        ("api_errors", "no API errors"),
    ):
        if name in results["targets"]:
            print(f"  {label}: {verdict(results['targets'][name]['met'])}")
    print(f"load average before {results['load_before']}, after {results['load_after']}")

    out = write_results("filing", results)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

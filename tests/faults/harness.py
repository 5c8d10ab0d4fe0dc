"""The real services for the fault tests, each private to the test that breaks it.

Other people run tests and benchmarks on the shared PostgreSQL (5432) and Redis (6379) at the same
time, so a test that stops or restarts a service never touches those: it starts its own cluster
(``initdb`` into a temporary folder, as the ``postgres`` user when run as root) and its own
``redis-server``, on free ports, and points the portal's processes (gunicorn with the project's
``gunicorn.conf.py``, Celery workers, beat) at them through the environment, as production would.
Every process is started in its own session and ended, with its children, when the test ends.
"""

from __future__ import annotations

import contextlib
import email
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
INITDB_OPTIONS = ["-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale", "C.UTF-8"]
# As the shared Redis runs here: nothing persisted, so a stop loses every queued message.
REDIS_OPTIONS = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
STAFF_PASSWORD = "fault-tests-only-2026"  # a throwaway cluster's account


def wait_for(predicate: Callable[[], object], seconds: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def pg_bin(name: str) -> str:
    """Debian's binaries (the newest installed), or whatever is on PATH elsewhere."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for folder in reversed(versions):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install Debian's 'postgresql' package")
    return found


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port, which the tests may stop and restart."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="complaints-faults-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        subprocess.run(
            _as_postgres([pg_bin("initdb"), "-D", str(self.data), *INITDB_OPTIONS]),
            check=True,
            capture_output=True,
        )

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        command = [pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options]
        return subprocess.run(
            _as_postgres([*command, *args]), check=check, capture_output=True, timeout=60
        )

    def start(self) -> None:
        self._ctl("start", "-w", "-t", "30")

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as in a failover or a package upgrade."""
        self._ctl("stop", "-m", "fast", "-w", "-t", "30")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast", "-w", "-t", "30")

    def is_ready(self) -> bool:
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=1) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql)

    def query(self, sql: str, database: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("stop", "-m", "immediate", "-w", "-t", "30", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A throwaway redis-server on a free port; ``stop`` drops everything in it, as a crash
    of the shared one (run without persistence) would."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.folder / f"redis-{self.port}.log", "ab")  # noqa: SIM115 (kept open)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), *REDIS_OPTIONS, "--dir", str(self.folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not wait_for(self.ping, 10):
            raise RuntimeError(f"redis-server did not start on port {self.port}")

    def ping(self) -> bool:
        result = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "ping"],
            capture_output=True,
            text=True,
        )
        return result.stdout.strip() == "PONG"

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGKILL)
            self.process = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


def stop_process(process: subprocess.Popen, first: signal.Signals = signal.SIGTERM) -> None:
    """End a process started in its own session, and everything it started."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, first)
        except ProcessLookupError:
            return
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(15)
    # Children (gunicorn's and Celery's workers) may outlive their parent for a moment.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class Portal:
    """One deployment of the portal against the private services: its environment, its folders
    and the processes started for it."""

    workdir: Path
    database_url: str
    redis: PrivateRedis
    postgres: PrivatePostgres | None = None
    database: str = ""
    processes: list[subprocess.Popen] = field(default_factory=list)
    web_port: int = 0

    @property
    def media(self) -> Path:
        return self.workdir / "files"

    @property
    def mail(self) -> Path:
        return self.workdir / "mail"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "DATABASE_", "CELERY_", "CACHE_", "GUNICORN_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="tests.faults.settings",
            DEBUG="false",
            SECRET_KEY="fault-tests-only-not-secret",
            DATABASE_URL=self.database_url,
            CELERY_BROKER_URL=self.redis.url(0),
            CACHE_URL=f"rediscache://127.0.0.1:{self.redis.port}/1",
            EMAIL_URL="filemail://",
            EMAIL_FILE_PATH=str(self.mail),
            VAR_DIR=str(self.workdir / "var"),
            MEDIA_ROOT=str(self.media),
            ALLOWED_HOSTS="127.0.0.1",
            # Plain HTTP on the loopback: the TLS proxy of production is not part of the test.
            SECURE_SSL_REDIRECT="false",
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
            SECURE_HSTS_SECONDS="0",
            # Each simulated customer comes from an address of their own, as through the proxy.
            RATELIMIT_IP_META_KEY="HTTP_X_FORWARDED_FOR",
            LOG_FORMAT="plain",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def spawn(self, name: str, command: list[str], **extra_env: str) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 (kept open)
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env(**extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start_web(self, workers: int = 2) -> subprocess.Popen:
        self.web_port = free_port()
        process = self.spawn(
            "gunicorn",
            [str(Path(PYTHON).parent / "gunicorn"), "config.wsgi", "-c", "gunicorn.conf.py"],
            GUNICORN_BIND=f"127.0.0.1:{self.web_port}",
            GUNICORN_WORKERS=str(workers),
            # No recycling after max_requests: a test that checks an outage left the workers
            # running must not see them replaced because they served 2,000 requests meanwhile.
            GUNICORN_CMD_ARGS="--max-requests 0",
        )
        import requests

        def up() -> bool:
            try:
                return requests.get(self.base_url + "/", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        def all_workers_forked() -> bool:
            # The master forks its workers a moment apart, and the first answers at once.
            listing = Path(f"/proc/{process.pid}/task/{process.pid}/children")
            return len(listing.read_text().split()) >= workers

        if not wait_for(up, 30) or not wait_for(all_workers_forked, 10):
            raise RuntimeError("gunicorn did not answer:\n" + self.log_tail("gunicorn"))
        return process

    def start_worker(self, name: str = "worker", module: str | None = None, **env: str):
        """A real Celery worker (prefork), or a test variant of it (``module``)."""
        command = [PYTHON, "-m", module] if module else [PYTHON, "-m", "celery", "-A", "config"]
        command += ["worker", "--loglevel", "INFO", "--concurrency", "2"]
        command += ["--hostname", f"{name}-{self.redis.port}@%h", "--without-gossip"]
        command += ["--without-mingle", "--without-heartbeat"]
        process = self.spawn(name, command, **env)
        if not wait_for(lambda: "ready." in self.log_tail(name, 20000), 30):
            raise RuntimeError(f"{name} did not start:\n" + self.log_tail(name))
        return process

    def start_beat(self, every: float = 2.0) -> subprocess.Popen:
        """beat with the outbox's safety net every few seconds instead of every minute."""
        schedule = self.workdir / "var" / "beat-schedule"
        command = [PYTHON, "-m", "tests.faults.fast_beat", str(every), str(schedule)]
        return self.spawn("beat", command)

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def log_tail(self, name: str, size: int = 3000) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    def close(self) -> None:
        for process in reversed(self.processes):
            stop_process(process)
        self.processes.clear()

    # --- What an auditor counts ----------------------------------------------------------------

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.postgres.query(sql, self.database, params)

    def letter_files(self) -> list[Path]:
        folder = self.media / "letters"
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []

    def sent_messages(self) -> list[email.message.Message]:
        """Every e-mail the file backend wrote (a file may hold more than one)."""
        messages = []
        if not self.mail.exists():
            return messages
        separator = re.compile(rb"\n-{79}\n")
        for path in sorted(self.mail.iterdir()):
            for chunk in separator.split(path.read_bytes()):
                if chunk.strip():
                    messages.append(email.message_from_bytes(chunk.strip()))
        return messages


def template_database(pg: PrivatePostgres, workdir: Path) -> str:
    """A migrated database with an agent and a manager, copied for each test (CREATE DATABASE
    ... TEMPLATE is much quicker than migrating again)."""
    name = "faults_template"
    pg.execute(f"CREATE DATABASE {name}")
    portal = Portal(
        workdir=workdir,
        database_url=pg.url(name),
        redis=PrivateRedis(workdir),
    )
    portal.manage("migrate", "--no-input")
    portal.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import Group, User\n"
        "from complaints.roles import AGENTS_GROUP, MANAGERS_GROUP\n"
        f"for name, group in (('agent', AGENTS_GROUP), ('manager', MANAGERS_GROUP)):\n"
        f"    user = User.objects.create_user(name, f'{{name}}@example.com', '{STAFF_PASSWORD}',"
        " first_name=name.capitalize())\n"
        "    user.groups.add(Group.objects.get_or_create(name=group)[0])\n",
    )
    return name

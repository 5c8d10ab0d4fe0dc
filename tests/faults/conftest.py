"""Fixtures for the fault tests (marked ``faults``, run by ``make faults``, not by ``make test``):
a private PostgreSQL cluster for the session, and for each test a fresh copy of a migrated
database, a private Redis and a folder, all removed afterwards whatever happened."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Portal, PrivatePostgres, PrivateRedis, template_database

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[tuple[PrivatePostgres, str]]:
    """The cluster and the migrated template database."""
    pg = PrivatePostgres()
    workdir = Path(tempfile.mkdtemp(prefix="complaints-faults-"))
    try:
        pg.start()
        yield pg, template_database(pg, workdir)
    finally:
        pg.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def portal(private_postgres) -> Iterator[Portal]:
    """The portal on its own database copy and its own Redis; no process is started yet."""
    pg, template = private_postgres
    if not pg.is_ready():  # a previous test left it stopped
        pg.start()
    name = f"faults_{next(_numbers)}"
    pg.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    workdir = Path(tempfile.mkdtemp(prefix="complaints-faults-"))
    redis = PrivateRedis(workdir)
    portal = Portal(
        workdir=workdir,
        database_url=pg.url(name),
        redis=redis,
        postgres=pg,
        database=name,
    )
    try:
        redis.start()
        yield portal
    finally:
        portal.close()
        redis.stop()
        if not pg.is_ready():
            pg.start()
        pg.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        shutil.rmtree(workdir, ignore_errors=True)

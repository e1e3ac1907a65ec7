"""Ledger fixtures: every repository test runs on SQLite (a temp file) and on
PostgreSQL (127.0.0.1:5432, database ``test``).

PostgreSQL isolation: one schema prefix per test session
(``ledger_test_<random>``); each test gets its own schema under that prefix,
migrated from empty, and every schema is dropped at the end, so parallel runs
never collide. If PostgreSQL cannot be reached the PostgreSQL cases skip with
the reason, unless ``EXEC_REQUIRE_POSTGRES=1`` (CI), where they fail.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from lib.clock import VirtualClock
from lib.store import LedgerRepository, make_engine, make_session_factory, upgrade_to_head

#: Tried in order; ``EXEC_TEST_POSTGRES_URL`` overrides. Both roles have trust auth here.
PG_CANDIDATES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test?connect_timeout=3",
    "postgresql+psycopg://root@127.0.0.1:5432/test?connect_timeout=3",
)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A PostgreSQL URL that answers, or skip/fail (EXEC_REQUIRE_POSTGRES=1)."""
    override = os.environ.get("EXEC_TEST_POSTGRES_URL")
    candidates = (override,) if override else PG_CANDIDATES
    errors = []
    for url in candidates:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            return url
        except OperationalError as exc:
            errors.append(f"{url}: {str(exc.orig).strip().splitlines()[0]}")
        finally:
            engine.dispose()
    reason = "PostgreSQL not reachable: " + " | ".join(errors)
    if os.environ.get("EXEC_REQUIRE_POSTGRES") == "1":
        pytest.fail(reason + " (EXEC_REQUIRE_POSTGRES=1: PostgreSQL tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_schema_factory(pg_url: str) -> Iterator[Callable[[], str]]:
    """Creates fresh schemas ``ledger_test_<session>_<n>``; drops them all at the end."""
    prefix = f"ledger_test_{secrets.token_hex(4)}"
    counter = itertools.count()
    created: list[str] = []
    admin = make_engine(pg_url)

    def new_schema() -> str:
        name = f"{prefix}_{next(counter)}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        created.append(name)
        return name

    try:
        yield new_schema
    finally:
        with admin.begin() as conn:
            for name in created:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an EMPTY database (no tables), per backend."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    else:
        url = request.getfixturevalue("pg_url")
        schema = request.getfixturevalue("pg_schema_factory")()
        engine = make_engine(url, schema=schema)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """An engine whose database Alembic has migrated to head."""
    upgrade_to_head(empty_engine)
    return empty_engine


@pytest.fixture
def repo(engine: Engine, clock: VirtualClock) -> LedgerRepository:
    return LedgerRepository(make_session_factory(engine), clock)

"""Ledger fixtures: every repository test runs on SQLite (a temp file) and on
PostgreSQL (127.0.0.1:5432, database ``test``).

PostgreSQL isolation: one schema prefix per test session
(``ledger_test_<random>``); each test gets its own schema under that prefix,
migrated from empty, and every schema is dropped at the end, so parallel runs
never collide. If PostgreSQL cannot be reached the PostgreSQL cases skip with
the reason, unless ``EXEC_REQUIRE_POSTGRES=1`` (CI), where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from lib.clock import VirtualClock
from lib.store import LedgerRepository, make_engine, make_session_factory, upgrade_to_head

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


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

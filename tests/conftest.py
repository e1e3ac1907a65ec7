"""Shared fixtures. Telemetry off for every test (Prefect reads these at import)."""

from __future__ import annotations

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# A new Prefect home builds its database first (~20 s, Prefect's own default time-out).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "240")

import itertools  # noqa: E402
import secrets  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from lib.clock import VirtualClock  # noqa: E402
from lib.config import ExecutionConfig, load_settings  # noqa: E402
from lib.instruments import InstrumentRegistry, load_instruments  # noqa: E402
from lib.store import make_engine  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fuzz: generated-input suites, >= 1,000 hypothesis cases per surface "
        "(tests/reliability/test_fuzz_*.py; select with -m fuzz, skip with -m 'not fuzz')",
    )


@pytest.fixture(scope="session")
def instruments() -> InstrumentRegistry:
    return load_instruments()


@pytest.fixture
def exec_config() -> ExecutionConfig:
    return load_settings().execution


@pytest.fixture
def clock() -> VirtualClock:
    """Virtual time starting mid-morning New York on a regular session day."""
    return VirtualClock(datetime(2026, 11, 24, 15, 30, tzinfo=UTC))


#: Tried in order; ``EXEC_TEST_POSTGRES_URL`` overrides. Both roles have trust auth here.
PG_CANDIDATES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test?connect_timeout=3",
    "postgresql+psycopg://root@127.0.0.1:5432/test?connect_timeout=3",
)


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


LEDGER_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=LEDGER_BACKENDS)
def ledger_db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(database url, schema) of an empty ledger database, per backend; the
    schema is migrated by whoever opens it (the runtime does)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}", None
    url = request.getfixturevalue("pg_url")
    return url, request.getfixturevalue("pg_schema_factory")()

"""Engines, sessions and schema upgrades for the ledger.

Where the ledger lives, first match wins:

1. the ``url`` argument;
2. the ``EXEC_DATABASE_URL`` environment variable
   (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
3. a SQLite file ``ledger.sqlite`` in the anchored var folder
   (``$EXEC_VAR_DIR``, else ``<project root>/var``; see :mod:`lib.varpaths`),
   whatever the working directory (the folder is created).

SQLite is the embedded default: foreign keys on, WAL journal (readers do not
block the writer), and every transaction starts with ``BEGIN IMMEDIATE`` so
concurrent writers queue on the busy timeout instead of failing with
"database is locked" on a read-to-write lock upgrade. SQLite has ONE writer at
a time: fine for one rebalance at a time plus readers, not for several
workers writing at once -- use PostgreSQL for that.

The schema is created only by Alembic: :func:`upgrade_to_head` runs the
migrations shipped inside this package, from any working directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lib.errors import LedgerError
from lib.varpaths import var_path

__all__ = [
    "DEFAULT_SQLITE_PATH",
    "ENV_DATABASE_URL",
    "MIGRATIONS_DIR",
    "SQLITE_BUSY_TIMEOUT_SECONDS",
    "alembic_config",
    "current_revision",
    "head_revision",
    "make_engine",
    "make_session_factory",
    "resolve_url",
    "upgrade_to_head",
]

ENV_DATABASE_URL = "EXEC_DATABASE_URL"
#: Under the anchored var folder (:func:`lib.varpaths.var_path`), never the cwd.
DEFAULT_SQLITE_PATH = Path("var") / "ledger.sqlite"
#: How long a SQLite writer waits for the lock before failing, seconds.
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
#: The Alembic script directory, inside the installed package.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def resolve_url(url: str | URL | None = None) -> URL:
    """The database URL to use: ``url`` > ``$EXEC_DATABASE_URL`` > SQLite default.

    A bare ``postgresql://`` URL gets the psycopg 3 driver (the one installed).
    """
    if url is None or (isinstance(url, str) and not url.strip()):
        env = os.environ.get(ENV_DATABASE_URL, "").strip()
        url = env or f"sqlite:///{var_path(DEFAULT_SQLITE_PATH)}"
    try:
        parsed = make_url(url)
    except Exception as exc:  # ArgumentError, ValueError: both mean "not a URL"
        raise LedgerError(f"invalid database URL {str(url)!r}: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_file(url: URL) -> Path | None:
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def _setup_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module: it would
        # otherwise BEGIN lazily (deferred) and skip BEGIN before DDL.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoint; safe with WAL
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Take the write lock up front: a deferred transaction that reads and
        # then writes can hit SQLITE_BUSY without waiting (lock upgrade).
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(
    url: str | URL | None = None, *, schema: str | None = None, echo: bool = False
) -> Engine:
    """Create an engine for the ledger (see module docstring for resolution).

    ``schema`` (PostgreSQL only) puts every table, Alembic's version table
    included, in that schema via ``search_path``; the schema must exist.
    """
    resolved = resolve_url(url)
    backend = resolved.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        path = _sqlite_file(resolved)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        connect_args["check_same_thread"] = False
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_SECONDS
        if schema is not None:
            raise LedgerError("schema= is only supported on PostgreSQL")
    elif backend == "postgresql":
        if schema is not None:
            if not _SCHEMA_NAME.match(schema):
                raise LedgerError(f"invalid schema name {schema!r}")
            connect_args["options"] = f"-c search_path={schema}"
    engine = create_engine(resolved, echo=echo, connect_args=connect_args, pool_pre_ping=True)
    if backend == "sqlite":
        _setup_sqlite(engine)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (``expire_on_commit=False``),
    so the repository can hand back rows once their transaction is closed."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None, url: str | URL | None = None) -> Config:
    """An Alembic Config pointing at the migrations inside this package.

    With ``connection`` the migrations run on it (in its transaction);
    otherwise ``env.py`` builds an engine from ``url`` (resolved as above).
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolates '%': escape it (passwords may contain it).
        cfg.set_main_option(
            "sqlalchemy.url",
            resolve_url(url).render_as_string(hide_password=False).replace("%", "%%"),
        )
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade_to_head(engine_or_url: Engine | str | URL | None = None) -> str | None:
    """Run every pending migration; return the revision the database is then at.

    Accepts an engine (its schema/search_path settings are kept), a URL, or
    None (resolved as in :func:`make_engine`). Idempotent.
    """
    owned = not isinstance(engine_or_url, Engine)
    engine = make_engine(engine_or_url) if not isinstance(engine_or_url, Engine) else engine_or_url
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
        return current_revision(engine)
    except SQLAlchemyError as exc:
        raise LedgerError(f"ledger migration failed on {engine.url!r}: {exc}") from exc
    finally:
        if owned:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None: never migrated)."""
    with engine.connect() as conn:
        rev: str | None = MigrationContext.configure(conn).get_current_revision()
        return rev


def head_revision() -> str | None:
    """The newest revision shipped in this package."""
    from alembic.script import ScriptDirectory

    head: str | None = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return head

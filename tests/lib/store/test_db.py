"""Engine resolution, SQLite pragmas, and the schema coming only from Alembic."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData, inspect, text

from lib.errors import LedgerError
from lib.store import db
from lib.store.models import Base

LEDGER_TABLES = {
    "rebalances",
    "intents",
    "netting_results",
    "plans",
    "orders",
    "order_events",
    "fills",
    "sleeve_allocations",
    "sleeve_positions",
    "risk_blocks",
    "daily_metrics",
    "rebalance_attempts",
}


def _diffs(engine: Engine, metadata: MetaData) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, metadata))


# -- URL resolution ----------------------------------------------------------


def test_url_argument_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(db.ENV_DATABASE_URL, "sqlite:////tmp/from-env.sqlite")
    assert db.resolve_url("sqlite:////tmp/from-arg.sqlite").database == "/tmp/from-arg.sqlite"


def test_environment_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(db.ENV_DATABASE_URL, "postgresql://postgres@127.0.0.1:5432/test")
    url = db.resolve_url()
    # a bare postgresql:// URL gets the installed psycopg 3 driver
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database) == ("127.0.0.1", 5432, "test")


def test_default_is_sqlite_under_var_and_creates_the_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(db.ENV_DATABASE_URL, raising=False)
    monkeypatch.setenv("EXEC_VAR_DIR", str(tmp_path / "var"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    engine = db.make_engine()
    try:
        assert engine.url.database == str(tmp_path / "var" / "ledger.sqlite")
        assert (tmp_path / "var").is_dir()
        assert not (elsewhere / "var").exists()
    finally:
        engine.dispose()


def test_default_ledger_is_anchored_at_the_project_not_the_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from lib.varpaths import PROJECT_ROOT

    monkeypatch.delenv(db.ENV_DATABASE_URL, raising=False)
    monkeypatch.delenv("EXEC_VAR_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert db.resolve_url().database == str(PROJECT_ROOT / "var" / "ledger.sqlite")


def test_invalid_url_is_a_ledger_error() -> None:
    with pytest.raises(LedgerError, match="invalid database URL"):
        db.resolve_url("not a url at all")


def test_schema_option_is_validated(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="only supported on PostgreSQL"):
        db.make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}", schema="s")
    with pytest.raises(LedgerError, match="invalid schema name"):
        db.make_engine("postgresql+psycopg://postgres@127.0.0.1/test", schema="x; drop")


def test_sqlite_foreign_keys_and_wal_are_on(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'p.sqlite'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
    finally:
        engine.dispose()


# -- migrations --------------------------------------------------------------


def test_upgrade_from_empty_creates_every_table(empty_engine: Engine) -> None:
    assert not set(inspect(empty_engine).get_table_names()) & LEDGER_TABLES
    assert db.current_revision(empty_engine) is None
    rev = db.upgrade_to_head(empty_engine)
    assert rev is not None and rev == db.head_revision()
    assert set(inspect(empty_engine).get_table_names()) >= LEDGER_TABLES | {"alembic_version"}
    # idempotent: a second upgrade is a no-op at the same revision
    assert db.upgrade_to_head(empty_engine) == rev


def test_models_and_migrations_agree(engine: Engine) -> None:
    assert _diffs(engine, Base.metadata) == []


def test_comparison_would_catch_a_model_drift(engine: Engine) -> None:
    # The agreement test above is only worth something if a drift shows up.
    drifted = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["fills"].append_column(Column("venue_code", Integer, nullable=True))
    diffs = _diffs(engine, drifted)
    assert len(diffs) == 1
    assert "venue_code" in repr(diffs[0])


def test_unique_keys_exist_in_the_migrated_schema(engine: Engine) -> None:
    insp = inspect(engine)
    orders_unique = {tuple(u["column_names"]) for u in insp.get_unique_constraints("orders")}
    fills_unique = {tuple(u["column_names"]) for u in insp.get_unique_constraints("fills")}
    assert ("client_order_id",) in orders_unique
    assert ("exec_id",) in fills_unique


def test_upgrade_by_url_from_another_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no alembic.ini here: the package finds its migrations
    url = f"sqlite:///{tmp_path / 'by_url.sqlite'}"
    assert db.upgrade_to_head(url) == db.head_revision()
    engine = db.make_engine(url)
    try:
        assert "orders" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_downgrade_to_base_drops_the_schema(tmp_path: Path) -> None:
    from alembic import command

    engine = db.make_engine(f"sqlite:///{tmp_path / 'down.sqlite'}")
    try:
        db.upgrade_to_head(engine)
        with engine.begin() as conn:
            command.downgrade(db.alembic_config(connection=conn), "base")
        assert not set(inspect(engine).get_table_names()) & LEDGER_TABLES
    finally:
        engine.dispose()


def test_migrations_form_one_chain_from_0001() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(db.alembic_config())
    assert len(scripts.get_heads()) == 1
    chain = [rev.revision for rev in scripts.walk_revisions("base", "heads")]
    assert chain[-1] == "0001"
    assert "0002_fingerprint" in chain


def test_cli_ini_points_at_the_packaged_migrations() -> None:
    ini = db.MIGRATIONS_DIR.parent / "alembic.ini"
    cfg = Config(str(ini))
    assert Path(cfg.get_main_option("script_location") or "").resolve() == db.MIGRATIONS_DIR
    assert (db.MIGRATIONS_DIR / "script.py.mako").is_file()

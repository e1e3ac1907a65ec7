"""Transaction and upsert plumbing shared by the ledger repository parts.

Every repository method runs in ONE transaction (:meth:`LedgerBase._tx`):
it commits when the method returns and rolls back if anything raises, so a
crash leaves either the whole logical step or none of it. SQLAlchemy errors
are translated to :class:`lib.errors.LedgerError` here, at the vendor edge.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from lib.clock import Clock, SystemClock
from lib.errors import LedgerConflict, LedgerError

__all__ = ["LedgerBase"]


class LedgerBase:
    """Holds the session factory and the clocks; gives one transaction per step.

    ``clock`` stamps the domain timestamps (virtual on the simulator);
    ``wall_clock`` (default the system clock) stamps the ``wall_*`` columns
    beside them, so past runs can be ordered and audited in real time.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock | None = None,
        wall_clock: Clock | None = None,
    ) -> None:
        self._sessions = session_factory
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._wall: Clock = wall_clock if wall_clock is not None else SystemClock()

    @property
    def engine(self) -> Engine:
        bind = self._sessions.kw.get("bind")
        if not isinstance(bind, Engine):
            raise LedgerError("session factory is not bound to an engine")
        return bind

    def _now(self) -> datetime:
        return self._clock.now()

    def _wall_now(self) -> datetime:
        return self._wall.now()

    @contextmanager
    def _tx(self, step: str) -> Iterator[Session]:
        """One committed-or-rolled-back transaction for the logical ``step``."""
        try:
            with self._sessions.begin() as session:
                yield session
        except LedgerError:
            raise
        except IntegrityError as exc:
            raise LedgerError(f"ledger {step}: constraint violated: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise LedgerError(f"ledger {step}: {exc}") from exc

    @staticmethod
    def _insert_ignore(
        session: Session,
        model: type[DeclarativeBase],
        values: Mapping[str, Any],
        conflict_columns: Sequence[str],
    ) -> bool:
        """INSERT ... ON CONFLICT (conflict_columns) DO NOTHING; True if a row was inserted.

        Safe under concurrency on both backends: the database, not a prior
        SELECT, decides who wins, and the loser's insert is a no-op (other
        constraint violations, e.g. a missing parent row, still raise).
        """
        dialect = session.get_bind().dialect.name
        # A Core insert on the Table: no ORM bookkeeping for a row we may not write.
        table = cast(Table, model.__table__)
        if dialect == "postgresql":
            stmt: Any = pg_insert(table).values(**values)
        elif dialect == "sqlite":
            stmt = sqlite_insert(table).values(**values)
        else:
            raise LedgerError(f"ledger: unsupported database dialect {dialect!r}")
        # RETURNING, not rowcount: psycopg reports rowcount -1 for this statement.
        first_pk = next(iter(table.primary_key.columns))
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict_columns))
        stmt = stmt.returning(first_pk)
        return session.execute(stmt).first() is not None

    @staticmethod
    def _check_same(
        table: str, key: str, stored: Mapping[str, Any], wanted: Mapping[str, Any]
    ) -> None:
        """Raise :class:`LedgerConflict` if a rerun's write differs from the stored row."""
        diffs = [
            f"{k}: stored {stored[k]!r} != new {v!r}" for k, v in wanted.items() if stored[k] != v
        ]
        if diffs:
            raise LedgerConflict(table, key, "; ".join(diffs))

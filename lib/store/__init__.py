"""The SQL ledger: SQLAlchemy 2 models, Alembic migrations, the repository.

Typical use::

    engine = make_engine()               # url > $EXEC_DATABASE_URL > var/ledger.sqlite
    upgrade_to_head(engine)              # the schema comes only from Alembic
    repo = LedgerRepository(make_session_factory(engine), clock)
"""

from lib.store.db import (
    ENV_DATABASE_URL,
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    resolve_url,
    upgrade_to_head,
)
from lib.store.records import AllocationRecord, NettingRecord, SampleRecord
from lib.store.repository import LedgerRepository

__all__ = [
    "ENV_DATABASE_URL",
    "AllocationRecord",
    "LedgerRepository",
    "NettingRecord",
    "SampleRecord",
    "current_revision",
    "head_revision",
    "make_engine",
    "make_session_factory",
    "resolve_url",
    "upgrade_to_head",
]

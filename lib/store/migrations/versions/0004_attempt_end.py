"""Attempt end: when each rebalance attempt started (wall clock) and
finished, and how.

An attempt whose ``finished_at`` stays NULL never reached its analytics step:
it crashed, was killed (kill -9, OOM, a lost machine) or failed. The next
attempt of the same rebalance finds it, alerts and marks it ``abandoned``.

Revision ID: 0004_attempt_end
Revises: 0003_tca_audit
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_attempt_end"
down_revision: str | None = "0003_tca_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("rebalance_attempts") as batch:
        batch.add_column(sa.Column("wall_ts", _TS, nullable=True))
        batch.add_column(sa.Column("finished_at", _TS, nullable=True))
        batch.add_column(sa.Column("wall_finished_at", _TS, nullable=True))
        batch.add_column(sa.Column("end_state", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rebalance_attempts") as batch:
        batch.drop_column("end_state")
        batch.drop_column("wall_finished_at")
        batch.drop_column("finished_at")
        batch.drop_column("wall_ts")

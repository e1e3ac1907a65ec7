"""Audit and TCA: wall-clock timestamps beside the virtual ones (orders, order
events, fills, rebalances), the decision mid per symbol, and market data
samples (quotes and tape volume per instrument, during and after a run).

Revision ID: 0003_tca_audit
Revises: 0002_fingerprint
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_tca_audit"
down_revision: str | None = "0002_fingerprint"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("wall_created_at", _TS, nullable=True))
        batch.add_column(sa.Column("wall_submitted_at", _TS, nullable=True))
        batch.add_column(sa.Column("wall_updated_at", _TS, nullable=True))
    with op.batch_alter_table("order_events") as batch:
        batch.add_column(sa.Column("wall_ts", _TS, nullable=True))
    with op.batch_alter_table("fills") as batch:
        batch.add_column(sa.Column("wall_recorded_at", _TS, nullable=True))
    with op.batch_alter_table("rebalances") as batch:
        batch.add_column(sa.Column("wall_created_at", _TS, nullable=True))
        batch.add_column(sa.Column("wall_finished_at", _TS, nullable=True))
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rebalance_id", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("mid", sa.Float(), nullable=False),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("wall_ts", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["rebalance_id"], ["rebalances.rebalance_id"],
            name=op.f("fk_decisions_rebalance_id_rebalances"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.UniqueConstraint("rebalance_id", "symbol", name=op.f("uq_decisions_rebalance_id_symbol")),
    )
    op.create_index(op.f("ix_decisions_rebalance_id"), "decisions", ["rebalance_id"], unique=False)
    op.create_table(
        "market_samples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rebalance_id", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("wall_ts", _TS, nullable=False),
        sa.Column("bid", sa.Float(), nullable=True),
        sa.Column("ask", sa.Float(), nullable=True),
        sa.Column("mid", sa.Float(), nullable=True),
        sa.Column("last", sa.Float(), nullable=True),
        sa.Column("volume", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["rebalance_id"], ["rebalances.rebalance_id"],
            name=op.f("fk_market_samples_rebalance_id_rebalances"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_samples")),
        sa.UniqueConstraint("rebalance_id", "symbol", "ts",
                            name=op.f("uq_market_samples_rebalance_id_symbol_ts")),
    )
    op.create_index(op.f("ix_market_samples_rebalance_id"), "market_samples", ["rebalance_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_market_samples_rebalance_id"), table_name="market_samples")
    op.drop_table("market_samples")
    op.drop_index(op.f("ix_decisions_rebalance_id"), table_name="decisions")
    op.drop_table("decisions")
    with op.batch_alter_table("rebalances") as batch:
        batch.drop_column("wall_finished_at")
        batch.drop_column("wall_created_at")
    with op.batch_alter_table("fills") as batch:
        batch.drop_column("wall_recorded_at")
    with op.batch_alter_table("order_events") as batch:
        batch.drop_column("wall_ts")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("wall_updated_at")
        batch.drop_column("wall_submitted_at")
        batch.drop_column("wall_created_at")

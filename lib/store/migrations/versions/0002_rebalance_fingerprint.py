"""Rebalance idempotency: the inputs' fingerprint on each rebalance, and one
row per attempt (its parameters, fingerprint and outcome).

Revision ID: 0002_fingerprint
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_fingerprint"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rebalances") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("fingerprint_inputs", sa.JSON(), nullable=True))
    op.create_table(
        "rebalance_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rebalance_id", sa.String(length=128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rebalance_id"],
            ["rebalances.rebalance_id"],
            name=op.f("fk_rebalance_attempts_rebalance_id_rebalances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rebalance_attempts")),
        sa.UniqueConstraint(
            "rebalance_id", "attempt", name=op.f("uq_rebalance_attempts_rebalance_id_attempt")
        ),
    )
    op.create_index(
        op.f("ix_rebalance_attempts_rebalance_id"),
        "rebalance_attempts",
        ["rebalance_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rebalance_attempts_rebalance_id"), table_name="rebalance_attempts")
    op.drop_table("rebalance_attempts")
    with op.batch_alter_table("rebalances") as batch:
        batch.drop_column("fingerprint_inputs")
        batch.drop_column("fingerprint")

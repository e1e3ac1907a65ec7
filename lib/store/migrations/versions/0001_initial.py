"""Initial ledger schema: rebalances, intents, netting, plans, orders, order events,
fills, sleeve allocations and positions, risk blocks, daily metrics.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("fills", sa.Integer(), nullable=False),
        sa.Column("fill_rate", sa.Float(), nullable=False),
        sa.Column("total_notional", sa.Float(), nullable=False),
        sa.Column("slippage_bps_weighted", sa.Float(), nullable=True),
        sa.Column("slippage_bps_p95", sa.Float(), nullable=True),
        sa.Column("shortfall_bps", sa.Float(), nullable=True),
        sa.Column("commission", sa.Float(), nullable=False),
        sa.Column("replaces_total", sa.Integer(), nullable=False),
        sa.Column("netting_saved_qty", sa.BigInteger(), nullable=False),
        sa.Column("netting_saved_notional", sa.Float(), nullable=False),
        sa.Column("extras", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_metrics")),
        sa.UniqueConstraint("day", "scope", name=op.f("uq_daily_metrics_day_scope")),
    )
    op.create_table(
        "rebalances",
        sa.Column("rebalance_id", sa.String(length=128), nullable=False),
        sa.Column("portfolio", sa.String(length=64), nullable=False),
        sa.Column("schedule", sa.String(length=64), nullable=False),
        sa.Column("session_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("rebalance_id", name=op.f("pk_rebalances")),
    )
    op.create_table(
        "sleeve_positions",
        sa.Column("sleeve", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("avg_price", sa.Float(), nullable=True),
        sa.Column("last_rebalance_id", sa.String(length=128), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sleeve", "symbol", name=op.f("pk_sleeve_positions")),
    )
    op.create_table(
        "intents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rebalance_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("intent_id", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("sleeve", sa.String(length=64), nullable=True),
        sa.Column("asset_class", sa.String(length=16), nullable=True),
        sa.Column("pair_group", sa.String(length=64), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rebalance_id"],
            ["rebalances.rebalance_id"],
            name=op.f("fk_intents_rebalance_id_rebalances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intents")),
        sa.UniqueConstraint(
            "rebalance_id", "kind", "intent_id", name=op.f("uq_intents_rebalance_id_kind_intent_id")
        ),
    )
    op.create_index(op.f("ix_intents_rebalance_id"), "intents", ["rebalance_id"], unique=False)

    op.create_table(
        "netting_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rebalance_id", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("gross_buy", sa.BigInteger(), nullable=False),
        sa.Column("gross_sell", sa.BigInteger(), nullable=False),
        sa.Column("net_quantity", sa.BigInteger(), nullable=False),
        sa.Column("crossed_quantity", sa.BigInteger(), nullable=False),
        sa.Column("net_intent_id", sa.String(length=128), nullable=True),
        sa.Column("dropped_reason", sa.String(length=64), nullable=True),
        sa.Column("benefit_notional", sa.Float(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rebalance_id"],
            ["rebalances.rebalance_id"],
            name=op.f("fk_netting_results_rebalance_id_rebalances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_netting_results")),
        sa.UniqueConstraint(
            "rebalance_id", "symbol", name=op.f("uq_netting_results_rebalance_id_symbol")
        ),
    )
    op.create_index(
        op.f("ix_netting_results_rebalance_id"), "netting_results", ["rebalance_id"], unique=False
    )

    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rebalance_id", sa.String(length=128), nullable=False),
        sa.Column("intent_id", sa.String(length=128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("order_type", sa.String(length=8), nullable=False),
        sa.Column("limit_price", sa.Float(), nullable=True),
        sa.Column("collar_low", sa.Float(), nullable=False),
        sa.Column("collar_high", sa.Float(), nullable=False),
        sa.Column("arrival_mid", sa.Float(), nullable=False),
        sa.Column("ttl_seconds", sa.Float(), nullable=False),
        sa.Column("replace_interval_seconds", sa.Float(), nullable=False),
        sa.Column("max_replace_attempts", sa.Integer(), nullable=False),
        sa.Column("reprice_ladder", sa.JSON(), nullable=False),
        sa.Column("max_slippage_bps", sa.Float(), nullable=False),
        sa.Column("slices", sa.JSON(), nullable=True),
        sa.Column("adv_fraction", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rebalance_id"],
            ["rebalances.rebalance_id"],
            name=op.f("fk_plans_rebalance_id_rebalances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint(
            "rebalance_id",
            "intent_id",
            "attempt",
            name=op.f("uq_plans_rebalance_id_intent_id_attempt"),
        ),
    )
    op.create_index(op.f("ix_plans_rebalance_id"), "plans", ["rebalance_id"], unique=False)

    op.create_table(
        "risk_blocks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rebalance_id", sa.String(length=128), nullable=False),
        sa.Column("control", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=True),
        sa.Column("intent_id", sa.String(length=128), nullable=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rebalance_id"],
            ["rebalances.rebalance_id"],
            name=op.f("fk_risk_blocks_rebalance_id_rebalances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_blocks")),
    )
    op.create_index(
        op.f("ix_risk_blocks_rebalance_id"), "risk_blocks", ["rebalance_id"], unique=False
    )

    op.create_table(
        "sleeve_allocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rebalance_id", sa.String(length=128), nullable=False),
        sa.Column("sleeve", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("applied_quantity", sa.BigInteger(), nullable=False),
        sa.Column("intent_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rebalance_id"],
            ["rebalances.rebalance_id"],
            name=op.f("fk_sleeve_allocations_rebalance_id_rebalances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sleeve_allocations")),
        sa.UniqueConstraint(
            "rebalance_id",
            "sleeve",
            "symbol",
            "source",
            name=op.f("uq_sleeve_allocations_rebalance_id_sleeve_symbol_source"),
        ),
    )
    op.create_index(
        op.f("ix_sleeve_allocations_rebalance_id"),
        "sleeve_allocations",
        ["rebalance_id"],
        unique=False,
    )

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(length=128), nullable=False),
        sa.Column("rebalance_id", sa.String(length=128), nullable=False),
        sa.Column("intent_id", sa.String(length=128), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.String(length=128), nullable=True),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("order_type", sa.String(length=8), nullable=False),
        sa.Column("limit_price", sa.Float(), nullable=True),
        sa.Column("mode", sa.String(length=32), nullable=True),
        sa.Column("slice_index", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("broker_order_id", sa.String(length=64), nullable=True),
        sa.Column("filled_quantity", sa.BigInteger(), nullable=False),
        sa.Column("avg_fill_price", sa.Float(), nullable=True),
        sa.Column("commission", sa.Float(), nullable=False),
        sa.Column("replace_count", sa.Integer(), nullable=False),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_orders_plan_id_plans"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["rebalance_id"],
            ["rebalances.rebalance_id"],
            name=op.f("fk_orders_rebalance_id_rebalances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
    )
    op.create_index(op.f("ix_orders_intent_id"), "orders", ["intent_id"], unique=False)
    op.create_index(
        op.f("ix_orders_rebalance_status"), "orders", ["rebalance_id", "status"], unique=False
    )

    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exec_id", sa.String(length=128), nullable=False),
        sa.Column("client_order_id", sa.String(length=128), nullable=False),
        sa.Column("rebalance_id", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("commission", sa.Float(), nullable=False),
        sa.Column("liquidity", sa.String(length=16), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["orders.client_order_id"],
            name=op.f("fk_fills_client_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rebalance_id"],
            ["rebalances.rebalance_id"],
            name=op.f("fk_fills_rebalance_id_rebalances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
        sa.UniqueConstraint("exec_id", name=op.f("uq_fills_exec_id")),
    )
    op.create_index(op.f("ix_fills_client_order_id"), "fills", ["client_order_id"], unique=False)
    op.create_index(op.f("ix_fills_rebalance_id"), "fills", ["rebalance_id"], unique=False)

    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(length=128), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["orders.client_order_id"],
            name=op.f("fk_order_events_client_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    op.create_index(
        op.f("ix_order_events_client_order_id"), "order_events", ["client_order_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_order_events_client_order_id"), table_name="order_events")

    op.drop_table("order_events")
    op.drop_index(op.f("ix_fills_rebalance_id"), table_name="fills")
    op.drop_index(op.f("ix_fills_client_order_id"), table_name="fills")

    op.drop_table("fills")
    op.drop_index(op.f("ix_orders_rebalance_status"), table_name="orders")
    op.drop_index(op.f("ix_orders_intent_id"), table_name="orders")

    op.drop_table("orders")
    op.drop_index(op.f("ix_sleeve_allocations_rebalance_id"), table_name="sleeve_allocations")

    op.drop_table("sleeve_allocations")
    op.drop_index(op.f("ix_risk_blocks_rebalance_id"), table_name="risk_blocks")

    op.drop_table("risk_blocks")
    op.drop_index(op.f("ix_plans_rebalance_id"), table_name="plans")

    op.drop_table("plans")
    op.drop_index(op.f("ix_netting_results_rebalance_id"), table_name="netting_results")

    op.drop_table("netting_results")
    op.drop_index(op.f("ix_intents_rebalance_id"), table_name="intents")

    op.drop_table("intents")
    op.drop_table("sleeve_positions")
    op.drop_table("rebalances")
    op.drop_table("daily_metrics")

"""Alembic migrations of the ledger (run through lib.store.db.upgrade_to_head)."""

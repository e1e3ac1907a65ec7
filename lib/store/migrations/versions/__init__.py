"""Alembic revision scripts, applied in order by lib.store.db.upgrade_to_head."""

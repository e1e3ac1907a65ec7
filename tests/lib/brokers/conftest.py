"""Fixtures of the IBKR socket tests (gateway, transport, ib_async log guard): see ibkr_support.py."""

from tests.lib.brokers.ibkr_support import gateway, ib_errors, transport  # noqa: F401

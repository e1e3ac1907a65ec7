"""A guard that fails a test on any ib_async log record at WARNING or above.

A wrong field count is only logged by ib_async's decoder (the order silently
stays PendingSubmit), so every socket test runs under this guard; records of
the IB error codes a test declares with ``allow(code, ...)`` pass, and so do
the follow-up records that ib_async writes right after them.
Shared by the gateway tests (tests/lib/sim/tws) and the transport tests
(tests/lib/brokers).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

__all__ = ["SESSION_START", "IbLogGuard", "guarded_ib_logs"]

#: A fixed virtual session (Tuesday 2026-11-24, 10:30 New York) so no test depends on the hour.
SESSION_START = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
_CODE = re.compile(r"^(?:Error|Warning) (\d+), reqId")


class IbLogGuard(logging.Handler):
    """Collects ib_async records; ``follow_ups`` are message prefixes that pass
    once some code is allowed (ib_async logs "Canceled order: <trade>" right
    after the error that cancelled it)."""

    def __init__(self, follow_ups: tuple[str, ...] = ("Canceled order:",)) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.allowed: set[int] = set()
        self.forgiven: list[str] = []
        self.follow_ups = follow_ups

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def allow(self, *codes: int) -> None:
        """IB error codes this test expects (their 'Error N, reqId' records pass)."""
        self.allowed.update(codes)

    def forgive(self, *substrings: str) -> None:
        """Accept records containing one of ``substrings`` (an expected failure's own log)."""
        self.forgiven.extend(substrings)

    def codes(self) -> list[int]:
        return [int(m.group(1)) for r in self.records if (m := _CODE.match(r.getMessage()))]

    def unexpected(self) -> list[str]:
        bad = []
        for r in self.records:
            msg = r.getMessage()
            m = _CODE.match(msg)
            if r.exc_info is None and (
                (m and int(m.group(1)) in self.allowed)
                or (self.allowed and msg.startswith(self.follow_ups))
                or any(s in msg for s in self.forgiven)
            ):
                continue
            bad.append(f"{r.name} {r.levelname}: {msg}")
        return bad


@contextmanager
def guarded_ib_logs(guard: IbLogGuard, level: int | None = None) -> Iterator[IbLogGuard]:
    """Attach ``guard`` to the 'ib_async' logger (optionally at ``level``),
    then fail on any unexpected record once the block ends."""
    logger = logging.getLogger("ib_async")
    logger.addHandler(guard)
    old = logger.level
    if level is not None:
        logger.setLevel(level)
    try:
        yield guard
    finally:
        logger.removeHandler(guard)
        logger.setLevel(old)
    bad = guard.unexpected()
    assert not bad, "ib_async logged errors:\n" + "\n".join(bad)

"""A recording wrapper for ib_async's real Decoder, and a capturing Client:
the golden tests run the library's own parsers over the gateway's bytes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC
from typing import Any

from ib_async.client import Client
from ib_async.decoder import Decoder

from lib.sim.tws.framing import Field, FrameBuffer, frame


class _IbStub:
    TimezoneTWS = None


class RecordingWrapper:
    """Records every wrapper call the decoder makes as (name, args)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.ib = _IbStub()
        self.defaultTimezone = UTC

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("__"):
            raise AttributeError(name)

        def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record


class DecoderLogGuard(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def decode(msg: list[Field], server_version: int = 178) -> list[tuple[str, tuple[Any, ...]]]:
    """Frame ``msg``, split it as ib_async does, run ib_async's Decoder; raise
    on any decoder log at WARNING+ (ib_async only logs a bad layout)."""
    [fields] = FrameBuffer().feed(frame(msg))
    wrapper = RecordingWrapper()
    guard = DecoderLogGuard()
    logger = logging.getLogger("ib_async")
    logger.addHandler(guard)
    try:
        Decoder(wrapper, server_version).interpret(fields)  # type: ignore[arg-type]
    finally:
        logger.removeHandler(guard)
    if guard.records:
        raise AssertionError(f"decoder logged: {[r.getMessage() for r in guard.records]}")
    return wrapper.calls


class CapturingClient(Client):
    """ib_async's Client writing into a list instead of a socket, at server version 178."""

    def __init__(self) -> None:
        super().__init__(RecordingWrapper())  # type: ignore[arg-type]
        self.sent: list[list[str]] = []

    def isConnected(self) -> bool:  # noqa: N802 - ib_async's name
        return True

    def serverVersion(self) -> int:  # noqa: N802 - ib_async's name
        return 178

    def sendMsg(self, msg: str) -> None:  # noqa: N802 - ib_async's name
        self.sent.append(msg.split("\0")[:-1])

"""TWS API framing: every message is a 4-byte big-endian length followed by
fields, each terminated by NUL. The connection opens with the raw bytes
``API\\0`` and one framed ``v<min>..<max>[ options]`` from the client; the
server answers one framed message ``serverVersion|connectionTime``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable

__all__ = [
    "API_PREFIX",
    "MAX_SERVER_VERSION",
    "MIN_CLIENT_VERSION",
    "FrameBuffer",
    "HandshakeError",
    "fmt_field",
    "frame",
    "negotiate_version",
]

API_PREFIX = b"API\0"
#: The highest server version this gateway speaks (ib_async 2.1.0's maximum).
MAX_SERVER_VERSION = 178
#: Below this ib_async gives up (and so do we).
MIN_CLIENT_VERSION = 157

Field = str | int | float | bool | None


class HandshakeError(ValueError):
    """The client's version announcement is malformed or out of range."""


def fmt_field(v: Field) -> str:
    """One field as TWS writes it: bools 1/0, None empty, floats shortest repr,
    NaN empty, +inf ``Infinite``."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v == math.inf:
            return "Infinite"
        if v == int(v) and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    return str(v)


def frame(fields: Iterable[Field]) -> bytes:
    """Encode one message (length prefix + NUL-terminated fields)."""
    body = "".join(fmt_field(f) + "\0" for f in fields).encode()
    return struct.pack(">I", len(body)) + body


class FrameBuffer:
    """Accumulates bytes and yields complete messages as field lists."""

    def __init__(self) -> None:
        self._data = b""

    def feed(self, data: bytes) -> list[list[str]]:
        """Append ``data``; return every complete message now buffered."""
        self._data += data
        out: list[list[str]] = []
        while len(self._data) >= 4:
            n = struct.unpack(">I", self._data[:4])[0]
            if len(self._data) < 4 + n:
                break
            body = self._data[4 : 4 + n].decode(errors="backslashreplace")
            self._data = self._data[4 + n :]
            fields = body.split("\0")
            if fields and fields[-1] == "":
                fields.pop()
            out.append(fields)
        return out

    def append(self, data: bytes) -> None:
        self._data += data

    def take_prefix(self, prefix: bytes) -> bool | None:
        """Consume ``prefix`` if the buffer starts with it: True; False if the
        buffer cannot start with it; None if more bytes are needed."""
        if len(self._data) < len(prefix):
            return None if prefix.startswith(self._data) else False
        if not self._data.startswith(prefix):
            return False
        self._data = self._data[len(prefix) :]
        return True


def negotiate_version(announcement: str) -> int:
    """Server version for the client's ``v<min>..<max>`` announcement:
    min(client max, 178); raises HandshakeError if below the client's range
    or below 157."""
    head = announcement.strip().split(" ", 1)[0]
    if not head.startswith("v"):
        raise HandshakeError(f"bad version announcement {announcement!r}")
    lo_s, sep, hi_s = head[1:].partition("..")
    try:
        lo = int(lo_s)
        hi = int(hi_s) if sep else lo
    except ValueError:
        raise HandshakeError(f"bad version announcement {announcement!r}") from None
    version = min(hi, MAX_SERVER_VERSION)
    if version < max(lo, MIN_CLIENT_VERSION):
        raise HandshakeError(f"client versions {lo}..{hi} not supported (server speaks up to {MAX_SERVER_VERSION})")
    return version

"""The idempotency fingerprint of a rebalance's inputs.

A rebalance id is an idempotency key: a rerun under the same id must mean the
same trades. The fingerprint is the sha256 of a canonical JSON document of
everything that changes *what is traded*:

- ``targets``: the validated targets file's content (its model, not its bytes:
  comments, whitespace, key order and the file's path do not count; a CSV and a
  YAML file with the same content are the same targets);
- ``portfolio``, ``broker``, ``mode`` (forced policy mode);
- ``execution``: the whole ``execution:`` settings section (min trade notional,
  drift threshold, policy, slicing... all shape the orders);
- ``base_currency``.

Not included, on purpose: risk limits and the kill switch (they decide what
may be sent, and an operator who raised a limit that blocked a run must be
able to rerun it), ``dry_run``, simulator seed/start/state, schedule slug.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from lib.config import Settings
from lib.params import RebalanceParams
from lib.targets import TargetsFile

__all__ = ["FINGERPRINT_VERSION", "differences", "fingerprint", "trading_inputs"]

#: Bumped when the document's shape changes (old fingerprints then differ).
FINGERPRINT_VERSION = 1


def trading_inputs(
    targets: TargetsFile, params: RebalanceParams, settings: Settings, base_currency: str = "USD"
) -> dict[str, Any]:
    """The canonical document the fingerprint is taken of (JSON-safe)."""
    return {
        "version": FINGERPRINT_VERSION,
        "targets": targets.model_dump(mode="json", exclude={"source"}),
        "portfolio": settings.portfolio,
        "broker": params.broker,
        "mode": params.mode.value if params.mode is not None else None,
        "execution": settings.execution.model_dump(mode="json"),
        "base_currency": base_currency,
    }


def fingerprint(inputs: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON of ``inputs`` (sorted keys, no spaces)."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def differences(stored: Mapping[str, Any] | None, given: Mapping[str, Any]) -> tuple[str, ...]:
    """Which inputs changed: top-level keys, and ``execution.<key>`` per setting."""
    if stored is None:
        return ()
    out: list[str] = []
    for key in sorted(set(stored) | set(given)):
        a, b = stored.get(key), given.get(key)
        if a == b:
            continue
        if key == "execution" and isinstance(a, Mapping) and isinstance(b, Mapping):
            out += [f"execution.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        else:
            out.append(key)
    return tuple(out)

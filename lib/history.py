"""Multi-day execution history: rolling windows by instrument, asset class,
policy mode and sleeve (the seed's "historical analytics").

Input is one :class:`HistoryRow` per parent order (from
:func:`load_history`, which rebuilds each rebalance's TCA from the ledger on
SQLite or PostgreSQL alike) and one :class:`NettingRow` per netted symbol.
:func:`rolling` answers, for each trailing window of calendar days ending at
``until`` and each value of a dimension::

    orders, fill rate (paper-notional weighted), slippage mean/median/p95
    (bps, filled orders, unweighted), IS and its parts (bps, paper-notional
    weighted, they add up), replaces (total, per order), commission (sum, in
    the orders' currencies as recorded: see ``currencies``), netting saved
    (units; instrument / asset class / "all" only: netting is per symbol)

Rows are held as columns (:class:`HistoryFrame`); per window and dimension
the sums are one ``numpy.bincount`` each and percentiles per key come from
numpy, so 250 days x 1,000 orders aggregate in under a second
(bench/analytics_scale.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from lib.instruments import InstrumentRegistry
from lib.ledger_tca import FxRate, rebalance_tca
from lib.store import LedgerRepository

__all__ = ["DEFAULT_WINDOWS", "DIMENSIONS", "HistoryFrame", "HistoryRow", "NettingRow", "WindowStats",
           "load_history", "rolling"]

#: Trailing windows, calendar days ending at ``until`` (inclusive).
DEFAULT_WINDOWS: tuple[int, ...] = (1, 5, 20, 60, 250)
#: Dimensions :func:`rolling` groups by ("all" is one group).
DIMENSIONS = ("all", "instrument", "asset_class", "mode", "sleeve")
_PARTS = ("shortfall", "delay", "spread", "impact", "opportunity", "fees")


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One parent order's TCA (bps positive = cost; notional in its currency)."""

    day: date
    rebalance_id: str
    instrument: str
    asset_class: str
    mode: str
    sleeve: str
    currency: str
    slippage_bps: float | None
    shortfall_bps: float
    delay_bps: float
    spread_bps: float
    impact_bps: float
    opportunity_bps: float
    fees_bps: float
    paper_notional: float
    fill_fraction: float
    replaces: int
    commission: float


@dataclass(frozen=True, slots=True)
class NettingRow:
    day: date
    instrument: str
    asset_class: str
    saved_qty: int


@dataclass(frozen=True, slots=True)
class WindowStats:
    """One dimension value over one trailing window (see module docstring)."""

    dimension: str
    key: str
    window_days: int
    orders: int
    fill_rate: float | None
    slippage_mean_bps: float | None
    slippage_median_bps: float | None
    slippage_p95_bps: float | None
    shortfall_bps: float | None
    delay_bps: float | None
    spread_bps: float | None
    impact_bps: float | None
    opportunity_bps: float | None
    fees_bps: float | None
    replaces: int
    replaces_per_order: float | None
    commission: float
    currencies: tuple[str, ...]
    netting_saved_qty: int | None


@dataclass(frozen=True, slots=True)
class HistoryFrame:
    """The rows as columns (numpy arrays of equal length; keys as strings)."""

    ordinal: np.ndarray  # day.toordinal(), int64
    keys: dict[str, tuple[tuple[str, ...], np.ndarray]]  # dimension -> (names, int codes)
    currency: tuple[tuple[str, ...], np.ndarray]  # (names, int codes)
    slippage: np.ndarray  # NaN where nothing filled
    parts: dict[str, np.ndarray]  # _PARTS -> bps
    notional: np.ndarray
    fill: np.ndarray
    replaces: np.ndarray
    commission: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[HistoryRow]) -> HistoryFrame:
        def col(attr: str, dtype: type = float) -> np.ndarray:
            return np.array([getattr(r, attr) for r in rows], dtype=dtype)

        def codes(attr: str) -> tuple[tuple[str, ...], np.ndarray]:
            names: dict[str, int] = {}
            code = np.array([names.setdefault(str(getattr(r, attr)), len(names)) for r in rows],
                            dtype=np.int64)
            return tuple(names), code

        return cls(
            ordinal=np.array([r.day.toordinal() for r in rows], dtype=np.int64),
            keys={"all": (("all",), np.zeros(len(rows), dtype=np.int64)),
                  **{d: codes(d) for d in ("instrument", "asset_class", "mode", "sleeve")}},
            currency=codes("currency"),
            slippage=np.array([np.nan if r.slippage_bps is None else r.slippage_bps for r in rows]),
            parts={p: col(f"{p}_bps") for p in _PARTS},
            notional=col("paper_notional"), fill=col("fill_fraction"),
            replaces=col("replaces", np.int64), commission=col("commission"),
        )


def rolling(
    rows: HistoryFrame | Sequence[HistoryRow],
    netting: Iterable[NettingRow] = (),
    *,
    until: date,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    dimensions: Sequence[str] = DIMENSIONS,
) -> list[WindowStats]:
    """Trailing-window statistics (module docstring), by dimension, key and
    window; rows after ``until`` are ignored."""
    for d in dimensions:
        if d not in DIMENSIONS:
            raise ValueError(f"dimension must be one of {DIMENSIONS}, got {d!r}")
    if any(w < 1 for w in windows):
        raise ValueError("windows must be >= 1 day")
    f = rows if isinstance(rows, HistoryFrame) else HistoryFrame.from_rows(list(rows))
    nets = [n for n in netting if n.day <= until]
    end = until.toordinal()
    out: list[WindowStats] = []
    for dim in dimensions:
        names, inv = f.keys[dim]
        k = len(names)
        net_by: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if dim in ("all", "instrument", "asset_class"):
            grouped: dict[str, list[NettingRow]] = {}
            for x in nets:
                grouped.setdefault(_net_key(x, dim), []).append(x)
            net_by = {key: (np.array([x.day.toordinal() for x in xs]), np.array([x.saved_qty for x in xs]))
                      for key, xs in grouped.items()}
        cnames, ccodes = f.currency
        for days in sorted(windows):
            start = end - days + 1
            m = (f.ordinal >= start) & (f.ordinal <= end)
            if not m.any():
                continue
            gi = inv[m]
            w = f.notional[m]

            def per(values: np.ndarray, gi: np.ndarray = gi, k: int = k) -> np.ndarray:
                return np.bincount(gi, weights=values, minlength=k)

            n = np.bincount(gi, minlength=k)
            wsum = per(w)
            fill = per(w * f.fill[m])
            parts = {p: per(w * f.parts[p][m]) for p in _PARTS}
            rep = per(f.replaces[m].astype(float))
            comm = per(f.commission[m])
            slip_all = f.slippage[m]
            cur = ccodes[m]
            for jj in np.nonzero(n)[0]:
                j = int(jj)
                key = str(names[j])
                sel = gi == j
                slip = slip_all[sel]
                slip = slip[~np.isnan(slip)]
                ws = float(wsum[j])

                def wmean(arr: np.ndarray, j: int = j, ws: float = ws) -> float | None:
                    return float(arr[j]) / ws if ws > 0 else None

                saved: int | None = None
                if dim in ("all", "instrument", "asset_class"):
                    no, nq = net_by.get(key, (np.array([]), np.array([])))
                    saved = int(nq[(no >= start) & (no <= end)].sum())
                out.append(WindowStats(
                    dimension=dim, key=key, window_days=days, orders=int(n[j]),
                    fill_rate=wmean(fill),
                    slippage_mean_bps=float(slip.mean()) if slip.size else None,
                    slippage_median_bps=float(np.percentile(slip, 50)) if slip.size else None,
                    slippage_p95_bps=float(np.percentile(slip, 95)) if slip.size else None,
                    shortfall_bps=wmean(parts["shortfall"]), delay_bps=wmean(parts["delay"]),
                    spread_bps=wmean(parts["spread"]), impact_bps=wmean(parts["impact"]),
                    opportunity_bps=wmean(parts["opportunity"]), fees_bps=wmean(parts["fees"]),
                    replaces=int(rep[j]), replaces_per_order=float(rep[j]) / int(n[j]),
                    commission=float(comm[j]),
                    currencies=tuple(sorted(cnames[c] for c in np.unique(cur[sel]))),
                    netting_saved_qty=saved,
                ))
    return out


def _net_key(row: NettingRow, dim: str) -> str:
    return "all" if dim == "all" else (row.instrument if dim == "instrument" else row.asset_class)


def load_history(
    ledger: LedgerRepository,
    registry: InstrumentRegistry,
    *,
    since: date,
    until: date,
    fx_rate: FxRate | None = None,
) -> tuple[list[HistoryRow], list[NettingRow]]:
    """Rows of every rebalance with ``since <= session_date <= until``."""
    rows: list[HistoryRow] = []
    nets: list[NettingRow] = []
    for reb in ledger.list_rebalances(since=since, until=until):
        t = rebalance_tca(ledger, registry, reb.rebalance_id, fx_rate=fx_rate)
        day = reb.session_date or t.summary.day
        for o in t.orders:
            x = o.tca
            rows.append(HistoryRow(
                day=day, rebalance_id=reb.rebalance_id, instrument=x.symbol,
                asset_class=x.asset_class, mode=x.mode.value, sleeve=o.sleeve, currency=o.currency,
                slippage_bps=x.slippage_bps, shortfall_bps=x.shortfall_bps, delay_bps=x.delay_bps,
                spread_bps=x.spread_bps, impact_bps=x.impact_bps,
                opportunity_bps=x.opportunity_bps, fees_bps=x.fees_bps,
                paper_notional=x.paper_notional, fill_fraction=x.fill_fraction,
                replaces=x.replace_count, commission=x.commission,
            ))
        for n in ledger.netting_for_rebalance(reb.rebalance_id):
            saved = int(n.gross_buy + n.gross_sell - abs(n.net_quantity))  # units not sent
            if saved:
                inst = registry[n.symbol] if n.symbol in registry else None
                nets.append(NettingRow(day, n.symbol, inst.asset_class.value if inst else "UNKNOWN",
                                       saved))
    return rows, nets

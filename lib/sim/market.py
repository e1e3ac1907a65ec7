"""One instrument's exogenous market: latent price, regime, quotes, depth, tape.

Each 1-second step ``k``:

* latent price ``X_k = X_{k-1} + sigma_1s * u(k) * z_k`` with ``z`` Student-t
  (nu ~ 4) scaled to unit variance, ``sigma_1s = daily_vol * price /
  sqrt(session_seconds)`` (price units), ``u`` the optional U-shaped intraday
  profile (normalised so the daily variance is unchanged); stressed regime
  doubles the vol;
* quotes on the tick grid around ``X + impact`` (our impact, see impact.py):
  the spread is a whole number of ticks (>= 1) whose mean matches the profile
  ``spread_bps`` (x2 stressed);
* displayed size per level ``tob * (1 + g*k)`` times a lognormal (mean 1) draw
  (x0.5 stressed), ``book_levels`` levels, the deepest size repeating beyond;
* exogenous market orders (flow.py) printed against that base book.

Our takers deplete displayed depth (``deficits``), which refills with a
half-life of ~10 s. Every random number comes from per-(symbol, purpose)
streams in fixed blocks of ``BLOCK`` seconds, so the tape never depends on our
orders except through the impact term in the quote centre.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lib.sim.config import SimConfig
from lib.sim.flow import ExoTrade, FlowBlock, FlowParams, walk_levels
from lib.sim.impact import ImpactModel
from lib.sim.rng import Purpose, generator_state, make_stream, restore_generator
from lib.types import Instrument

__all__ = ["BLOCK", "InstrumentMarket", "Quote", "StepResult", "bid_ticks_for"]

BLOCK = 256  # seconds of pre-drawn randomness per block
_MAX_WALK = 100_000  # levels; a guard against a runaway walk


@dataclass(frozen=True, slots=True)
class Quote:
    """Base (exogenous) book at one step; prices in ticks, sizes in units."""

    k: int
    bid_ticks: int
    ask_ticks: int
    bid_sizes: tuple[int, ...]
    ask_sizes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class StepResult:
    quote: Quote
    trades: tuple[ExoTrade, ...]
    log_keep: float  # log of the share of queue-ahead that survives cancels this second


def bid_ticks_for(x_ticks: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Bid (in ticks) of a spread of ``n`` ticks centred on ``x_ticks``: an odd
    spread centres on a half tick, an even one on a whole tick."""
    odd = n % 2 == 1
    out: np.ndarray = np.where(odd, np.floor(x_ticks) - (n - 1) // 2, np.rint(x_ticks) - n // 2)
    return out.astype(np.int64)


class _Blocks:
    """A stream consumed in fixed blocks; restartable from (state at block start, block index)."""

    def __init__(self, rng: np.random.Generator, draw: Callable[[np.random.Generator, int], Any]) -> None:
        self._rng = rng
        self._draw = draw
        self.block = -1
        self.start_state: dict[str, Any] = generator_state(rng)
        self.data: Any = None

    def row(self, k: int) -> tuple[Any, int]:
        b = k // BLOCK
        while self.block < b:
            self.start_state = generator_state(self._rng)
            self.block += 1
            self.data = self._draw(self._rng, self.block * BLOCK)
        if b != self.block:
            raise ValueError(f"step {k} is behind block {self.block}")
        return self.data, k - b * BLOCK

    def to_state(self) -> dict[str, Any]:
        return {"block": self.block, "start_state": self.start_state}

    def load_state(self, state: dict[str, Any]) -> None:
        self.block = int(state["block"])
        self._rng = restore_generator(state["start_state"])
        self.start_state = state["start_state"]
        if self.block >= 0:
            self.data = self._draw(self._rng, self.block * BLOCK)


class InstrumentMarket:
    """The simulated market of one instrument (see module doc for the model)."""

    def __init__(self, inst: Instrument, cfg: SimConfig) -> None:
        self.inst = inst
        self.cfg = cfg
        p = inst.profile
        stress = 2.0 if cfg.stress else 1.0
        self.tick = inst.tick_size
        self.sigma_1s = p.daily_vol * p.price / math.sqrt(inst.session_seconds) * stress
        self.spread_target_ticks = max(1.0, p.spread_bps * 1e-4 * p.price / self.tick) * stress
        depth_mult = 0.5 if cfg.stress else 1.0
        self.level_means = np.array(
            [p.top_of_book * depth_mult * (1.0 + cfg.level_size_growth * i) for i in range(cfg.book_levels)]
        )
        self.deep_size = max(1, int(round(float(self.level_means[-1]))))
        self.flow = FlowParams.from_profile(
            p.adv, inst.session_seconds, p.top_of_book, cfg.flow_mean_size_frac_tob,
            cfg.flow_tail_alpha, cfg.flow_size_cap_mult, cfg.flow_sign_kappa,
        )  # fmt: skip
        seed, sym = cfg.seed, inst.symbol
        self._price = _Blocks(make_stream(seed, sym, Purpose.PRICE), self._draw_price)
        self._book = _Blocks(make_stream(seed, sym, Purpose.BOOK), self._draw_book)
        self._queue = _Blocks(make_stream(seed, sym, Purpose.QUEUE), self._draw_queue)
        self._flow = _Blocks(make_stream(seed, sym, Purpose.FLOW), self._draw_flow)
        self.impact = ImpactModel(
            y=cfg.impact_y, sigma_price=p.daily_vol * p.price, adv=p.adv,
            permanent_frac=cfg.impact_permanent_frac, tau_s=cfg.impact_decay_tau_s,
            idle_s=cfg.impact_idle_s, linear_below=cfg.impact_linear_below_adv,
        )  # fmt: skip
        self.latent = p.price
        self._pending: deque[tuple[float, float]] = deque()  # drawn, not yet applied (z, dx)
        self.deficits: dict[tuple[int, int], float] = {}
        self._refill = 0.5 ** (1.0 / cfg.depth_refill_half_life_s)
        self.hasher: Any = None  # hashlib sha256 while recording the tape
        self.k = 0
        self.volume = 0  # cumulative exogenous volume printed (shares/contracts), the tape's volume
        self.quote = self._make_quote(0)

    # ----- block draws (vectorised; their consumption never depends on us) -----
    def _u_shape(self, k0: int) -> np.ndarray:
        if not self.cfg.intraday_u_shape:
            return np.ones(BLOCK)
        s = float(self.inst.session_seconds)
        tau = ((self.cfg.session_offset_s + np.arange(k0, k0 + BLOCK)) % s) / s
        a = self.cfg.u_shape_amplitude
        u: np.ndarray = np.sqrt((1.0 + a * (2.0 * tau - 1.0) ** 2) / (1.0 + a / 3.0))
        return u

    def _draw_price(self, rng: np.random.Generator, k0: int) -> tuple[np.ndarray, np.ndarray]:
        nu = self.cfg.student_nu
        z = rng.standard_t(nu, size=BLOCK) / math.sqrt(nu / (nu - 2.0))
        return z, z * self.sigma_1s * self._u_shape(k0)

    def _draw_book(self, rng: np.random.Generator, k0: int) -> tuple[np.ndarray, np.ndarray]:
        base = math.floor(self.spread_target_ticks)
        frac = self.spread_target_ticks - base
        n = np.maximum(1, base + (rng.random(BLOCK) < frac)).astype(np.int64)
        s = self.cfg.book_size_log_sd
        noise = rng.lognormal(-0.5 * s * s, s, size=(BLOCK, 2, self.cfg.book_levels))
        sizes = np.maximum(1, np.rint(noise * self.level_means)).astype(np.int64)
        return n, sizes

    def _draw_queue(self, rng: np.random.Generator, k0: int) -> np.ndarray:
        c = np.minimum(0.9, self.cfg.queue_cancel_rate_per_s * rng.exponential(1.0, size=BLOCK))
        out: np.ndarray = np.log1p(-c)
        return out

    def _draw_flow(self, rng: np.random.Generator, k0: int) -> FlowBlock:
        return FlowBlock.draw(rng, self.flow, BLOCK)

    # ----- stepping -----
    @property
    def ref_price(self) -> float:
        """The price quotes are centred on: latent plus our impact (price units)."""
        return self.latent + self.impact.value

    def _make_quote(self, k: int) -> Quote:
        (n_arr, sizes), i = self._book.row(k)
        n = int(n_arr[i])
        x = self.ref_price / self.tick
        # the scalar form of bid_ticks_for (np.rint and round() both round half to even)
        bid = math.floor(x) - (n - 1) // 2 if n % 2 == 1 else round(x) - n // 2
        bids, asks = sizes[i].tolist()
        return Quote(k, bid, bid + n, tuple(bids), tuple(asks))

    def step(self, k: int) -> StepResult:
        """Advance to step ``k`` (== previous + 1): price, impact relaxation,
        depth refill, new quote and this second's exogenous trades."""
        if k != self.k + 1:
            raise ValueError(f"{self.inst.symbol}: step {k} after {self.k}")
        self.k = k
        (z_arr, dx_arr), i = self._price.row(k)
        # the flow of this second knows the next ``flow_lead_s`` seconds of price:
        # innovations are applied that much later (order-flow imbalance leads returns)
        self._pending.append((float(z_arr[i]), float(dx_arr[i])))
        if len(self._pending) > self.cfg.flow_lead_s:
            self.latent += self._pending.popleft()[1]
        z = float(z_arr[i])
        if self._pending:
            z = sum(p[0] for p in self._pending) / math.sqrt(len(self._pending))
        self.impact.step(float(k))
        if self.deficits:
            self.deficits = {key: v * self._refill for key, v in self.deficits.items() if v * self._refill >= 0.5}
        q = self._make_quote(k)
        self.quote = q
        fb, j = self._flow.row(k)
        consumed: dict[int, list[int]] = {1: [], -1: []}
        trades: list[ExoTrade] = []
        for side, size in fb.trades_at(j, z, self.flow.kappa):
            if side > 0:
                prints = walk_levels(q.ask_ticks, 1, q.ask_sizes, self.deep_size, consumed[1], size)
            else:
                prints = walk_levels(q.bid_ticks, -1, q.bid_sizes, self.deep_size, consumed[-1], size)
            trades.append(ExoTrade(side, size, tuple(prints)))
            self.volume += size
        qa, m = self._queue.row(k)
        if self.hasher is not None:
            self._hash(q, trades)
        return StepResult(q, tuple(trades), float(qa[m]))

    def _hash(self, q: Quote, trades: list[ExoTrade]) -> None:
        h = self.hasher
        h.update(struct.pack("<qqq", q.k, q.bid_ticks, q.ask_ticks))
        h.update(struct.pack(f"<{len(q.bid_sizes) * 2}q", *q.bid_sizes, *q.ask_sizes))
        for t in trades:
            h.update(struct.pack("<qq", t.side, t.size))
            for px, n in t.prints:
                h.update(struct.pack("<qq", px, n))

    def fresh_draws(self, purpose: str, n_steps: int) -> list[Any]:
        """Rows 1..n_steps of a fresh copy of one block stream ('price' or
        'book'), exactly what steps 1..n_steps of a new market consume. Used by
        the calibration gates to measure long horizons without stepping."""
        draw = {"price": (Purpose.PRICE, self._draw_price), "book": (Purpose.BOOK, self._draw_book)}
        p, fn = draw[purpose]
        rng = make_stream(self.cfg.seed, self.inst.symbol, p)
        parts: list[list[np.ndarray]] = []
        for b in range((n_steps + 1 + BLOCK - 1) // BLOCK):
            block = fn(rng, b * BLOCK)
            parts.append([block[0], block[1]])
        return [np.concatenate([pt[j] for pt in parts])[1 : n_steps + 1] for j in range(2)]

    def start_tape(self) -> None:
        self.hasher = hashlib.sha256()

    # ----- displayed depth and our takers -----
    def level_size(self, book_side: int, level: int) -> int:
        """Base size at a level (book_side +1 = asks, -1 = bids); 0 if better than the touch."""
        if level < 0:
            return 0
        sizes = self.quote.ask_sizes if book_side > 0 else self.quote.bid_sizes
        return sizes[level] if level < len(sizes) else self.deep_size

    def touch(self, book_side: int) -> int:
        return self.quote.ask_ticks if book_side > 0 else self.quote.bid_ticks

    def displayed(self, book_side: int, ticks: int) -> int:
        """Displayed size at a price: base size minus what our takers consumed."""
        level = (ticks - self.quote.ask_ticks) if book_side > 0 else (self.quote.bid_ticks - ticks)
        base = self.level_size(book_side, level)
        return max(0, base - int(math.ceil(self.deficits.get((book_side, ticks), 0.0) - 1e-9)))

    def best_displayed(self, book_side: int) -> tuple[int, int]:
        """(price ticks, size) of the best level with displayed size > 0."""
        t = self.touch(book_side)
        for _ in range(_MAX_WALK):
            n = self.displayed(book_side, t)
            if n > 0:
                return t, n
            t += book_side
        raise RuntimeError("book exhausted")

    def take(self, side: int, qty: int, limit_ticks: int | None) -> list[tuple[int, int]]:
        """Our marketable order (side +1 buy) walks the displayed book up to the
        limit; returns (price ticks, qty) per level and records the depletion."""
        book_side = side  # a buy consumes asks (+1), a sell consumes bids (-1)
        t = self.touch(book_side)
        out: list[tuple[int, int]] = []
        left = qty
        for _ in range(_MAX_WALK):
            if left <= 0 or (limit_ticks is not None and (t - limit_ticks) * side > 0):
                break
            avail = self.displayed(book_side, t)
            if avail > 0:
                n = min(avail, left)
                self.deficits[(book_side, t)] = self.deficits.get((book_side, t), 0.0) + n
                out.append((t, n))
                left -= n
            t += book_side
        return out

    # ----- persistence -----
    def to_state(self) -> dict[str, Any]:
        q = self.quote
        return {
            "k": self.k,
            "latent": self.latent,
            "volume": self.volume,
            "pending": [list(p) for p in self._pending],
            "impact": self.impact.to_state(),
            "deficits": [[s, t, v] for (s, t), v in self.deficits.items()],
            "quote": [q.k, q.bid_ticks, q.ask_ticks, list(q.bid_sizes), list(q.ask_sizes)],
            "streams": {n: b.to_state() for n, b in self._streams().items()},
        }

    def load_state(self, state: dict[str, Any]) -> None:
        for name, blocks in self._streams().items():
            blocks.load_state(state["streams"][name])
        self.k = int(state["k"])
        self.latent = float(state["latent"])
        self.volume = int(state.get("volume", 0))
        self._pending = deque((float(z), float(d)) for z, d in state["pending"])
        self.impact.load_state(state["impact"])
        self.deficits = {(int(s), int(t)): float(v) for s, t, v in state["deficits"]}
        k, bid, ask, bs, asz = state["quote"]
        self.quote = Quote(int(k), int(bid), int(ask), tuple(int(v) for v in bs), tuple(int(v) for v in asz))

    def _streams(self) -> dict[str, _Blocks]:
        return {"price": self._price, "book": self._book, "queue": self._queue, "flow": self._flow}

"""The instrument registry: ``config/instruments.yaml`` validated into
:class:`lib.types.Instrument` objects."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lib.config import format_validation_error, read_yaml
from lib.errors import ConfigError, UnknownInstrument
from lib.types import AssetClass, Instrument, LiquidityProfile

__all__ = ["DEFAULT_INSTRUMENTS_PATH", "InstrumentRegistry", "load_instruments"]

DEFAULT_INSTRUMENTS_PATH = Path(__file__).resolve().parent.parent / "config" / "instruments.yaml"

_Pos = Annotated[float, Field(gt=0)]


class _ProfileModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    price: _Pos
    spread_bps: _Pos
    daily_vol: Annotated[float, Field(gt=0, lt=1)]
    adv: _Pos
    top_of_book: _Pos


class _InstrumentModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    symbol: Annotated[str, Field(min_length=1, max_length=24)]
    asset_class: AssetClass
    exchange: Annotated[str, Field(min_length=1)]
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    tick_size: _Pos
    multiplier: _Pos
    calendar: str = "NYSE"
    session_seconds: Annotated[int, Field(gt=0, le=86_400)] = 23_400
    profile: _ProfileModel

    @field_validator("symbol")
    @classmethod
    def _upper(cls, v: str) -> str:
        if v != v.strip() or v.upper() != v:
            raise ValueError("symbol must be upper case without surrounding spaces")
        return v


class _RegistryModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    instruments: Annotated[list[_InstrumentModel], Field(min_length=1)]


class InstrumentRegistry(Mapping[str, Instrument]):
    """Read-only mapping symbol -> Instrument."""

    def __init__(self, instruments: list[Instrument]) -> None:
        self._by_symbol: dict[str, Instrument] = {}
        for inst in instruments:
            if inst.symbol in self._by_symbol:
                raise ValueError(f"duplicate instrument {inst.symbol}")
            self._by_symbol[inst.symbol] = inst

    def __getitem__(self, symbol: str) -> Instrument:
        try:
            return self._by_symbol[symbol]
        except KeyError:
            raise UnknownInstrument(symbol) from None

    def __contains__(self, symbol: object) -> bool:
        # Mapping's default __contains__ catches only KeyError, not UnknownInstrument.
        return symbol in self._by_symbol

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_symbol)

    def __len__(self) -> int:
        return len(self._by_symbol)

    @classmethod
    def from_mapping(cls, raw: Any, source: str = "instruments") -> InstrumentRegistry:
        try:
            model = _RegistryModel.model_validate(raw)
        except ValidationError as exc:
            raise format_validation_error(source, exc) from exc
        seen: set[str] = set()
        out: list[Instrument] = []
        for i, m in enumerate(model.instruments):
            if m.symbol in seen:
                raise ConfigError(source, f"instruments.{i}.symbol", f"duplicate symbol {m.symbol!r}")
            seen.add(m.symbol)
            out.append(
                Instrument(
                    symbol=m.symbol,
                    asset_class=m.asset_class,
                    exchange=m.exchange,
                    currency=m.currency,
                    tick_size=m.tick_size,
                    multiplier=m.multiplier,
                    calendar=m.calendar,
                    session_seconds=m.session_seconds,
                    profile=LiquidityProfile(**m.profile.model_dump()),
                )
            )
        return cls(out)


def load_instruments(path: str | Path | None = None) -> InstrumentRegistry:
    """Load config/instruments.yaml (or ``path``) into a registry."""
    p = Path(path) if path is not None else DEFAULT_INSTRUMENTS_PATH
    return InstrumentRegistry.from_mapping(read_yaml(p), source=str(p))

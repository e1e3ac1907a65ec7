"""The ibkr: settings section, its env overrides, contracts and order fields."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from lib.brokers.base import OrderRequest
from lib.brokers.ibkr_config import IBKRAlgoConfig, IBKRConfig, with_env_overrides
from lib.brokers.ibkr_contracts import contract_spec, front_quarterly_month
from lib.brokers.ibkr_requests import order_fields, twap_params, vwap_params
from lib.config import Settings, load_settings
from lib.errors import ConfigError
from lib.instruments import InstrumentRegistry
from lib.types import AssetClass, OrderType, Side


def test_shipped_settings_have_the_section() -> None:
    s = load_settings()
    assert s.ibkr.port == 4002 and s.ibkr.account == "" and s.ibkr.market_data_type_code == 1


@pytest.mark.parametrize(
    "bad",
    [{"port": 0}, {"prot": 4002}, {"market_data_type": "fast"}, {"clock": "virtual"},
     {"reconnect": {"initial_seconds": 60, "max_seconds": 5}}, {"max_messages_per_second": 60},
     {"algo": {"adaptive_priority": "Fast"}}, {"positions_break_action": "ignore"}, {"account": "DU 1"}],
)  # fmt: skip
def test_bad_values_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"ibkr": bad})


def test_env_overrides() -> None:
    cfg = with_env_overrides(
        IBKRConfig(),
        {"EXEC_IBKR_HOST": "gw.internal", "EXEC_IBKR_PORT": "4001", "EXEC_IBKR_CLIENT_ID": "9",
         "EXEC_IBKR_ACCOUNT": "DU7654321"},
    )  # fmt: skip
    assert (cfg.host, cfg.port, cfg.client_id, cfg.account) == ("gw.internal", 4001, 9, "DU7654321")
    assert with_env_overrides(IBKRConfig(), {"EXEC_IBKR_PORT": ""}).port == 4002
    with pytest.raises(ConfigError, match="EXEC_IBKR_PORT"):
        with_env_overrides(IBKRConfig(), {"EXEC_IBKR_PORT": "lots"})
    with pytest.raises(ConfigError, match="EXEC_IBKR_PORT"):
        with_env_overrides(IBKRConfig(), {"EXEC_IBKR_PORT": "70000"})


def test_front_quarterly_month_rolls_before_expiry() -> None:
    assert front_quarterly_month(AssetClass.FUT, date(2026, 11, 24)) == "202612"
    assert front_quarterly_month(AssetClass.FUT, date(2026, 12, 10)) == "202703"  # ESZ6 expires 12-18
    assert front_quarterly_month(AssetClass.FX_FUT, date(2026, 12, 1)) == "202612"  # 6E expires 12-14


def test_contract_specs(instruments: InstrumentRegistry) -> None:
    d = date(2026, 11, 24)
    spy = contract_spec(instruments["SPY"], d)
    assert (spy.sec_type, spy.exchange, spy.primary_exchange) == ("STK", "SMART", "ARCA")
    assert contract_spec(instruments["CSPX"], d).primary_exchange == "LSEETF"
    es = contract_spec(instruments["ES"], d)
    assert (es.sec_type, es.exchange, es.last_trade_date_or_contract_month, es.multiplier) == ("FUT", "CME", "202612", "50")
    e6 = contract_spec(instruments["6E"], d)
    assert (e6.symbol, e6.trading_class, e6.multiplier) == ("EUR", "6E", "125000")
    fesx = contract_spec(instruments["FESX"], d, local_symbol="FESX DEC 26")
    assert (fesx.symbol, fesx.local_symbol, fesx.last_trade_date_or_contract_month) == ("ESTX50", "FESX DEC 26", "")


def test_order_fields() -> None:
    req = OrderRequest("rb:SPY:s0:a0", "SPY", Side.BUY, 100, OrderType.LMT, 590.01, "DAY", True)
    f = order_fields(req, IBKRAlgoConfig(), account="DU1")
    assert f["orderRef"] == "rb:SPY:s0:a0" and f["lmtPrice"] == 590.01 and f["outsideRth"] is True
    assert "algoStrategy" not in f and f["account"] == "DU1"
    f = order_fields(req, IBKRAlgoConfig(adaptive_priority="Patient"))
    assert f["algoStrategy"] == "Adaptive" and f["algoParams"] == [("adaptivePriority", "Patient")]
    moc = OrderRequest("rb:SPY:s0:a1", "SPY", Side.SELL, 5, OrderType.MOC, None, "GTC", True)
    f = order_fields(moc, IBKRAlgoConfig(adaptive_priority="Urgent"))
    assert (f["orderType"], f["tif"], f["outsideRth"], "lmtPrice" in f, "algoStrategy" in f) == ("MOC", "DAY", False, False, False)
    with pytest.raises(ValueError):
        order_fields(OrderRequest("x", "SPY", Side.BUY, 1, OrderType.LOC, None), IBKRAlgoConfig())


def test_twap_vwap_params_use_ib_names() -> None:
    a, b = datetime(2026, 11, 24, 15, 30, tzinfo=UTC), datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    cfg = IBKRAlgoConfig()
    assert dict(twap_params(cfg, a, b)) == {
        "strategyType": "Marketable", "startTime": "20261124-15:30:00", "endTime": "20261124-16:00:00",
        "allowPastEndTime": "1",
    }  # fmt: skip
    assert set(dict(vwap_params(cfg, a, b))) == {"maxPctVol", "startTime", "endTime", "allowPastEndTime", "noTakeLiq"}

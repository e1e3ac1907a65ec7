"""ib_async connects to the gateway, synchronises and qualifies contracts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from ib_async import IB, Contract, Future, Stock

from lib.sim.tws_gateway import GatewayHandle
from tests.lib.sim.tws.conftest import SESSION_START, IbLogGuard


async def _connect(port: int, client_id: int) -> IB:
    ib = IB()
    ib.RequestTimeout = 10
    await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=10, raiseSyncErrors=True)
    return ib


def test_connect_sync_accounts_and_next_valid_id(gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    async def body() -> None:
        ib = await _connect(gateway.port, 11)
        try:
            assert ib.isConnected()
            assert ib.managedAccounts() == ["DU1234567"]
            assert ib.client.serverVersion() == 178
            assert ib.client.getReqId() >= 1
        finally:
            ib.disconnect()

    asyncio.run(body())


def test_current_time_follows_virtual_clock(gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    async def body() -> None:
        ib = await _connect(gateway.port, 12)
        try:
            t1 = await ib.reqCurrentTimeAsync()
            assert SESSION_START <= t1 < SESSION_START + timedelta(hours=1)
            before = gateway.server_time()
            while gateway.server_time() < before + timedelta(seconds=5):
                await asyncio.sleep(0.05)
            t2 = await ib.reqCurrentTimeAsync()
            assert t2 >= t1 + timedelta(seconds=4)
            assert abs((t2 - gateway.server_time()).total_seconds()) < 60
        finally:
            ib.disconnect()

    asyncio.run(body())


def test_qualify_etf_stock_future_fx_future(gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    async def body() -> None:
        ib = await _connect(gateway.port, 13)
        try:
            spy, dis = Stock("SPY", "SMART", "USD"), Stock("DIS", "SMART", "USD")
            es = Future("ES", exchange="CME", currency="USD")
            sixe = Future(localSymbol="6EZ6", exchange="CME")
            res = await ib.qualifyContractsAsync(spy, dis, es, sixe)
            assert all(r is not None for r in res)
            assert spy.conId > 0 and spy.primaryExchange == "ARCA" and spy.exchange == "SMART"
            assert dis.primaryExchange == "NYSE"
            assert es.secType == "FUT" and es.multiplier == "50" and es.localSymbol == "ESZ6"
            assert es.lastTradeDateOrContractMonth == "20261218"
            assert sixe.symbol == "EUR" and sixe.tradingClass == "6E" and sixe.multiplier == "125000"
            # by expiry + multiplier too
            es2 = Future("ES", "202612", "CME", multiplier="50")
            await ib.qualifyContractsAsync(es2)
            assert es2.conId == es.conId
            details = await ib.reqContractDetailsAsync(Contract(conId=spy.conId))
            assert len(details) == 1 and details[0].minTick == 0.01
        finally:
            ib.disconnect()

    asyncio.run(body())


def test_unknown_contract_gets_200(gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    ib_errors.allow(200)

    async def body() -> None:
        ib = await _connect(gateway.port, 14)
        try:
            assert await ib.reqContractDetailsAsync(Stock("NOPE", "SMART", "USD")) == []
        finally:
            ib.disconnect()

    asyncio.run(body())
    assert 200 in ib_errors.codes()


def test_duplicate_client_id_gets_326(gateway: GatewayHandle, ib_errors: IbLogGuard) -> None:
    ib_errors.allow(326)
    ib_errors.forgive("API connection failed", "already in use")

    async def body() -> None:
        ib = await _connect(gateway.port, 15)
        try:
            second = IB()
            try:
                await second.connectAsync("127.0.0.1", gateway.port, clientId=15, timeout=5)
            except (ConnectionError, TimeoutError):
                pass
            else:
                raise AssertionError("a second connection with client id 15 was accepted")
            finally:
                second.disconnect()
            assert ib.isConnected()
            # the id is free again once the first client leaves
            ib.disconnect()
            for _ in range(50):  # the gateway notices the close when the socket's EOF arrives
                try:
                    third = await _connect(gateway.port, 15)
                except ConnectionError:
                    await asyncio.sleep(0.1)
                    continue
                third.disconnect()
                break
            else:
                raise AssertionError("client id 15 stayed in use after its client left")
        finally:
            ib.disconnect()

    asyncio.run(body())
    assert 326 in ib_errors.codes()


def test_default_session_is_a_nyse_session_at_1030_whatever_the_hour() -> None:
    from zoneinfo import ZoneInfo

    from lib.calendars import get_market_calendar
    from lib.sim.tws_gateway import GatewayConfig, run_gateway_thread

    with run_gateway_thread(GatewayConfig(port=0)) as gw:
        start = gw.server_time().astimezone(ZoneInfo("America/New_York"))
        assert "virtual time x20" in gw.describe()
    session = get_market_calendar("NYSE").session(start.date())
    assert session is not None and session[0] <= start < session[1]
    after = start - (session[0] + timedelta(minutes=60))  # open + 60 min; x20 virtual time ran since
    assert timedelta(0) <= after < timedelta(minutes=5)


def test_session_start_follows_the_injected_wall_clock() -> None:
    from datetime import UTC, datetime

    from lib.clock import VirtualClock
    from lib.sim.tws_gateway import GatewayConfig, TwsGateway

    saturday = VirtualClock(datetime(2026, 11, 28, 18, 0, tzinfo=UTC))  # Sat 13:00 New York
    gw = TwsGateway(GatewayConfig(port=0), wall_clock=saturday)
    # the default start rule (lib.runtime.default_sim_start) on that wall time, never the machine's
    from lib.runtime import default_sim_start

    assert gw.session_start == default_sim_start(saturday.now())
    wall = TwsGateway(GatewayConfig(port=0, time_mode="wall"), wall_clock=saturday)
    assert wall.session_start == saturday.now()

"""Alert destinations from a Prefect Secret block (tasks.alerts) as well as
the environment: the rebalance flow's summary and its failure hook reach a
loopback capture server named only in the block."""

from __future__ import annotations

import asyncio
import json

import pytest

from flows.rebalance import rebalance
from lib.params import RebalanceParams
from tests.flows.test_run_story import _flush_logs, _logs
from tests.helpers import CaptureServer

BLOCK = "afx-test-rebalance-alerts"


@pytest.fixture
def secret_hook(prefect_harness: None, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from prefect.blocks.system import Secret

    monkeypatch.delenv("EXEC_APPRISE_URLS", raising=False)
    monkeypatch.setenv("EXEC_ALERT_SECRET_BLOCK", BLOCK)
    with CaptureServer() as hook:
        Secret(value=hook.url(path="/from-block")).save(BLOCK, overwrite=True)
        yield hook


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_rebalance_summary_goes_to_the_secret_block(flow_params: RebalanceParams,
                                                    secret_hook: CaptureServer) -> None:
    state = rebalance(flow_params.model_copy(update={"rebalance_id": "alert-secret"}), return_state=True)
    assert state.is_completed(), state.message
    (post,) = [r for r in secret_hook.requests if r.path == "/from-block"]
    body = post.json()
    assert body["title"] == "Rebalance alert-secret: complete" and "Orders 6" in body["message"]
    _flush_logs()
    text = [log.message for log in asyncio.run(_logs(state.state_details.flow_run_id))]
    assert any(m.startswith("alert 'Rebalance alert-secret: complete' delivered to json://127.0.0.1:")
               for m in text), [m for m in text if "alert" in m]


@pytest.mark.parametrize("ledger_db", ["sqlite"], indirect=True)
def test_failure_hook_pages_the_secret_block(flow_params: RebalanceParams, secret_hook: CaptureServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXEC_DATABASE_URL", "postgresql+psycopg://x@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(Exception, match="127.0.0.1"):
        rebalance(flow_params.model_copy(update={"rebalance_id": "alert-broken"}))
    (post,) = [r.json() for r in secret_hook.requests]
    assert "alert-broken FAILED" in post["title"]


def test_env_and_block_destinations_are_merged(prefect_harness: None,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.blocks.system import Secret

    from tasks.alerts import alert_urls, channel_of

    monkeypatch.setenv("EXEC_APPRISE_URLS", "json://127.0.0.1:9/a")
    monkeypatch.setenv("EXEC_ALERT_SECRET_BLOCK", BLOCK + "-list")
    Secret(value=json.dumps(["json://127.0.0.1:9/a", "tgram://123456789:abcdefg_hijklmnop/42"])).save(
        BLOCK + "-list", overwrite=True)
    urls = [u.get_secret_value() for u in alert_urls()]
    assert urls == ["json://127.0.0.1:9/a", "tgram://123456789:abcdefg_hijklmnop/42"]  # env first, deduplicated
    assert [channel_of(u) for u in alert_urls()] == ["slack", "telegram"]
    monkeypatch.setenv("EXEC_ALERT_SECRET_BLOCK", "afx-no-such-block")
    assert [u.get_secret_value() for u in alert_urls()] == ["json://127.0.0.1:9/a"]  # missing: env only

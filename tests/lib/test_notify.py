"""Notifier: real apprise posting to a local capture server (json://)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import date

import apprise
import pytest
from pydantic import SecretStr, ValidationError

from lib.analytics import DailySummary, summarize_day
from lib.errors import ConfigError, ReportingError, RiskBlocked
from lib.notify import (
    Message,
    Notifier,
    NotifyConfig,
    NotifyLevel,
    _delivered,
    failure_message,
    rebalance_summary_message,
    redact_text,
    redact_url,
    risk_block_message,
    slack_url,
    telegram_url,
)
from tests.helpers import CaptureServer, free_port

# Shaped like real credentials (apprise validates the shape), but fake.
TG_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SLACK_HOOK = "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"


def test_json_destination_receives_title_message_and_type() -> None:
    with CaptureServer() as srv:
        result = Notifier([srv.url(path="/alerts")]).notify(
            "Rebalance r1 <done>", "Orders 3\nline & two", NotifyLevel.WARNING
        )
        assert result.sent and result.failed == ()
        assert result.destinations == (f"json://127.0.0.1:{srv.port}/***",)  # path masked
        assert len(srv.requests) == 1
        req = srv.requests[0]
    assert req.path == "/alerts"
    assert req.headers["Content-Type"] == "application/json"
    payload = req.json()
    assert payload["title"] == "Rebalance r1 <done>"
    assert payload["message"] == "Orders 3\nline & two"  # plain text, unescaped
    assert payload["type"] == "warning"


def test_unreachable_destination_is_reported_not_raised() -> None:
    port = free_port()
    dead = f"json://127.0.0.1:{port}/x"  # nothing listens there
    result = Notifier([dead]).notify("t", "b", NotifyLevel.FAILURE)
    assert not result.sent
    assert result.failed == result.destinations == (f"json://127.0.0.1:{port}/***",)
    assert result.reason == "1 of 1 destinations failed"
    with pytest.raises(ReportingError, match="127.0.0.1"):
        result.raise_for_error()


def test_partial_delivery_names_the_failed_destination() -> None:
    port = free_port()
    dead = f"json://127.0.0.1:{port}/x"
    with CaptureServer() as srv:
        result = Notifier([srv.url(), dead]).notify("t", "b")
        assert len(srv.requests) == 1
    assert not result.sent
    assert result.failed == (f"json://127.0.0.1:{port}/***",)
    assert len(result.destinations) == 2


def test_http_error_status_counts_as_failure() -> None:
    with CaptureServer(status=500) as srv:
        result = Notifier([srv.url()]).notify("t", "b")
        assert len(srv.requests) == 1  # it was tried...
    assert not result.sent  # ...and apprise's False was honoured


def test_no_destinations_logs_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="lib.notify"):
        result = Notifier().notify("Risk block in r9", "detail here", NotifyLevel.WARNING)
    assert (result.sent, result.destinations, result.reason) == (False, (), "no destinations")
    rec = [r for r in caplog.records if "Risk block in r9" in r.getMessage()]
    assert rec and rec[0].levelno == logging.WARNING and "detail here" in rec[0].getMessage()


def test_from_env_splits_comma_separated_urls() -> None:
    with CaptureServer() as a, CaptureServer() as b:
        env = {"EXEC_APPRISE_URLS": f" {a.url()} ,{b.url()},"}
        result = Notifier.from_env(env).notify("t", "b", NotifyLevel.SUCCESS)
        assert result.sent and len(result.destinations) == 2
        assert [r.json()["type"] for r in a.requests + b.requests] == ["success", "success"]
    assert Notifier.from_env({}).destinations == ()


def test_invalid_url_is_config_error_without_echo() -> None:
    with pytest.raises(ConfigError, match=r"destination\[1\]") as exc:
        Notifier(["json://127.0.0.1:9/x", "nosuchscheme://s3cr3t@host"])
    assert "s3cr3t" not in str(exc.value)


def test_telegram_and_slack_urls_are_accepted_by_apprise() -> None:
    tg = telegram_url(SecretStr(TG_TOKEN), "-100123456")
    assert tg.get_secret_value() == f"tgram://{TG_TOKEN}/-100123456"
    sl = slack_url(SecretStr(SLACK_HOOK))
    assert sl.get_secret_value() == "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    assert slack_url(sl) .get_secret_value() == sl.get_secret_value()  # slack:// kept
    ap = apprise.Apprise()
    assert ap.add(tg.get_secret_value()) and ap.add(sl.get_secret_value())
    assert [type(s).__name__ for s in ap] == ["NotifyTelegram", "NotifySlack"]


def test_bad_slack_webhook_is_config_error_without_echo() -> None:
    with pytest.raises(ConfigError, match="slack_webhook_url") as exc:
        slack_url(SecretStr("https://example.com/hook/TOPSECRET"))
    assert "TOPSECRET" not in str(exc.value)


def test_notify_config_keeps_secrets_out_of_repr_and_destinations() -> None:
    cfg = NotifyConfig(
        telegram_bot_token=SecretStr(TG_TOKEN), telegram_chat_id="12345",
        slack_webhook_url=SecretStr(SLACK_HOOK), extra_urls=(SecretStr("json://u:pw123@127.0.0.1:9/x"),),
    )
    notifier = Notifier.from_config(cfg)
    shown = repr(cfg) + str(cfg) + repr(notifier) + " ".join(notifier.destinations)
    for secret in ("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "TIiajkdnlazkcOXrIdevi7FQ", "pw123"):
        assert secret not in shown
    assert [d.split("://")[0] for d in notifier.destinations] == ["tgram", "slack", "json"]
    with pytest.raises(ValidationError, match="set together"):
        NotifyConfig(telegram_bot_token=SecretStr(TG_TOKEN))
    with pytest.raises(ValidationError):
        NotifyConfig(telegram_token=SecretStr(TG_TOKEN))  # type: ignore[call-arg]


def test_config_from_env_reads_every_variable() -> None:
    cfg = NotifyConfig.from_env({
        "EXEC_TELEGRAM_BOT_TOKEN": TG_TOKEN, "EXEC_TELEGRAM_CHAT_ID": "42",
        "EXEC_SLACK_WEBHOOK_URL": SLACK_HOOK, "EXEC_APPRISE_URLS": "json://127.0.0.1:9/a",
    })
    assert [u.get_secret_value().split("://")[0] for u in cfg.apprise_urls()] == ["tgram", "slack", "json"]
    assert NotifyConfig.from_env({"EXEC_SLACK_WEBHOOK_URL": "  "}).apprise_urls() == []


class _AppriseResult2x:
    """The shape of apprise 2.x's AppriseResult (not installed here)."""

    def __init__(self, success: int, failed: int) -> None:
        self.success_count, self.failed_count = success, failed

    def __bool__(self) -> bool:
        return self.failed_count == 0 and self.success_count > 0


def test_delivered_understands_both_apprise_return_types() -> None:
    assert _delivered(True) and not _delivered(False) and not _delivered(None)
    assert _delivered(_AppriseResult2x(1, 0))
    assert not _delivered(_AppriseResult2x(1, 1))
    assert not _delivered(_AppriseResult2x(0, 0))


# --- message builders ----------------------------------------------------------


def test_rebalance_summary_message_is_delivered_as_the_summary_text() -> None:
    summary = summarize_day(date(2026, 11, 24), [], netting_saved_qty=10, netting_saved_notional=5000.0)
    msg = rebalance_summary_message("main-2026-11-24-us-close", summary)
    assert msg.level is NotifyLevel.SUCCESS
    assert msg.title == "Rebalance main-2026-11-24-us-close: complete"
    with CaptureServer() as srv:
        assert Notifier([srv.url()]).send(msg).sent
        payload = srv.requests[0].json()
    assert payload["message"] == msg.body
    assert payload["message"].splitlines() == [
        "Execution 2026-11-24 (UTC)", "No orders", "Netting saved 10 units / 5.0K",
    ]
    assert payload["type"] == "success"


def test_risk_block_and_failure_messages() -> None:
    err = RiskBlocked("max_order_notional", "ES 40 contracts = 12.0M > 5.0M")
    rb = risk_block_message("r1", err.control, err.detail)
    assert rb.level is NotifyLevel.WARNING
    assert "max_order_notional" in rb.title and "12.0M > 5.0M" in rb.body
    fail = failure_message("r1", "supervise", TimeoutError("gateway silent for 30s"))
    assert fail.level is NotifyLevel.FAILURE
    assert fail.title == "Rebalance r1 FAILED at supervise"
    assert "TimeoutError: gateway silent for 30s" in fail.body
    long = failure_message("r1", "store", "x" * 5000)
    assert len(long.body) < 1600 and long.body.endswith("(truncated)")
    assert Message("t", "b").level is NotifyLevel.INFO


# --- redaction (issue 7) ---------------------------------------------------------


SECRET = "deadhookSECRET9f8e7d"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"json://127.0.0.1:54157/{SECRET}/x", "json://127.0.0.1:54157/***"),
        (f"xml://hooks.example.com/{SECRET}", "xml://hooks.example.com/***"),
        (f"form://u:pw{SECRET}@127.0.0.1:8/a?token={SECRET}", "form://***@127.0.0.1:8/***"),
        (f"jsons://127.0.0.1/a#{SECRET}", "jsons://127.0.0.1/***"),
        (f"tgram://{TG_TOKEN}/-100123", "tgram://1...w/***"),
        (f"ntfy://{SECRET}topic", "ntfy://d...c"),
        ("json://127.0.0.1:9", "json://127.0.0.1:9"),
    ],
)
def test_redact_url_keeps_scheme_and_host_only(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize("scheme", ["json", "xml", "form"])
def test_failed_delivery_logs_no_secret_anywhere(
    scheme: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: "not delivered to json://127.0.0.1:54157/deadhookSECRET.../x", and
    # apprise's own DEBUG lines carried the full URL.
    port = free_port()
    url = f"{scheme}://user:pw{SECRET}@127.0.0.1:{port}/{SECRET}/x?token={SECRET}"
    with caplog.at_level(logging.DEBUG):
        notifier = Notifier([url])
        result = notifier.notify("t", "b", NotifyLevel.FAILURE)
        try:
            result.raise_for_error()
        except ReportingError as exc:
            raised = str(exc)
    assert not result.sent
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"{scheme}://***@127.0.0.1:{port}/***" in logged  # the failure is logged...
    shown = logged + raised + repr(notifier) + repr(result)
    assert SECRET not in shown  # ...with no secret in any record, message or repr


def test_successful_delivery_logs_no_path(caplog: pytest.LogCaptureFixture) -> None:
    with CaptureServer() as srv, caplog.at_level(logging.DEBUG):
        assert Notifier([srv.url(path=f"/{SECRET}")]).notify("t", "b").sent
    assert SECRET not in "\n".join(r.getMessage() for r in caplog.records)


def test_redact_text_masks_every_url_and_request_path() -> None:
    text = (f'http://127.0.0.1:1 "POST /{SECRET} HTTP/1.1" 200; url: /{SECRET} (x); '
            f"see https://hooks.slack.com/services/T1/B2/{SECRET}")
    out = redact_text(text)
    assert SECRET not in out and "https://hooks.slack.com/***" in out and '"POST /***' in out
    fail = failure_message("r1", "alerts", f"cannot reach json://127.0.0.1:5/{SECRET}")
    assert SECRET not in fail.body and "json://127.0.0.1:5/***" in fail.body


# --- the summary says what happened ------------------------------------------------


def _summary(**over: object) -> DailySummary:
    base = summarize_day(date(2026, 11, 24), [], netting_saved_qty=0, netting_saved_notional=0.0)
    return dataclasses.replace(base, **over)  # type: ignore[arg-type]


def test_all_blocked_run_is_not_reported_complete() -> None:
    # Before: "Rebalance r1: complete", type success, for a run the kill switch blocked.
    msg = rebalance_summary_message("r1", _summary(), blocked=6)
    assert msg.title == "Rebalance r1: nothing executed (6 blocked)"
    assert msg.level is NotifyLevel.FAILURE and "Blocked before the broker: 6" in msg.body
    with CaptureServer() as srv:
        assert Notifier([srv.url()]).send(msg).sent
        assert srv.requests[0].json()["type"] == "failure"


def test_partly_blocked_or_incomplete_run_is_a_warning() -> None:
    some = _summary(orders=4, orders_full=3, orders_unfilled=1, fills=5)
    msg = rebalance_summary_message("r1", some, blocked=2)
    assert (msg.title, msg.level) == ("Rebalance r1: 2 blocked, 1 incomplete", NotifyLevel.WARNING)
    msg = rebalance_summary_message("r1", _summary(orders=2, orders_full=2, fills=2), blocked=1)
    assert (msg.title, msg.level) == ("Rebalance r1: 1 blocked", NotifyLevel.WARNING)
    done = rebalance_summary_message("r1", _summary(orders=2, orders_full=2, fills=2))
    assert (done.title, done.level) == ("Rebalance r1: complete", NotifyLevel.SUCCESS)
    none = rebalance_summary_message("r1", _summary(orders=2, orders_unfilled=2))
    assert none.level is NotifyLevel.FAILURE and "nothing executed (2 incomplete)" in none.title


def test_rejected_plans_make_the_summary_a_warning_or_failure() -> None:
    # Before: intents with no plan (stale/crossed quotes) were not counted, so a
    # Partial run's only alert was "Rebalance r1: complete", type success.
    full = _summary(orders=2, orders_full=2, fills=2)
    msg = rebalance_summary_message("r1", full, rejected=3)
    assert (msg.title, msg.level) == ("Rebalance r1: 3 rejected", NotifyLevel.WARNING)
    assert "Rejected before the broker (no plan): 3" in msg.body
    both = rebalance_summary_message("r1", full, blocked=1, rejected=2)
    assert both.title == "Rebalance r1: 1 blocked, 2 rejected"
    none = rebalance_summary_message("r1", _summary(), rejected=6)
    assert (none.title, none.level) == ("Rebalance r1: nothing executed (6 rejected)",
                                        NotifyLevel.FAILURE)
    with CaptureServer() as srv:
        assert Notifier([srv.url()]).send(msg).sent
        assert srv.requests[0].json()["type"] == "warning"

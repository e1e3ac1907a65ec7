"""The daily execution summary: one flow run after the US close.

    resolve the day -> build the day's report from the ledger (every
    rebalance of the day) -> send it (Telegram and Slack formats) -> chart
    -> artifacts (markdown, one row per rebalance, the chart embedded)

Run from the CLI (``afx report --date D`` prints the same report) or the
``daily-summary`` deployment in prefect.yaml. Alerts go to the environment's
destinations and the Prefect Secret block's (tasks.alerts). Every parameter
has a default and a description (the UI's run form shows them).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from pydantic import Field

from flows.artifacts import day_rows, publish_charts, publish_table
from lib.daily import format_daily
from tasks import daily
from tasks.charts import render_daily_chart
from tasks.progress import artifact_key
from tasks.runlog import run_log

# Field defaults (not Annotated: Prefect drops an Annotated description).
_DAY = Field(None, description="Session date, YYYY-MM-DD. Empty: today in `tz` (the deployment "
             "runs after the close).")
_SETTINGS = Field("config/settings.yaml", description="Path of settings.yaml (ledger, instruments, "
                  "FX fallback rates).")
_TZ = Field("America/New_York", description="Time zone of the day: which rebalances belong to it "
            "and how times are shown.")
_SEND = Field(True, description="Send the summary through apprise (environment + Secret block "
              "destinations); false: artifacts only.")


def run_name() -> str:
    """``daily-summary-<day>``; the scheduled run (no ``day``) is named after today in ``tz``."""
    from prefect.runtime import flow_run

    p = flow_run.parameters or {}
    return f"daily-summary-{daily.resolve_day(p.get('day'), p.get('tz') or _TZ.default)}"


@flow(name="daily-summary", log_prints=True, flow_run_name=run_name)
def daily_summary(
    day: date | None = _DAY,
    settings: str = _SETTINGS,
    tz: str = _TZ,
    send: bool = _SEND,
) -> dict[str, Any]:
    """Aggregate every rebalance of the day from the ledger and send the summary."""
    the_day = daily.resolve_day(day, tz)
    report = daily.build_day_report(the_day, settings, tz)
    sent = daily.send_day_report(report) if send else {}
    msg = format_daily(report, "slack")
    s = report.summary
    sf = "" if s.shortfall_bps is None else f", shortfall {s.shortfall_bps:.2f} bps"
    head = f"Execution summary of {the_day.isoformat()}: {len(report.rebalances)} rebalances, {s.orders} orders{sf}"
    run_log().info("%s; sent: %s", head, sent or "not sent")
    key = artifact_key("daily", the_day.isoformat())
    create_markdown_artifact(f"# {msg.title}\n\n```\n{msg.body}\n```\n", key=key,
                             description=f"{head} (the Slack text).")
    publish_table(day_rows(report), artifact_key("daily-rebalances", the_day.isoformat()),
                  f"{head}. One row per rebalance of the day.")
    chart = render_daily_chart(the_day.isoformat(), settings_path=settings, tz=tz)
    publish_charts(f"Execution {the_day.isoformat()}", [chart] if chart else [],
                   artifact_key("daily-chart", the_day.isoformat()),
                   f"{head}: IS parts per rebalance, slippage per order (PNG under var/charts).")
    return {"day": the_day.isoformat(), "rebalances": [r.rebalance_id for r in report.rebalances],
            "orders": report.summary.orders, "shortfall_bps": report.summary.shortfall_bps,
            "sent": sent, "title": msg.title, "chart": chart}

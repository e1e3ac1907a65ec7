"""The daily execution summary: one flow run after the US close.

    resolve the day -> build the day's report from the ledger (every
    rebalance of the day) -> send it (Telegram and Slack formats) -> artifact

Run from the CLI (``afx report --date D`` prints the same report) or the
``daily-summary`` deployment in prefect.yaml.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from pydantic import Field

from lib.daily import format_daily
from tasks import daily
from tasks.progress import artifact_key


@flow(name="daily-summary", log_prints=True, flow_run_name="daily-summary-{day}")
def daily_summary(
    day: Annotated[date | None, Field(description="Session date (default: today in `tz`).")] = None,
    settings: Annotated[str, Field(description="Path of settings.yaml.")] = "config/settings.yaml",
    tz: Annotated[str, Field(description="Time zone of the day.")] = "America/New_York",
    send: Annotated[bool, Field(description="Send through apprise (false: artifact only).")] = True,
) -> dict[str, Any]:
    """Aggregate every rebalance of ``day`` from the ledger and send the summary."""
    the_day = daily.resolve_day(day, tz)
    report = daily.build_day_report(the_day, settings, tz)
    sent = daily.send_day_report(report) if send else {}
    msg = format_daily(report, "slack")
    create_markdown_artifact(
        f"# {msg.title}\n\n```\n{msg.body}\n```\n", key=artifact_key("daily", the_day.isoformat()),
        description=f"Execution summary of {the_day.isoformat()} ({len(report.rebalances)} rebalances)",
    )
    return {"day": the_day.isoformat(), "rebalances": [r.rebalance_id for r in report.rebalances],
            "orders": report.summary.orders, "shortfall_bps": report.summary.shortfall_bps,
            "sent": sent, "title": msg.title}

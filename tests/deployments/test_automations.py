"""deployments/automations/: each file is a valid Prefect automation, its
trigger matches the events a failed rebalance emits (and not others), its
templates render, and the installer binds the notification block."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import EventTrigger, Posture

from flows.rebalance import rebalance
from lib.pipeline.outcome import ALERTS_UNDELIVERED, BLOCKED
from tasks.automations import (
    AUTOMATIONS_DIR,
    PLACEHOLDER_BLOCK,
    bind_block,
    install,
    load_automation,
)

FAILED = AUTOMATIONS_DIR / "rebalance-failed.yaml"


def _event(state_name: str, state_type: str, flow_name: str = "rebalance") -> object:
    """The event Prefect's server emits when a flow run enters a state
    (prefect/server/models/events.py: named after the state's name)."""
    from prefect.server.events.schemas.events import ReceivedEvent

    return ReceivedEvent(
        occurred=datetime(2026, 11, 24, 15, 40, tzinfo=UTC),
        event=f"prefect.flow-run.{state_name}",
        resource={"prefect.resource.id": f"prefect.flow-run.{uuid4()}",
                  "prefect.resource.name": "us-open-2026-11-24", "prefect.state-name": state_name,
                  "prefect.state-type": state_type},
        related=[{"prefect.resource.id": f"prefect.flow.{uuid4()}", "prefect.resource.role": "flow",
                  "prefect.resource.name": flow_name}],
        id=uuid4(),
    )


def test_every_automation_file_validates() -> None:
    files = sorted(AUTOMATIONS_DIR.glob("*.yaml"))
    assert FAILED in files
    for path in files:
        automation = load_automation(path)
        assert automation.name and automation.description and automation.actions


def test_failed_rebalance_trigger_and_templates() -> None:
    from prefect.server.utilities.user_templates import validate_user_template

    automation = load_automation(FAILED)
    trigger = automation.trigger
    assert isinstance(trigger, EventTrigger) and trigger.posture is Posture.Reactive
    assert trigger.threshold == 1 and trigger.within.total_seconds() == 0
    # The flow's own non-green states are named states: their events carry the name.
    assert {f"prefect.flow-run.{n}" for n in ("Failed", "Crashed", BLOCKED, ALERTS_UNDELIVERED)} <= set(
        trigger.expect)
    (action,) = automation.actions
    assert isinstance(action, SendNotification) and action.block_document_id == PLACEHOLDER_BLOCK
    for template in (action.subject, action.body):
        validate_user_template(template)
    assert "flow_run.name" in action.subject  # the flow-run name is the rebalance id


@pytest.mark.parametrize(("state_name", "state_type", "flow_name", "fires"), [
    ("Failed", "FAILED", "rebalance", True),
    (BLOCKED, "FAILED", "rebalance", True),
    ("Crashed", "CRASHED", "rebalance", True),
    (ALERTS_UNDELIVERED, "COMPLETED", "rebalance", True),
    ("Completed", "COMPLETED", "rebalance", False),
    ("Partial", "COMPLETED", "rebalance", False),
    ("Failed", "FAILED", "daily-summary", False),
])
def test_trigger_covers_what_the_server_emits(state_name: str, state_type: str, flow_name: str,
                                              fires: bool) -> None:
    from prefect.server.events.schemas.automations import EventTrigger as ServerTrigger

    assert rebalance.name == "rebalance"
    trigger = ServerTrigger.model_validate(load_automation(FAILED).trigger.model_dump(mode="json"))
    assert trigger.covers(_event(state_name, state_type, flow_name)) is fires  # type: ignore[arg-type]


def test_install_binds_the_block_and_replaces_by_name(prefect_harness: None, tmp_path: Path) -> None:
    from prefect.blocks.notifications import SlackWebhook
    from prefect.client.orchestration import get_client

    block_id = SlackWebhook(url="https://hooks.slack.com/services/T000/B000/XXXX").save(
        "afx-test-pager", overwrite=True)
    first = asyncio.run(install([FAILED], "slack-webhook/afx-test-pager"))
    again = asyncio.run(install([FAILED], "slack-webhook/afx-test-pager"))

    async def read() -> list[object]:
        async with get_client() as client:
            return list(await client.read_automations_by_name("afx-rebalance-failed"))

    (stored,) = asyncio.run(read())
    assert stored.id == again[0] != first[0]  # type: ignore[attr-defined]
    (action,) = stored.actions  # type: ignore[attr-defined]
    assert isinstance(action, SendNotification) and action.block_document_id == block_id
    assert bind_block(load_automation(FAILED), block_id).actions == stored.actions  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="TYPE/NAME"):
        asyncio.run(install([FAILED], "afx-test-pager"))



def test_a_blocked_run_fires_the_installed_automation(prefect_harness: None) -> None:
    """End to end on the harness's server: install with a webhook block posting to
    a loopback capture server, end a run the way the flow ends a fully blocked
    rebalance (final_state: Failed named "Blocked"); the server's own event is
    covered by the trigger and the notification arrives, templates rendered."""
    import time

    from prefect import flow
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.client.orchestration import get_client
    from prefect.server.events.schemas.automations import EventTrigger as ServerTrigger
    from prefect.server.events.schemas.events import ReceivedEvent

    from flows.rebalance import final_state
    from lib.pipeline.outcome import RunOutcome
    from tests.helpers import CaptureServer

    @flow(name="rebalance", flow_run_name="auto-blocked-1")
    def blocked() -> object:
        return final_state({}, RunOutcome(BLOCKED, True, "every order blocked (kill_switch)"))

    with CaptureServer() as hook:
        CustomWebhookNotificationBlock(
            name="afx-test", url=f"http://127.0.0.1:{hook.port}/automation",
            json_data={"subject": "{{subject}}", "body": "{{body}}"},
        ).save("afx-test-hook", overwrite=True)
        asyncio.run(install([FAILED], "custom-webhook/afx-test-hook"))
        state = blocked(return_state=True)
        assert state.is_failed() and state.name == BLOCKED
        for _ in range(480):  # the server's triggers service acts a moment later (a bound, not a timing)
            if hook.requests:
                break
            time.sleep(0.5)
        (req,) = hook.requests
    note = req.json()
    assert note["subject"] == "Rebalance auto-blocked-1: Blocked"
    assert "every order blocked (kill_switch)" in note["body"] and "residual" in note["body"]
    resource = f"prefect.flow-run.{state.state_details.flow_run_id}"

    async def events() -> list[ReceivedEvent]:
        async with get_client() as client:
            r = await client._client.post("/events/filter",
                                          json={"filter": {"resource": {"id": [resource]}}})
            return [ReceivedEvent.model_validate(e) for e in r.json()["events"]]

    trigger = ServerTrigger.model_validate(load_automation(FAILED).trigger.model_dump(mode="json"))
    fired: set[str] = set()
    for _ in range(240):  # events are persisted by their own service, possibly after the action ran
        fired = {e.event for e in asyncio.run(events()) if trigger.covers(e)}
        if fired:
            break
        time.sleep(0.5)
    assert fired == {f"prefect.flow-run.{BLOCKED}"}  # not Pending/Running/heartbeat

    async def remove() -> None:  # later failed runs in this session must not page a closed port
        async with get_client() as client:
            for a in await client.read_automations_by_name("afx-rebalance-failed"):
                await client.delete_automation(a.id)

    asyncio.run(remove())

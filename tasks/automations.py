"""Install the Prefect automations in deployments/automations/ on a server.

Each file holds one automation (Prefect's own model, as ``prefect automation
create --from-file`` reads it). Their ``send-notification`` actions name the
placeholder block id 00000000-...; :func:`install` puts the id of a
notification block you created (``--block TYPE/NAME``, e.g.
``slack-webhook/afx-pager``) in its place and replaces any automation of the
same name, so running it twice leaves one copy::

    python -m tasks.automations --block slack-webhook/afx-pager [FILE ...]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from uuid import UUID

import yaml
from prefect.client.orchestration import get_client
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import AutomationCore

__all__ = ["AUTOMATIONS_DIR", "PLACEHOLDER_BLOCK", "bind_block", "install", "load_automation", "main"]

AUTOMATIONS_DIR = Path(__file__).resolve().parents[1] / "deployments" / "automations"
PLACEHOLDER_BLOCK = UUID(int=0)


def load_automation(path: Path) -> AutomationCore:
    """Parse and validate one automation file (YAML or JSON)."""
    return AutomationCore.model_validate(yaml.safe_load(path.read_text()))


def bind_block(automation: AutomationCore, block_document_id: UUID) -> AutomationCore:
    """The automation with each placeholder notification block replaced."""
    actions = [
        a.model_copy(update={"block_document_id": block_document_id})
        if isinstance(a, SendNotification) and a.block_document_id == PLACEHOLDER_BLOCK else a
        for a in automation.actions
    ]
    return automation.model_copy(update={"actions": actions})


async def install(paths: Sequence[Path], block: str) -> list[UUID]:
    """Create each automation on the API in PREFECT_API_URL; returns their ids."""
    block_type, _, name = block.partition("/")
    if not name:
        raise ValueError(f"--block {block!r}: expected TYPE/NAME, e.g. slack-webhook/afx-pager")
    ids: list[UUID] = []
    async with get_client() as client:
        doc = await client.read_block_document_by_name(name, block_type_slug=block_type)
        for path in paths:
            automation = bind_block(load_automation(path), doc.id)
            for old in await client.read_automations_by_name(automation.name):
                await client.delete_automation(old.id)
            ids.append(await client.create_automation(automation))
    return ids


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tasks.automations", description=__doc__.split("\n\n")[0])
    p.add_argument("--block", required=True,
                   help="notification block TYPE/NAME the automations send through")
    p.add_argument("files", nargs="*", type=Path,
                   help=f"automation files (default: every *.yaml in {AUTOMATIONS_DIR})")
    args = p.parse_args(argv)
    files = args.files or sorted(AUTOMATIONS_DIR.glob("*.yaml"))
    for path, automation_id in zip(files, asyncio.run(install(files, args.block)), strict=True):
        print(f"{path.name}: automation {automation_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

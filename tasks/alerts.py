"""Where alerts go: the environment (lib.notify.NotifyConfig.from_env) plus
a Prefect Secret block.

The Secret block (default name ``afx-alert-urls``, override with
``EXEC_ALERT_SECRET_BLOCK``; empty = do not look) holds apprise URLs, comma
or newline separated, or a JSON list. Create it in the UI (Blocks -> Secret)
or ``prefect block create secret``; a missing block is not an error (env
only). The read lives here, in tasks/, because lib/ never imports prefect.
"""

from __future__ import annotations

import json
import logging
import os

from pydantic import SecretStr

from lib.notify import Notifier, NotifyConfig
from lib.story import StoryLog

__all__ = ["DEFAULT_SECRET_BLOCK", "ENV_SECRET_BLOCK", "alert_urls", "channel_of", "notifier"]

log = logging.getLogger(__name__)

ENV_SECRET_BLOCK = "EXEC_ALERT_SECRET_BLOCK"
DEFAULT_SECRET_BLOCK = "afx-alert-urls"


def _secret_urls(name: str) -> list[str]:
    from prefect.blocks.system import Secret

    try:
        raw = Secret.load(name).get()
    except ValueError:  # no such block
        return []
    except Exception as exc:  # no API reachable: env destinations still work
        log.warning("alert Secret block %r not read: %s", name, type(exc).__name__)
        return []
    if isinstance(raw, list):
        return [str(u).strip() for u in raw if str(u).strip()]
    text = str(raw).strip()
    if text.startswith("["):
        return [str(u).strip() for u in json.loads(text) if str(u).strip()]
    return [u.strip() for u in text.replace("\n", ",").split(",") if u.strip()]


def alert_urls() -> list[SecretStr]:
    """Every destination: environment first, then the Secret block's (deduplicated)."""
    urls = [u.get_secret_value() for u in NotifyConfig.from_env().apprise_urls()]
    name = os.environ.get(ENV_SECRET_BLOCK, DEFAULT_SECRET_BLOCK).strip()
    if name:
        urls.extend(_secret_urls(name))
    seen: dict[str, None] = dict.fromkeys(urls)
    return [SecretStr(u) for u in seen]


def channel_of(url: SecretStr) -> str:
    """``"telegram"`` for Telegram destinations, ``"slack"`` for every other."""
    return "telegram" if url.get_secret_value().startswith(("tgram://", "telegram://")) else "slack"


def notifier(channel: str | None = None, *, log: StoryLog | None = None) -> Notifier:
    """A Notifier for every destination, or only those of ``channel``;
    ``log`` hears each alert's outcome (the run logger: the UI's Logs tab)."""
    urls = alert_urls()
    return Notifier([u for u in urls if channel is None or channel_of(u) == channel], log=log)

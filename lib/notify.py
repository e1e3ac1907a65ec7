"""Alerts through apprise (Telegram, Slack, or anything apprise speaks).

Destinations come from :class:`NotifyConfig` (Telegram bot token + chat id,
Slack webhook, extra apprise URLs; secrets are ``SecretStr``, never in a repr
or a log line) or from ``EXEC_APPRISE_URLS`` (comma separated). With no
destination configured, alerts are logged only and reported as not sent.

Delivery never raises: :meth:`Notifier.notify` sends to each destination on
its own (so the result can say which failed), checks apprise's return value
(a ``bool`` in apprise 1.x, an ``AppriseResult`` in 2.x) and returns a
:class:`NotifyResult`. ``sent`` is True only if every destination accepted the
message. Destinations in results and logs are redacted (:func:`redact_url`:
scheme and host kept, user, password, path, query and fragment masked, and a
host that is itself a token masked too: ``json://127.0.0.1:8080/***``,
``tgram://1...w/***``); a filter on the ``apprise`` and ``urllib3`` loggers
redacts the URLs and request paths they log (:func:`redact_text`).
``NotifyResult.raise_for_error()`` raises :class:`lib.errors.ReportingError`
for a caller that requires delivery.

Message bodies are plain text (``body_format=text``): apprise escapes them for
Telegram HTML and Slack markdown.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import apprise
from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from lib.analytics import DailySummary, format_summary
from lib.errors import ConfigError, ReportingError

__all__ = [
    "ENV_APPRISE_URLS",
    "Message",
    "NotifyConfig",
    "NotifyLevel",
    "NotifyResult",
    "Notifier",
    "failure_message",
    "rebalance_summary_message",
    "redact_text",
    "redact_url",
    "risk_block_message",
    "slack_url",
    "telegram_url",
]

log = logging.getLogger(__name__)
_module_log = log

ENV_APPRISE_URLS = "EXEC_APPRISE_URLS"
ENV_TELEGRAM_BOT_TOKEN = "EXEC_TELEGRAM_BOT_TOKEN"
ENV_TELEGRAM_CHAT_ID = "EXEC_TELEGRAM_CHAT_ID"
ENV_SLACK_WEBHOOK_URL = "EXEC_SLACK_WEBHOOK_URL"

_SLACK_HOOK_PREFIX = "https://hooks.slack.com/services/"
# Telegram caps a message at 4096 characters; leave room for the title.
_MAX_DETAIL_CHARS = 1500


class NotifyLevel(StrEnum):
    """Severity; values are apprise's notify types."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


_URL_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#\s'\"<>]*)([^\s'\"<>]*)")
# A plain host name or IP with an optional numeric port: kept as is.
_PLAIN_HOST = re.compile(r"(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")
# Request paths as urllib3 and requests log them ('"POST /x HTTP/1.1"', 'url: /x').
_REQUEST_PATH = re.compile(r"((?:GET|POST|PUT|PATCH|DELETE|HEAD) |url: )/[^\s'\"()]*")


def _redact_match(m: re.Match[str]) -> str:
    scheme, netloc, rest = m.group(1), m.group(2), m.group(3)
    user = "***@" if "@" in netloc else ""
    host = netloc.rsplit("@", 1)[-1]
    looks_secret = not _PLAIN_HOST.fullmatch(host) or (
        len(host) >= 16 and any(c.isdigit() for c in host) and any(c.isalpha() for c in host)
        and "." not in host
    )
    if looks_secret and host:
        host = f"{host[0]}...{host[-1]}"
    tail = "/***" if rest.strip("/") else ""
    return f"{scheme}://{user}{host}{tail}"


def redact_url(url: str) -> str:
    """``scheme://host[:port]/***``: scheme and host kept; user, password,
    path, query and fragment masked (webhook paths and tokens are credentials),
    and a host that is itself a token (Telegram) masked as ``1...w``."""
    m = _URL_RE.fullmatch(url.strip())
    return _redact_match(m) if m else "***"


def redact_text(text: str) -> str:
    """``text`` with every URL redacted (:func:`redact_url`) and every logged
    request path masked."""
    return _REQUEST_PATH.sub(r"\1/***", _URL_RE.sub(_redact_match, text))


class _RedactFilter(logging.Filter):
    """Redacts URLs in the records of apprise and urllib3 (their DEBUG lines
    carry full webhook URLs and paths)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logger's problem, not ours
            return True
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACT = _RedactFilter()
for _name in ("apprise", "urllib3.connectionpool"):
    if _REDACT not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_REDACT)


_LOG_LEVEL = {
    NotifyLevel.INFO: logging.INFO,
    NotifyLevel.SUCCESS: logging.INFO,
    NotifyLevel.WARNING: logging.WARNING,
    NotifyLevel.FAILURE: logging.ERROR,
}


def telegram_url(bot_token: SecretStr, chat_id: str) -> SecretStr:
    """``tgram://TOKEN/CHAT_ID`` (kept secret: the token is a credential)."""
    token = bot_token.get_secret_value().strip()
    chat = chat_id.strip()
    if not token or not chat:
        raise ConfigError("notify", "telegram", "bot token and chat id must both be non-empty")
    return SecretStr(f"tgram://{token}/{chat}")


def slack_url(webhook: SecretStr) -> SecretStr:
    """An apprise Slack URL from an incoming-webhook URL
    (``https://hooks.slack.com/services/A/B/C`` -> ``slack://A/B/C``);
    a URL already in ``slack://`` form is kept."""
    raw = webhook.get_secret_value().strip()
    if raw.startswith("slack://"):
        return SecretStr(raw)
    if raw.startswith(_SLACK_HOOK_PREFIX):
        parts = [p for p in raw.removeprefix(_SLACK_HOOK_PREFIX).split("/") if p]
        if len(parts) == 3:
            return SecretStr("slack://" + "/".join(parts))
    # Never echo the value: it is a credential.
    raise ConfigError(
        "notify", "slack_webhook_url", f"expected {_SLACK_HOOK_PREFIX}A/B/C or slack://A/B/C"
    )


class NotifyConfig(BaseModel):
    """Where alerts go. Read from the environment or a Prefect Secret block,
    never from YAML."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    slack_webhook_url: SecretStr | None = None
    extra_urls: tuple[SecretStr, ...] = ()

    @model_validator(mode="after")
    def _telegram_pair(self) -> NotifyConfig:
        if (self.telegram_bot_token is None) != (self.telegram_chat_id is None):
            raise ValueError("telegram_bot_token and telegram_chat_id must be set together")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NotifyConfig:
        """From ``EXEC_TELEGRAM_BOT_TOKEN``, ``EXEC_TELEGRAM_CHAT_ID``,
        ``EXEC_SLACK_WEBHOOK_URL`` and ``EXEC_APPRISE_URLS`` (comma separated);
        empty values count as unset."""
        e = os.environ if env is None else env
        token = e.get(ENV_TELEGRAM_BOT_TOKEN, "").strip()
        chat = e.get(ENV_TELEGRAM_CHAT_ID, "").strip()
        slack = e.get(ENV_SLACK_WEBHOOK_URL, "").strip()
        extra = [u.strip() for u in e.get(ENV_APPRISE_URLS, "").split(",") if u.strip()]
        return cls(
            telegram_bot_token=SecretStr(token) if token else None,
            telegram_chat_id=chat or None,
            slack_webhook_url=SecretStr(slack) if slack else None,
            extra_urls=tuple(SecretStr(u) for u in extra),
        )

    def apprise_urls(self) -> list[SecretStr]:
        """Every configured destination as an apprise URL (still secret)."""
        urls: list[SecretStr] = []
        if self.telegram_bot_token is not None and self.telegram_chat_id is not None:
            urls.append(telegram_url(self.telegram_bot_token, self.telegram_chat_id))
        if self.slack_webhook_url is not None:
            urls.append(slack_url(self.slack_webhook_url))
        urls.extend(self.extra_urls)
        return urls


@dataclass(frozen=True, slots=True)
class NotifyResult:
    """``destinations``: every destination tried (masked); ``failed``: those
    that did not accept the message; ``reason``: why not sent, if not."""

    sent: bool
    destinations: tuple[str, ...]
    failed: tuple[str, ...] = ()
    reason: str = ""

    def raise_for_error(self) -> None:
        """Raise :class:`ReportingError` unless every destination accepted."""
        if not self.sent:
            target = ", ".join(self.failed or self.destinations) or "notify"
            raise ReportingError(target, self.reason or "not sent")


@dataclass(frozen=True, slots=True)
class Message:
    """One alert: plain-text ``title`` and ``body``, and its level."""

    title: str
    body: str
    level: NotifyLevel = NotifyLevel.INFO


def _delivered(ret: Any) -> bool:
    """apprise 1.x returns True/False (None if nothing matched); 2.x returns an
    AppriseResult whose truth is success and which counts failures."""
    if ret is None:
        return False
    if isinstance(ret, bool):
        return ret
    failed = getattr(ret, "failed_count", None)
    if isinstance(failed, int) and failed > 0:
        return False
    return bool(ret)


class Notifier:
    """Sends alerts to apprise destinations. Invalid URLs are a ConfigError at
    construction (the URL itself is not echoed)."""

    def __init__(
        self,
        urls: Sequence[str | SecretStr] = (),
        *,
        log: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        # ``log``: where each alert's outcome is told (delivered, refused, log
        # only); the Prefect tasks pass their run logger. Default: lib.notify.
        self._log = log if log is not None else _module_log
        self._targets: list[tuple[str, apprise.Apprise]] = []
        for i, url in enumerate(urls):
            raw = url.get_secret_value() if isinstance(url, SecretStr) else url
            server = apprise.Apprise.instantiate(raw.strip())
            if server is None:
                raise ConfigError("notify", f"destination[{i}]", "apprise does not recognise this URL")
            target = apprise.Apprise()
            target.add(server)
            # apprise's privacy URL masks the tokens it knows; redact_url then
            # masks what it leaves (generic webhook paths, user names, query).
            masked = redact_url(str(server.url(privacy=True)))  # type: ignore[no-untyped-call]
            self._targets.append((masked, target))

    @classmethod
    def from_config(cls, config: NotifyConfig) -> Notifier:
        return cls(config.apprise_urls())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Notifier:
        return cls.from_config(NotifyConfig.from_env(env))

    @property
    def destinations(self) -> tuple[str, ...]:
        """Privacy-masked destination URLs."""
        return tuple(name for name, _ in self._targets)

    def __repr__(self) -> str:
        return f"Notifier(destinations={list(self.destinations)!r})"

    def notify(
        self,
        title: str,
        body: str,
        level: NotifyLevel = NotifyLevel.INFO,
        *,
        only: Collection[str] | None = None,
    ) -> NotifyResult:
        """Send to every destination (or to those whose masked name is in
        ``only``, e.g. a retry of the ones that failed); never raises (see
        module docstring)."""
        if not self._targets:
            self._log.log(_LOG_LEVEL[level], "alert (no destinations, log only): %s\n%s", title, body)
            return NotifyResult(sent=False, destinations=(), reason="no destinations")
        failed: list[str] = []
        targets = [(n, t) for n, t in self._targets if only is None or n in only]
        for name, target in targets:
            try:
                ok = _delivered(
                    target.notify(
                        body=body,
                        title=title,
                        notify_type=apprise.NotifyType(level.value),
                        body_format=apprise.NotifyFormat.TEXT,
                    )
                )
            except Exception as exc:  # a plugin bug must not fail a rebalance
                self._log.error(
                    "alert to %s raised %s: %s", name, type(exc).__name__, redact_text(str(exc))
                )
                ok = False
            if not ok:
                failed.append(name)
        if failed:
            self._log.warning("alert %r not delivered to %s", title, ", ".join(failed))
        else:
            self._log.info("alert %r delivered to %s", title, ", ".join(n for n, _ in targets))
        reason = f"{len(failed)} of {len(targets)} destinations failed" if failed else ""
        return NotifyResult(
            sent=not failed,
            destinations=tuple(n for n, _ in targets),
            failed=tuple(failed),
            reason=reason,
        )

    def send(self, message: Message, *, only: Collection[str] | None = None) -> NotifyResult:
        return self.notify(message.title, message.body, message.level, only=only)


def rebalance_summary_message(
    rebalance_id: str, summary: DailySummary, *, blocked: int = 0, rejected: int = 0
) -> Message:
    """The execution summary of a rebalance; the title and level say what
    happened. ``blocked``: orders that risk or policy blocks kept from the broker;
    ``rejected``: intents that got no plan for another reason (e.g. stale or
    crossed quotes), not counted in ``blocked``.

    - nothing blocked, rejected or incomplete: ``complete``, SUCCESS;
    - something blocked, rejected or incomplete but some fills:
      ``N blocked, R rejected, M incomplete``, WARNING;
    - something blocked, rejected or asked for and no fill at all:
      ``nothing executed (...)``, FAILURE.
    """
    incomplete = summary.orders_partial + summary.orders_unfilled
    parts = [f"{blocked} blocked"] if blocked else []
    if rejected:
        parts.append(f"{rejected} rejected")
    if incomplete:
        parts.append(f"{incomplete} incomplete")
    if not parts:
        status, level = "complete", NotifyLevel.SUCCESS
    elif summary.fills == 0:
        status, level = f"nothing executed ({', '.join(parts)})", NotifyLevel.FAILURE
    else:
        status, level = ", ".join(parts), NotifyLevel.WARNING
    body = format_summary(summary, title="Execution")
    if blocked:
        body += f"\nBlocked before the broker: {blocked} order(s) (see the risk block alerts)"
    if rejected:
        body += f"\nRejected before the broker (no plan): {rejected} intent(s)"
    return Message(title=f"Rebalance {rebalance_id}: {status}", body=body, level=level)


def risk_block_message(rebalance_id: str, control: str, detail: str) -> Message:
    """A pre-trade control blocked an order or the rebalance."""
    return Message(
        title=f"Risk block in {rebalance_id}: {control}",
        body=f"Control: {control}\n{_truncate(detail)}\nNothing was sent for the blocked order(s).",
        level=NotifyLevel.WARNING,
    )


def failure_message(rebalance_id: str, stage: str, error: BaseException | str) -> Message:
    """A rebalance step failed; the body names the stage and the error."""
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
    return Message(
        title=f"Rebalance {rebalance_id} FAILED at {stage}",
        body=f"Stage: {stage}\n{_truncate(redact_text(text))}",
        level=NotifyLevel.FAILURE,
    )


def _truncate(text: str) -> str:
    if len(text) <= _MAX_DETAIL_CHARS:
        return text
    return text[: _MAX_DETAIL_CHARS - 15] + " ...(truncated)"

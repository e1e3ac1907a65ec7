"""Reaching a Prefect API before a CLI run starts, with a clear answer when it cannot.

With no ``PREFECT_API_URL`` set, Prefect starts a temporary API server in a
subprocess. On a brand-new Prefect home that server first creates and migrates
its SQLite database: about 20 s on an idle 2-core machine, which is exactly
Prefect's default start-up time-out (``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``,
20 s), so a first run on a busy machine timed out. The CLI therefore starts
the temporary server itself, before the flow, with a generous time-out
(:data:`STARTUP_TIMEOUT_SECONDS`, overridable through Prefect's own variable),
and the flow's client reuses that server (Prefect keeps it as a per-process
singleton). When the server still cannot start, or a configured
``PREFECT_API_URL`` does not answer, :class:`PrefectApiUnavailable` says why
and what to do; the CLI prints it and exits with :data:`EXIT_API_UNAVAILABLE`.
Nothing has been sent to a broker at that point.
"""

from __future__ import annotations

import os

__all__ = [
    "ENV_STARTUP_TIMEOUT",
    "EXIT_API_UNAVAILABLE",
    "STARTUP_TIMEOUT_SECONDS",
    "PrefectApiUnavailable",
    "ensure_prefect_api",
    "set_startup_timeout_default",
]

#: Prefect's own setting for the temporary server's start-up wait (seconds, int).
ENV_STARTUP_TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
#: Our default, seconds: ten times the ~20 s a new home needs on an idle 2-core
#: machine (measured up to 20 s at load 2, and slower at load 8).
STARTUP_TIMEOUT_SECONDS = 240
#: CLI exit code when no Prefect API can be reached (0/1/2 are trade outcomes).
EXIT_API_UNAVAILABLE = 3
_HEALTH_TIMEOUT_SECONDS = 10.0


class PrefectApiUnavailable(Exception):
    """No Prefect API could be started or reached; the message says what to do."""


def set_startup_timeout_default() -> int:
    """Set Prefect's start-up time-out to our default unless the user set one.

    Returns the time-out in force, in seconds.
    """
    os.environ.setdefault(ENV_STARTUP_TIMEOUT, str(STARTUP_TIMEOUT_SECONDS))
    try:
        return int(os.environ[ENV_STARTUP_TIMEOUT])
    except ValueError as exc:
        raise PrefectApiUnavailable(
            f"{ENV_STARTUP_TIMEOUT}={os.environ[ENV_STARTUP_TIMEOUT]!r} is not a whole number of seconds"
        ) from exc


def ensure_prefect_api() -> str:
    """Start the temporary Prefect API (or check the configured one) now.

    Returns a short description of the API in use. Raises
    PrefectApiUnavailable with the cause and the remedy.
    """
    timeout = set_startup_timeout_default()
    url = os.environ.get("PREFECT_API_URL", "").strip()
    if url:
        return _check_remote(url)
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    try:
        server.start(timeout=timeout)
    except Exception as exc:  # Prefect raises RuntimeError with the server's output
        detail = " ".join(str(exc).split())[:600]
        raise PrefectApiUnavailable(
            f"the temporary Prefect API did not start within {timeout} s. A new Prefect home "
            f"builds its database first (about 20 s on an idle 2-core machine, longer when it "
            f"is busy). Run the command again, raise {ENV_STARTUP_TIMEOUT} (now {timeout}), or "
            f"start a server with `prefect server start` and set PREFECT_API_URL. "
            f"Prefect said: {detail}"
        ) from exc
    return f"temporary Prefect API at {server.api_url}"


def _check_remote(url: str) -> str:
    import httpx

    health = url.rstrip("/") + "/health"
    try:
        response = httpx.get(health, timeout=_HEALTH_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise PrefectApiUnavailable(
            f"the Prefect API at PREFECT_API_URL={url} does not answer ({type(exc).__name__}: "
            f"{exc}). Start it (`prefect server start`), fix the URL, or unset PREFECT_API_URL "
            f"to use a temporary local API."
        ) from exc
    if response.status_code != 200:
        raise PrefectApiUnavailable(
            f"the Prefect API at PREFECT_API_URL={url} answered {response.status_code} on /health; "
            f"check the server's log, or unset PREFECT_API_URL to use a temporary local API."
        )
    return f"Prefect API at {url}"

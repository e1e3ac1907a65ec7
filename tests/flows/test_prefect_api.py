"""The CLI when no Prefect API can be had: exit 3, the cause and the remedy, no traceback.

Both cases run ``afx demo`` as a user would, in a subprocess with its own
Prefect home, so nothing of this test session's Prefect state is involved.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from flows.prefect_api import EXIT_API_UNAVAILABLE, STARTUP_TIMEOUT_SECONDS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _afx_demo(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    full.update(
        DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_HOME=str(tmp_path / "prefect-home"), EXEC_VAR_DIR=str(tmp_path / "var"),
        EXEC_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite'}",
    )
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", "demo"], cwd=ROOT, env=full,
        capture_output=True, text=True, timeout=300,
    )


def test_temporary_api_that_cannot_start_in_time_exits_3_with_the_remedy(tmp_path: Path) -> None:
    # A brand-new Prefect home needs ~20 s to build its database: 1 s cannot do.
    out = _afx_demo(tmp_path, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1")
    assert out.returncode == EXIT_API_UNAVAILABLE, out.stderr[-2000:]
    assert "did not start within 1 s" in out.stderr
    assert "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" in out.stderr
    assert "nothing was sent" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_unreachable_configured_api_exits_3_naming_the_url(tmp_path: Path) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    out = _afx_demo(tmp_path, PREFECT_API_URL=url)
    assert out.returncode == EXIT_API_UNAVAILABLE, out.stderr[-2000:]
    assert f"PREFECT_API_URL={url} does not answer" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_default_startup_timeout_leaves_room_for_a_new_home_on_a_busy_machine() -> None:
    # ~20 s measured on an idle 2-core machine for a new home; keep a wide margin.
    assert STARTUP_TIMEOUT_SECONDS >= 120

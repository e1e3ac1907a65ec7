"""``afx gateway`` as a user runs it: a subprocess that says how it runs,
serves ib_async, and stops cleanly on SIGTERM / SIGINT."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ib_async import IB

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(
    r"^afx gateway: listening on 127\.0\.0\.1:(\d+) \((virtual time x20|wall-clock time), session "
    r"(\d{4}-\d\d-\d\d \d\d:\d\d) America/New_York, account DU7654321\)$"
)


def _start(*extra: str) -> tuple[subprocess.Popen[str], re.Match[str]]:
    env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "gateway", "--port", "0", "--account", "DU7654321", *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    m = LINE.match(line)
    if m is None:
        proc.kill()
        raise AssertionError(f"unexpected first line {line!r}; stderr: {proc.communicate()[1]}")
    return proc, m


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_gateway_subprocess_serves_ib_async_and_stops_on_signal(sig: signal.Signals) -> None:
    proc, m = _start("--sim-start", "2026-11-24T10:30:00-05:00")
    try:
        assert m.group(2) == "virtual time x20" and m.group(3) == "2026-11-24 10:30"

        async def body() -> None:
            ib = IB()
            await ib.connectAsync("127.0.0.1", int(m.group(1)), clientId=1, timeout=20)
            try:
                assert ib.managedAccounts() == ["DU7654321"]
                t = await ib.reqCurrentTimeAsync()
                assert t.year == 2026 and t.month == 11 and t.day == 24
            finally:
                ib.disconnect()

        asyncio.run(body())
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "afx gateway: stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()


def test_gateway_wall_mode_says_so() -> None:
    proc, m = _start("--time-mode", "wall")
    try:
        assert m.group(2) == "wall-clock time"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_bad_arguments_exit_2() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "flows.cli", "gateway", "--speed", "-1"], cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert r.returncode == 2 and "afx gateway: bad arguments" in r.stderr and "speed" in r.stderr

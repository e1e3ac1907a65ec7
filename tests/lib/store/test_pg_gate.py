"""The PostgreSQL gate of the ledger tests: skip locally, FAIL in CI.

Runs one PostgreSQL-parametrised test in a child pytest pointed at a closed
port, with and without ``EXEC_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
TARGET = "tests/lib/store/test_db.py::test_models_and_migrations_agree[postgresql]"
DEAD_URL = "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2"


def _run_child(require: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "EXEC_REQUIRE_POSTGRES"}
    env["EXEC_TEST_POSTGRES_URL"] = DEAD_URL
    if require:
        env["EXEC_REQUIRE_POSTGRES"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rsE", "-p", "no:cacheprovider", TARGET],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("require", [False, True], ids=["local-skips", "ci-fails"])
def test_unreachable_postgres(require: bool) -> None:
    proc = _run_child(require)
    out = proc.stdout
    assert "PostgreSQL not reachable" in out, out
    if require:
        assert proc.returncode == 1, out
        assert "ERROR" in out and "EXEC_REQUIRE_POSTGRES=1" in out
    else:
        assert proc.returncode == 0, out
        assert "SKIPPED [1]" in out

"""The fault matrix (issue 7): every phase of a rebalance x every fault, then
a rerun of the same id, checked from the simulated broker's state file and the
ledger (harness: tests/reliability/fault_runner.py; table: bench/fault_matrix.py).

The whole matrix runs once per module in two batch subprocesses (the kill -9
cells in a child each, SIGKILLed from the batch process). Three tests per cell:

* safety: no intent executed beyond its quantity, nothing left working at the
  broker, every broker exec id exactly once in the ledger, no ledger order left
  open, the sum of the sleeve books equal to the broker's positions, the rerun
  ends without an error;
* complete: after the rerun every intent is fully executed and every sleeve
  book is at its target;
* alerted: a fault run that did not end Completed sent a warning/failure
  alert, or (killed: no hook can run) the rerun warned that the attempt did
  not finish; an alert refused by the endpoint was delivered later or reported.

Cells where a fault cannot apply are n/a with a reason (checked, not skipped).
Measured defects are xfail(strict=True) with the outcome measured: a fix
makes the cell pass and the marker must go.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability.fault_runner import FAULTS, NOT_APPLICABLE, PHASES, run_matrix

SAFETY = ("no_overfill", "nothing_working", "exec_ids_once", "ledger_settled",
          "books_equal_broker", "rerun_completes", "phase_reached", "harness")

INCOMPLETE: dict[tuple[str, str], str] = {}

NOT_ALERTED: dict[tuple[str, str], str] = {}

CELLS = [(p, f) for f in FAULTS for p in PHASES]
APPLICABLE = [c for c in CELLS if c not in NOT_APPLICABLE]


def _param(cell: tuple[str, str], defects: dict[tuple[str, str], str]) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=defects[cell])] if cell in defects else []
    return pytest.param(*cell, id=f"{cell[0]}-{cell[1]}", marks=marks)


@pytest.fixture(scope="module")
def matrix() -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["phase"], r["fault"]): r for r in run_matrix(workers=2)}


def test_every_cell_has_an_outcome(matrix: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert set(matrix) == set(CELLS)
    for cell, r in matrix.items():
        if cell in NOT_APPLICABLE:
            assert r["outcome"] == "n/a" and r["reason"] == NOT_APPLICABLE[cell]
        else:
            assert r["outcome"] in ("ok", "defect"), r
            assert r.get("reached"), f"{cell}: the fault was never injected: {r}"


@pytest.mark.parametrize(("phase", "fault"), [_param(c, {}) for c in APPLICABLE])
def test_safety_after_fault_and_rerun(
    matrix: dict[tuple[str, str], dict[str, Any]], phase: str, fault: str
) -> None:
    r = matrix[(phase, fault)]
    broken = {k: v for k, v in r.get("failed", {}).items() if k in SAFETY}
    assert broken == {}, f"fault run: {r.get('fault_run')}; rerun: {r.get('rerun')}"


@pytest.mark.parametrize(("phase", "fault"), [_param(c, INCOMPLETE) for c in APPLICABLE])
def test_rerun_completes_the_rebalance(
    matrix: dict[tuple[str, str], dict[str, Any]], phase: str, fault: str
) -> None:
    r = matrix[(phase, fault)]
    assert r.get("failed", {}).get("complete", "") == "", r.get("rerun")


@pytest.mark.parametrize(("phase", "fault"), [_param(c, NOT_ALERTED) for c in APPLICABLE])
def test_failure_is_alerted(
    matrix: dict[tuple[str, str], dict[str, Any]], phase: str, fault: str
) -> None:
    r = matrix[(phase, fault)]
    assert r.get("failed", {}).get("failure_alerted", "") == "", r.get("alerts")

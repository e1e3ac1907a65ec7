"""The rebalance idempotency key in the ledger: a rerun with the same inputs'
fingerprint is accepted, another fingerprint is refused, every attempt is
recorded with its parameters (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from lib.clock import VirtualClock
from lib.errors import IdempotencyConflict
from lib.store import LedgerRepository

INPUTS_A = {"version": 1, "targets": {"sleeves": {"trend": "A"}}, "execution": {"x": 1}}
INPUTS_B = {"version": 1, "targets": {"sleeves": {"trend": "B"}}, "execution": {"x": 2}}


def _claim(repo: LedgerRepository, fp: str, inputs: dict, *, dry_run: bool = False, tag: str = ""):  # type: ignore[no-untyped-def]
    return repo.claim_rebalance(
        "rb-1", fingerprint=fp, inputs=inputs, params={"targets": tag, "dry_run": dry_run},
        portfolio="main", schedule="manual", dry_run=dry_run,
    )


def test_same_fingerprint_is_a_rerun(repo: LedgerRepository) -> None:
    row, created = _claim(repo, "a" * 64, INPUTS_A, tag="first")
    assert created and row.fingerprint == "a" * 64
    row2, created2 = _claim(repo, "a" * 64, INPUTS_A, tag="second")
    assert not created2 and row2.fingerprint == "a" * 64
    attempts = repo.rebalance_attempts("rb-1")
    assert [(a.attempt, a.outcome, a.params["targets"]) for a in attempts] == [
        (0, "accepted", "first"), (1, "accepted", "second"),
    ]


def test_other_fingerprint_is_refused_naming_what_changed(repo: LedgerRepository) -> None:
    _claim(repo, "a" * 64, INPUTS_A)
    with pytest.raises(IdempotencyConflict, match="rb-1") as err:
        _claim(repo, "b" * 64, INPUTS_B, tag="other")
    assert err.value.differences == ("execution.x", "targets")
    assert "new --rebalance-id" in str(err.value)
    row = repo.get_rebalance("rb-1")
    assert row is not None and row.fingerprint == "a" * 64  # the first run's stays
    refused = repo.rebalance_attempts("rb-1")[-1]
    assert refused.outcome == "refused" and refused.fingerprint == "b" * 64
    assert refused.params["targets"] == "other" and "execution.x" in refused.detail


def test_a_dry_run_does_not_fix_the_fingerprint_but_is_checked(repo: LedgerRepository) -> None:
    _claim(repo, "a" * 64, INPUTS_A, dry_run=True)
    assert repo.get_rebalance("rb-1").fingerprint is None  # type: ignore[union-attr]
    _claim(repo, "b" * 64, INPUTS_B)  # the first real run fixes it
    with pytest.raises(IdempotencyConflict):
        _claim(repo, "a" * 64, INPUTS_A, dry_run=True)
    assert [a.outcome for a in repo.rebalance_attempts("rb-1")] == ["dry_run", "accepted", "refused"]


def test_a_pre_fingerprint_rebalance_adopts_the_first_fingerprint(repo: LedgerRepository) -> None:
    repo.create_or_get_rebalance("rb-1", portfolio="main")  # as written before migration 0002
    _, created = _claim(repo, "c" * 64, INPUTS_A)
    assert not created and repo.get_rebalance("rb-1").fingerprint == "c" * 64  # type: ignore[union-attr]


def test_an_attempt_that_never_finished_is_closed_as_abandoned_once(
    repo: LedgerRepository, clock: VirtualClock
) -> None:
    _claim(repo, "a" * 64, INPUTS_A, tag="killed")  # attempt 0: never finishes (kill -9)
    clock.advance(60)
    _claim(repo, "a" * 64, INPUTS_A, dry_run=True, tag="dry")  # attempt 1: a dry run, not accepted
    _claim(repo, "a" * 64, INPUTS_A, tag="rerun")  # attempt 2: this run
    found = repo.close_abandoned_attempts("rb-1")
    assert [(a.attempt, a.params["targets"], a.end_state) for a in found] == [(0, "killed", None)]
    assert found[0].wall_ts is not None
    # found once: a second look (or a later rerun) does not report it again
    assert repo.close_abandoned_attempts("rb-1") == []
    assert repo.finish_attempt("rb-1") == 2
    by_number = {a.attempt: a for a in repo.rebalance_attempts("rb-1")}
    assert (by_number[0].end_state, by_number[0].finished_at) == ("abandoned", clock.now())
    assert by_number[2].end_state == "finished" and by_number[2].wall_finished_at is not None
    assert by_number[1].end_state is None  # dry runs are not tracked
    # every accepted attempt has ended: nothing to finish, nothing abandoned
    assert repo.finish_attempt("rb-1") is None
    _claim(repo, "a" * 64, INPUTS_A, tag="third")
    assert repo.close_abandoned_attempts("rb-1") == []


def test_a_first_run_has_nothing_abandoned(repo: LedgerRepository) -> None:
    _claim(repo, "a" * 64, INPUTS_A)
    assert repo.close_abandoned_attempts("rb-1") == []
    assert repo.close_abandoned_attempts("other") == []

"""The fault matrix harness: one rebalance per cell, a fault injected at a
named phase, then a rerun of the same id, then the invariants checked from
the simulated broker's state file and the ledger.

    python -m tests.reliability.fault_runner batch OUT.json PHASE:FAULT ...
    python -m tests.reliability.fault_runner child CELL_DIR RID PHASE   (kill -9 cells)

How a fault reaches the code (nothing in lib/ reads an environment variable
for it; production runs are untouched):

* between steps (targets_loaded, netted, planned, analytics, alerts) the
  runner calls the hook itself, as it drives the pipeline functions in the
  order flows/rebalance.py does;
* inside supervision: the existing ``checkpoint`` seam of
  :func:`lib.supervisor.supervise` (``after_submit`` -> submitted_before_ack,
  ``mid_fills`` -> partially_filled), and two thin proxies the runner puts
  on the Runtime: the ledger proxy fires ``order_row_written`` after the
  first write-ahead order row and ``filled_before_persist`` before the first
  fill is committed; the broker proxy fires ``acked`` when a status poll
  first returns one of the rebalance's orders acknowledged (any status but
  PendingSubmit), before the order manager sees it. The simulator acks and
  fills a marketable order in the same step, so at ``acked`` the broker may
  already hold fills this process has not seen yet.

Faults: ``kill9`` (the child prints FAULT_REACHED and blocks; the parent sends
SIGKILL), ``broker_disconnect`` (SimBroker raises BrokerDisconnected until
DISCONNECT_SECONDS of virtual time have passed), ``reject_storm`` (every new
order rejected by the broker for the rest of the run), ``bad_quotes`` (crossed
quotes on half the symbols, stale on the others, for the rest of the run),
``db_unavailable`` (another connection holds an EXCLUSIVE transaction on the
SQLite ledger for the rest of the run; the busy timeout is cut to
DB_BUSY_TIMEOUT_SECONDS so the wait is short), ``notify_down`` (the capture
server answers HTTP 500 for the rest of the run).

The fault run mirrors the Prefect flow: the execute step is retried twice on
a transient broker error (its task retries), a raised error or a Failed final
state sends the flow's failure alert (its on_failure hook). Alerts go through
apprise ``json://`` to a capture server in the batch process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import traceback
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
E2E = ROOT / "tests" / "e2e"

PHASES = ("targets_loaded", "netted", "planned", "order_row_written", "submitted_before_ack",
          "acked", "partially_filled", "filled_before_persist", "analytics", "alerts")
FAULTS = ("kill9", "broker_disconnect", "reject_storm", "bad_quotes", "db_unavailable",
          "notify_down")
_P = dict(zip(PHASES, ("tl", "nt", "pl", "ow", "sb", "ak", "pf", "fp", "an", "al"), strict=True))
_F = dict(zip(FAULTS, ("k9", "dc", "rj", "mq", "db", "nd"), strict=True))

_AFTER_SUPERVISION = ("analytics", "alerts")
#: (phase, fault) -> why the fault cannot apply there (reported as n/a).
NOT_APPLICABLE: dict[tuple[str, str], str] = {
    ("alerts", "broker_disconnect"): "no broker call is made in the alerts phase",
    **{(p, "reject_storm"): "no order is sent after supervision" for p in _AFTER_SUPERVISION},
    ("alerts", "bad_quotes"): "no quote is read in the alerts phase",
    **{(p, "notify_down"): "no notification is sent before the alerts phase (see the alerts cell)"
       for p in PHASES if p != "alerts"},
}

# Net intents of targets_small.yaml and the sleeve books after one full run.
EXPECTED = {"SPY": 2000, "TLT": 3000, "ES": 2, "DIS": 8000, "relval.QQQ": 600, "relval.IWM": 1400}
BOOKS = {("trend", "ES"): 2, ("trend", "SPY"): 3000, ("trend", "TLT"): -1000,
         ("carry", "SPY"): -1000, ("carry", "TLT"): 4000, ("value", "DIS"): 8000,
         ("relval", "QQQ"): 600, ("relval", "IWM"): -1400}
SLEEVES = ("trend", "carry", "value", "relval")
CROSSED = ("SPY", "TLT", "ES")
STALE = ("DIS", "QQQ", "IWM")

DISCONNECT_SECONDS = 20.0  # virtual seconds the broker stays disconnected
DB_BUSY_TIMEOUT_SECONDS = 0.3  # wall seconds a ledger write waits on the lock
KILL_EXIT = -signal.SIGKILL
#: Every cell trades the same virtual session (10:30 New York on a regular
#: Tuesday), whatever day the matrix runs: outcomes do not depend on the date.
SIM_START = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def rebalance_id(phase: str, fault: str) -> str:
    return f"fm-{_P[phase]}-{_F[fault]}"


# ----------------------------------------------------------------- capture server
class Capture:
    """Local HTTP endpoint for apprise ``json://``; ``down`` answers 500."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.down = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    msg = json.loads(body)
                except ValueError:
                    msg = {"raw": body.decode(errors="replace")}
                (outer.refused if outer.down else outer.received).append(msg)
                self.send_response(500 if outer.down else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/alerts"

    def for_rid(self, rid: str) -> list[dict[str, Any]]:
        return [m for m in self.received if rid in str(m.get("title", ""))]


# ----------------------------------------------------------------- proxies
class _LedgerProxy:
    def __init__(self, inner: Any, fire: Callable[[str], None]) -> None:
        self._inner, self._fire = inner, fire
        self._rows = self._fills = 0

    def record_order(self, *a: Any, **kw: Any) -> Any:
        out = self._inner.record_order(*a, **kw)
        self._rows += 1
        if self._rows == 1:
            self._fire("order_row_written")
        return out

    def record_fill(self, *a: Any, **kw: Any) -> Any:
        self._fills += 1
        if self._fills == 1:
            self._fire("filled_before_persist")
        return self._inner.record_fill(*a, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _BrokerProxy:
    def __init__(self, inner: Any, rid: str, fire: Callable[[str], None]) -> None:
        self._inner, self._rid, self._fire = inner, rid, fire
        self._acked = False

    def _seen(self, updates: Any) -> None:
        from lib.brokers.base import BrokerOrderStatus

        if self._acked:
            return
        for u in updates:
            if (u.client_order_id.startswith(self._rid + ":")
                    and u.status is not BrokerOrderStatus.PENDING_SUBMIT):
                self._acked = True
                self._fire("acked")
                return

    def get_order_statuses(self, ids: Any) -> Any:
        out = self._inner.get_order_statuses(ids)
        self._seen(out.values())
        return out

    def get_order_status(self, coid: str) -> Any:
        out = self._inner.get_order_status(coid)
        self._seen([out])
        return out

    def get_open_orders(self) -> Any:
        out = self._inner.get_open_orders()
        self._seen(out)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


# ----------------------------------------------------------------- one run
def _params(rid: str, cell: Path) -> Any:
    from lib.params import RebalanceParams

    return RebalanceParams(
        targets=str(E2E / "targets_small.yaml"), settings=str(E2E / "settings_small.yaml"),
        rebalance_id=rid, sim_state=str(cell / "broker.json"), sim_start=SIM_START,
    )


def _db_url(cell: Path) -> str:
    return f"sqlite:///{cell / 'ledger.sqlite'}"


def run_flow(rid: str, cell: Path, fire: Callable[[str], None] | None = None) -> str:
    """One rebalance through the pipeline, in the order of flows/rebalance.py.
    Returns the outcome name; raises what the flow would raise."""
    from lib import pipeline as P
    from lib.errors import BrokerTransientError
    from lib.notify import Notifier, failure_message
    from lib.runtime import open_runtime

    hook = fire or (lambda _p: None)
    rt = open_runtime(_params(rid, cell), database_url=_db_url(cell))
    try:
        if fire is not None:
            if isinstance(fire, Injector):
                fire.rt = rt
            rt.ledger = _LedgerProxy(rt.ledger, hook)  # type: ignore[assignment]
            rt.broker = _BrokerProxy(rt.broker, rid, hook)  # type: ignore[assignment]
        prepared = P.prepare_trades(rt)
        hook("targets_loaded")
        gate = P.gate_sessions(rt, prepared)
        netting = P.net_trades(rt, prepared, gate)
        hook("netted")
        legs = [leg for p in gate.pairs for leg in p.legs]
        intents = [*netting.net_intents, *legs]
        ctx = P.market_context(rt, intents)
        risk = P.pre_trade_risk(rt, intents, ctx)
        plans = P.make_plans(rt, risk.approved, ctx)
        hook("planned")
        blocks = [*risk.blocks, *plans.blocks]

        def checkpoint(name: str) -> None:
            if name == "after_submit":
                hook("submitted_before_ack")
            elif name == "mid_fills":
                hook("partially_filled")

        for attempt in range(3):  # the execute task's retries=2 on transient errors
            try:
                report = P.execute(rt, plans.plans, gate.pairs, checkpoint=checkpoint)
                break
            except BrokerTransientError:
                if attempt == 2:
                    raise
        P.allocate(rt, netting, legs, report, prepared.prices)
        hook("analytics")
        run = P.analyse(rt, report.results, netting, ctx.snapshots, dict(prepared.prices))
        hook("alerts")
        sent = P.send_alerts(rt, run, blocks, rejected=plans.rejected)
        P.export_metrics(rt, report.results, plans.plans, netting, blocks,
                         dict(plans.reject_reasons))
        outcome = P.run_outcome(
            intents=len(intents), plans=len(plans.plans), blocks=[*blocks, *report.blocks],
            rejected=len(plans.rejected), deferred=len(gate.deferred), results=report.results,
            undelivered=P.undelivered_alerts(sent))
        if outcome.failed:  # Failed final state -> the flow's on_failure hook
            Notifier.from_env().send(failure_message(rid, "flow", outcome.message))
        return outcome.name
    except Exception as exc:  # the flow's on_failure hook (not for user errors)
        from lib.errors import ConfigError, InputError, UnknownInstrument

        if not isinstance(exc, ConfigError | InputError | UnknownInstrument):
            Notifier.from_env().send(failure_message(rid, "flow", exc))
        raise


# ----------------------------------------------------------------- faults
class Injector:
    """Applies ``fault`` when ``phase`` is reached (once); undo() clears it."""

    def __init__(self, fault: str, phase: str, cell: Path, capture: Capture | None) -> None:
        self.fault, self.phase, self.cell, self.capture = fault, phase, cell, capture
        self.reached = False
        self._lock: sqlite3.Connection | None = None
        self.rt: Any = None  # the Runtime, set by run_flow

    def __call__(self, name: str) -> None:
        if name != self.phase or self.reached:
            return
        self.reached = True
        rt = self.rt
        broker = rt.broker._inner if isinstance(rt.broker, _BrokerProxy) else rt.broker
        f = self.fault
        if f == "kill9":
            print(f"FAULT_REACHED {name}", flush=True)
            sys.stdin.readline()  # the parent sends SIGKILL now
            os._exit(99)  # parent gone: never continue
        elif f == "broker_disconnect":
            broker.faults.disconnect()
            until = rt.clock.now().timestamp() + DISCONNECT_SECONDS

            def reconnect(_start: datetime, end: datetime) -> None:
                if end.timestamp() >= until:
                    broker.faults.reconnect()
            rt.clock.subscribe(reconnect)  # type: ignore[attr-defined]
        elif f == "reject_storm":
            broker.faults.random_rejects(1.0)
        elif f == "bad_quotes":
            for s in CROSSED:
                broker.faults.crossed_quotes(s)
            for s in STALE:
                broker.faults.stale_quotes(s)
        elif f == "db_unavailable":
            self._lock = sqlite3.connect(self.cell / "ledger.sqlite", timeout=5, isolation_level=None)
            self._lock.execute("BEGIN EXCLUSIVE")
        elif f == "notify_down":
            assert self.capture is not None
            self.capture.down = True

    def undo(self) -> None:
        if self._lock is not None:
            self._lock.execute("ROLLBACK")
            self._lock.close()
            self._lock = None
        if self.capture is not None:
            self.capture.down = False


def _clear_broker_faults(cell: Path) -> None:
    """What the fault left switched on in the broker's state file goes off
    (the broker 'recovers'); its book is untouched."""
    state = cell / "broker.json"
    if not state.exists():
        return
    st = json.loads(state.read_text())
    from lib.sim.faults import Faults

    clean = Faults(lambda s: None)  # type: ignore[arg-type,return-value]
    st["sim"]["faults"] = clean.to_state()
    state.write_text(json.dumps(st, separators=(",", ":")))


# ----------------------------------------------------------------- invariants
def check(rid: str, cell: Path) -> dict[str, str]:
    """Invariant name -> '' when it holds, else what was measured."""
    from lib.brokers.sim import SimBroker
    from lib.clock import VirtualClock
    from lib.store import LedgerRepository, make_engine, make_session_factory
    from lib.supervisor import parse_client_order_id

    out: dict[str, str] = {}
    state = cell / "broker.json"
    saved = json.loads(state.read_text())["sim"]
    clock = VirtualClock(datetime.fromisoformat(saved["epoch"]).astimezone(UTC))
    clock.advance(float(saved["now_s"]))
    broker = SimBroker(clock, None, None, state)
    execs = broker.get_executions(f"{rid}:")
    executed: dict[str, int] = defaultdict(int)
    for f in execs:
        parsed = parse_client_order_id(rid, f.client_order_id)
        executed[parsed[0] if parsed else f"?{f.client_order_id}"] += f.quantity
    over = {k: q for k, q in executed.items() if q > EXPECTED.get(k, 0)}
    out["no_overfill"] = f"executed beyond quantity: {over}" if over else ""
    short = {k: (executed.get(k, 0), q) for k, q in EXPECTED.items() if executed.get(k, 0) != q}
    working = [o.client_order_id for o in broker.get_open_orders() if o.client_order_id.startswith(rid)]
    out["nothing_working"] = f"left working at the broker: {working}" if working else ""
    engine = make_engine(_db_url(cell))
    try:
        repo = LedgerRepository(make_session_factory(engine), clock)
        ledger_ids = [f.exec_id for f in repo.fills_for_rebalance(rid)]
        broker_ids = [f.exec_id for f in execs]
        dup = sorted({i for i in ledger_ids if ledger_ids.count(i) > 1})
        missing = sorted(set(broker_ids) - set(ledger_ids))
        extra = sorted(set(ledger_ids) - set(broker_ids))
        bad = [s for s, v in (("duplicated", dup), ("missing", missing), ("not at broker", extra)) if v]
        out["exec_ids_once"] = "; ".join(
            f"{s}: {v}" for s, v in (("duplicated", dup), ("missing", missing),
                                    ("not at broker", extra)) if v) if bad else ""
        open_rows = [o.client_order_id for o in repo.open_orders_for_rebalance(rid)]
        out["ledger_settled"] = f"ledger orders still open: {open_rows}" if open_rows else ""
        books = {(s, sym): q for s in SLEEVES for sym, q in repo.sleeve_positions(s).items() if q}
        per_symbol: dict[str, int] = defaultdict(int)
        for (_s, sym), q in books.items():
            per_symbol[sym] += q
        positions = broker.get_positions()
        summed = {k: v for k, v in per_symbol.items() if v}
        out["books_equal_broker"] = (
            f"sum of sleeve books {summed} != broker positions {positions}" if summed != positions else "")
        wrong = {k: (books.get(k, 0), q) for k, q in BOOKS.items() if books.get(k, 0) != q}
        out["complete"] = "; ".join(x for x in (
            f"executed != intended (executed, intended): {short}" if short else "",
            f"sleeve books != targets (book, target): {wrong}" if wrong else "") if x)
    finally:
        engine.dispose()
    return out


# ----------------------------------------------------------------- cells
def _new_cell(base: Path, template: Path, rid: str) -> Path:
    cell = base / rid
    cell.mkdir()
    shutil.copy(template, cell / "ledger.sqlite")
    return cell


def run_cell(phase: str, fault: str, base: Path, template: Path, capture: Capture) -> dict[str, Any]:
    from lib.runtime import clear_runtimes

    rid = rebalance_id(phase, fault)
    res: dict[str, Any] = {"phase": phase, "fault": fault, "rebalance_id": rid}
    if (phase, fault) in NOT_APPLICABLE:
        return {**res, "outcome": "n/a", "reason": NOT_APPLICABLE[(phase, fault)]}
    cell = _new_cell(base, template, rid)
    clear_runtimes()
    refused_before, received_before = len(capture.refused), len(capture.received)
    injector = Injector(fault, phase, cell, capture)
    if fault == "kill9":
        reached, first = _kill_child(rid, cell, phase, capture.url)
    else:
        try:
            first = f"completed {run_flow(rid, cell, injector)}"
        except Exception as exc:
            first = f"raised {type(exc).__name__}: {str(exc)[:200]}"
        finally:
            injector.undo()
        reached = injector.reached
    res["fault_run"] = first
    res["reached"] = reached
    if not reached:
        return {**res, "outcome": "defect", "failed": {"phase_reached": "the phase was never reached"}}
    lost = capture.refused[refused_before:]
    during = capture.received[received_before:]  # delivered while the fault run lasted
    alerts_seen = len(capture.for_rid(rid))
    alerts_before = len([m for m in capture.for_rid(rid) if m.get("type") in ("warning", "failure")])
    _clear_broker_faults(cell)
    clear_runtimes()
    try:
        res["rerun"] = f"completed {run_flow(rid, cell)}"
    except Exception as exc:
        res["rerun"] = f"raised {type(exc).__name__}: {str(exc)[:300]}"
    clear_runtimes()
    failed = {k: v for k, v in check(rid, cell).items() if v}
    if not res["rerun"].startswith("completed"):
        failed["rerun_completes"] = res["rerun"]
    # The failure alerted: a run that did not end Completed sent a warning or
    # failure alert; a notification that could not be delivered was retried
    # or the run said so.
    # A run whose every order completed but whose alerts were refused after its
    # retries ends AlertsUndelivered: it said so (its final state, ERROR log).
    said_so = first == "completed AlertsUndelivered"
    clean = first == "completed Completed" or said_so
    # A run that died without its failure hook (kill -9) is reported by the
    # rerun: one warning naming the attempt that did not finish.
    reported_by_rerun = [m for m in capture.for_rid(rid)[alerts_seen:]
                         if m.get("type") == "warning" and "did not finish" in str(m.get("title"))]
    if not clean and alerts_before == 0 and not reported_by_rerun:
        failed["failure_alerted"] = f"fault run {first!r}: no warning/failure alert for {rid}"
    if lost and clean and not said_so:
        titles = [m.get("title") for m in lost]
        delivered = {m.get("title") for m in during}
        if not any(t in delivered for t in titles):
            failed["failure_alerted"] = (f"{len(lost)} alert(s) refused (HTTP 500): {titles}; "
                                         "the run ended Completed, never retried or reported")
    res["alerts"] = [f"{m.get('type')}: {m.get('title')}" for m in capture.for_rid(rid)]
    res["failed"] = failed
    res["outcome"] = "defect" if failed else "ok"
    return res


def _kill_child(rid: str, cell: Path, phase: str, url: str) -> tuple[bool, str]:
    """The fault run in a child; SIGKILL from here when it reports the phase."""
    env = {**os.environ, "EXEC_APPRISE_URLS": url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.fault_runner", "child", str(cell), rid, phase],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    reached = False
    for line in proc.stdout:
        if line.startswith("FAULT_REACHED"):
            reached = True
            os.kill(proc.pid, signal.SIGKILL)
            break
    rc = proc.wait(timeout=300)
    err = proc.stderr.read() if proc.stderr else ""
    if not reached:
        return False, f"child exited {rc} before {phase}: {err[-500:]}"
    return rc == KILL_EXIT, f"killed (SIGKILL) at {phase}, rc {rc}"


def batch(out: Path, cells: list[tuple[str, str]]) -> list[dict[str, Any]]:
    import lib.store.db as db
    from lib.store import make_engine, upgrade_to_head

    db.SQLITE_BUSY_TIMEOUT_SECONDS = DB_BUSY_TIMEOUT_SECONDS
    capture = Capture()
    os.environ["EXEC_APPRISE_URLS"] = capture.url
    base = Path(tempfile.mkdtemp(prefix="faultmatrix-"))
    os.environ["EXEC_VAR_DIR"] = str(base / "var")
    template = base / "template.sqlite"
    engine = make_engine(f"sqlite:///{template}")
    upgrade_to_head(engine)
    engine.dispose()
    results = []
    for phase, fault in cells:
        try:
            results.append(run_cell(phase, fault, base, template, capture))
        except Exception:
            results.append({"phase": phase, "fault": fault, "outcome": "defect",
                            "failed": {"harness": traceback.format_exc()[-1500:]}})
        out.write_text(json.dumps(results, indent=1))
    shutil.rmtree(base, ignore_errors=True)
    return results


def all_cells() -> list[tuple[str, str]]:
    return [(p, f) for f in FAULTS for p in PHASES]


def run_matrix(workers: int = 2, cells: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """Every cell, split over ``workers`` batch processes; results in matrix order."""
    todo = [c for c in (cells or all_cells()) if c not in NOT_APPLICABLE]
    na = [{"phase": p, "fault": f, "rebalance_id": rebalance_id(p, f), "outcome": "n/a",
           "reason": NOT_APPLICABLE[(p, f)]} for p, f in (cells or all_cells()) if (p, f) in NOT_APPLICABLE]
    tmp = Path(tempfile.mkdtemp(prefix="faultmatrix-out-"))
    procs = []
    for w in range(workers):
        mine = todo[w::workers]
        if not mine:
            continue
        out = tmp / f"w{w}.json"
        cmd = [sys.executable, "-m", "tests.reliability.fault_runner", "batch", str(out),
               *(f"{p}:{f}" for p, f in mine)]
        procs.append((subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True), out, mine))
    results = list(na)
    for proc, out, mine in procs:
        _, err = proc.communicate(timeout=1800)
        got = json.loads(out.read_text()) if out.exists() else []
        done = {(r["phase"], r["fault"]) for r in got}
        results.extend(got)
        for p, f in mine:
            if (p, f) not in done:
                results.append({"phase": p, "fault": f, "outcome": "defect",
                                "failed": {"harness": f"batch exited {proc.returncode}: {err[-1500:]}"}})
    shutil.rmtree(tmp, ignore_errors=True)
    order = {c: i for i, c in enumerate(all_cells())}
    return sorted(results, key=lambda r: order[(r["phase"], r["fault"])])


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "child":
        import lib.store.db as _db

        _db.SQLITE_BUSY_TIMEOUT_SECONDS = DB_BUSY_TIMEOUT_SECONDS
        cell_dir, rid_arg, phase_arg = Path(sys.argv[2]), sys.argv[3], sys.argv[4]
        print(run_flow(rid_arg, cell_dir, Injector("kill9", phase_arg, cell_dir, None)), flush=True)
    elif mode == "batch":
        specs = [tuple(s.split(":", 1)) for s in sys.argv[3:]]
        batch(Path(sys.argv[2]), [(p, f) for p, f in specs])
    else:
        raise SystemExit(f"unknown mode {mode!r}")

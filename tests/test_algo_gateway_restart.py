"""The algo gateway (``gateway run sessions/algo.yaml``) in front of a venue, as real
processes: its kill switch (SIGUSR1) stops the parents and cancels their children at the
venue; a clean stop (SIGTERM) does the same before it logs out; and a restart after a crash
(SIGKILL) cancels the children of the parents it lost at the venue, reports to the clients
what those children filled meanwhile, and each parent Canceled once its children are
accounted for (Pending Cancel until then)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from gateway.algo_restart import RESTART_TEXT, StoredChild, restart_cancel_id, stored_children
from gateway.store import FileStore, StoredMessage
from tests.conformance.harness import Client
from tests.fixpeer import Peer, fields
from tests.gateway_proc import start_gateway, stop_gateway

ROOT = Path(__file__).resolve().parents[1]
FINAL = ("2", "4", "8", "C")  # OrdStatus filled, canceled, rejected, expired


def test_the_upstream_store_tells_the_children_a_restart_must_cancel() -> None:
    """Every child NewOrderSingle sent (ClOrdID <parent>.<n>), with the number of
    restart-cancels earlier restarts sent for it (the next one's ClOrdID must differ: the
    venue refuses a ClOrdID used before); the runners' own cancels (~c) do not count."""
    peer = Peer(begin="FIX.4.4", sender="CLIENT1", target="VENUE")
    sent = ["35=D|11=P-A1.1|55=AMZN|54=1|38=10|40=2|44=9|59=0",
            "35=D|11=P-A1.2|55=AMZN|54=1|38=10|40=2|44=9|59=0",
            "35=F|11=P-A1.2~c|41=P-A1.2|55=AMZN|54=1",
            "35=D|11=P-A2.1|55=INTC|54=2|38=10|40=1|59=3",
            "35=F|11=P-A2.1~r|41=P-A2.1|55=INTC|54=2",
            "35=F|11=P-A2.1~r2|41=P-A2.1|55=INTC|54=2",
            "35=V|262=md|263=1|264=5"]
    got = stored_children(StoredMessage(seq, peer.msg(body, seq=seq))
                          for seq, body in enumerate(sent, 1))
    assert got == [StoredChild("P-A1.1", "P-A1", "AMZN", "1"),
                   StoredChild("P-A1.2", "P-A1", "AMZN", "1"),
                   StoredChild("P-A2.1", "P-A2", "INTC", "2", restarts=2)]
    assert [restart_cancel_id(c.child_id, c.restarts + 1) for c in got] == [
        "P-A1.1~r", "P-A1.2~r", "P-A2.1~r3"]


def algo_config(tmp_path: Path, venue_port: int) -> Path:
    cfg = yaml.safe_load((ROOT / "sessions/algo.yaml").read_text())
    for s in cfg["sessions"]:
        if s["role"] == "initiator":
            s["port"] = venue_port
            s["reconnect"] = {"initial_delay": 0.1}
    path = tmp_path / "algo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@contextmanager
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """The gateway processes a test starts, killed at the end whatever happened."""
    procs: list[subprocess.Popen[str]] = []
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def until(c: Client, match: Callable[[dict[int, str]], bool], timeout: float = 10
          ) -> dict[int, str]:
    """The first message from the gateway that ``match`` accepts (the others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        raw = c._next_raw(max(0.01, deadline - time.monotonic()))
        assert raw is not None, "the gateway disconnected"
        got = fields(raw)
        if match(got):
            return got


def audit_records(run_dir: Path, event: str) -> list[dict[str, object]]:
    path = run_dir / "audit.jsonl"
    if not path.exists():
        return []
    return [r for line in path.read_text().splitlines()
            if (r := json.loads(line)).get("event") == event]


def wait_for_audit(run_dir: Path, event: str, match: Callable[[dict[str, object]], bool],
                   timeout: float = 10) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in audit_records(run_dir, event) if match(r)]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no {event} record in time"
        time.sleep(0.1)


def sell_ioc(seller: Client, cl: str, qty: int) -> dict[int, str]:
    """An IOC sell of ``qty`` AMZN at 99.99 on the venue; its last report."""
    seller.msg(f"35=D|11={cl}|54=2|38={qty}|40=2|44=99.99|55=AMZN|59=3|60={seller.ts()}")
    return until(seller, lambda m: m[35] == "8" and m.get(11) == cl and m.get(39) in FINAL)


def working_parent(venue_port: int, algo_port: int) -> tuple[Client, Client, str]:
    """A seller on the venue (asks 300 AMZN at 100.00) and a client of the algo gateway
    whose TWAP parent P (buy 1000, an hour, 2 slices) has a child bidding 99.99 at the
    venue, 100 of it filled by the seller; the parent's OrderID."""
    seller = Client(venue_port, "CLIENT2", our_comp_id="VENUE")
    seller.logon(extra="|141=Y")
    seller.msg(f"35=D|11=S0|54=2|38=300|40=2|44=100.00|55=AMZN|59=0|60={seller.ts()}")
    seller.expect("8", **{"11": "S0", "150": "0"})
    client = Client(algo_port, "CLIENT2", our_comp_id="ALGO")
    client.logon(extra="|141=Y")
    # the algo gateway refuses parents until its venue link is up, which on a loaded
    # machine may come after this client's logon: ask again until it takes the parent
    deadline = time.monotonic() + 10
    while True:
        client.msg(f"35=D|11=P|54=1|38=1000|40=2|44=100.05|55=AMZN|59=0|60={client.ts()}|"
                   f"847=1001|848=Slices=2|168={client.ts()}|126={client.ts(3600)}")
        answer = client.expect("8", timeout=10, **{"11": "P"})
        if answer[150] == "0":
            break
        assert "not logged on" in answer[58] and time.monotonic() < deadline, answer
        time.sleep(0.1)
    order_id = answer[37]
    # the bid side is empty: the child bids one tick inside the ask, and rests there
    deadline = time.monotonic() + 10
    while sell_ioc(seller, f"S{time.monotonic_ns()}", 100).get(14) != "100":
        assert time.monotonic() < deadline, "the child never reached the venue"
        time.sleep(0.1)
    fill = client.expect("8", timeout=10, **{"11": "P", "150": "F"})
    assert (fill[14], fill[39]) == ("100", "1")
    return seller, client, order_id


@dataclass
class Chain:
    """The venue and the algo gateway in front of it, as processes (in ``procs``)."""

    venue: subprocess.Popen[str]
    venue_port: int
    algo: subprocess.Popen[str]
    algo_port: int
    algo_config: Path


def start_chain(tmp_path: Path, procs: list[subprocess.Popen[str]]) -> Chain:
    """``gateway run sessions/venue.yaml`` (run folder ``venue``) and the algo gateway in
    front of it (run folder ``algo``)."""
    venue, venue_port = start_gateway(ROOT / "sessions/venue.yaml", tmp_path / "venue")
    procs.append(venue)
    config = algo_config(tmp_path, venue_port)
    algo, algo_port = start_gateway(config, tmp_path / "algo")
    procs.append(algo)
    return Chain(venue, venue_port, algo, algo_port, config)


def stopped_parent(chain: Chain, signum: signal.Signals, text: str
                   ) -> tuple[Client, Client]:
    """A working parent (:func:`working_parent`), then ``signum`` to the algo gateway: the
    parent ends Canceled with ``text``, its 100 filled, once its child's cancel is answered
    by the venue. The seller and the client."""
    seller, client, _ = working_parent(chain.venue_port, chain.algo_port)
    chain.algo.send_signal(signum)
    done = client.expect("8", timeout=10, **{"11": "P", "150": "4", "39": "4"})
    assert text in done[58] and done[14] == "100"
    return seller, client


def test_sigusr1_stops_the_parents_and_cancels_their_children(tmp_path: Path) -> None:
    with processes() as procs:
        chain = start_chain(tmp_path, procs)
        algo, venue = chain.algo, chain.venue
        seller, client = stopped_parent(chain, signal.SIGUSR1, "kill switch: SIGUSR1")
        # the child is gone from the venue's book: a sell at its price finds no bid
        assert sell_ioc(seller, "S9", 50).get(14) == "0"
        # new parents are refused
        client.msg(f"35=D|11=P2|54=1|38=100|40=2|44=100.05|55=AMZN|59=0|60={client.ts()}|"
                   f"847=1001|168={client.ts()}|126={client.ts(60)}")
        assert "kill switch" in client.expect("8", **{"11": "P2", "150": "8"})[58]
        # audited: each session's gate killed (the risk record's event is the reason), and
        # the parent's stop
        killed = [r["session"] for r in audit_records(tmp_path / "algo", "SIGUSR1")
                  if r.get("event_") == "kill_switch"]
        assert sorted(killed) == ["FIX.4.4:ALGO->CLIENT1", "FIX.4.4:ALGO->CLIENT2"]
        assert audit_records(tmp_path / "algo", "parent_stopping")
        seller.close()
        client.close()
        assert stop_gateway(algo) == 0
        assert stop_gateway(venue) == 0


def test_a_clean_stop_cancels_the_parents_and_their_children_before_it_logs_out(
        tmp_path: Path) -> None:
    """SIGTERM: the parent is stopped, its child cancelled at the venue and the parent
    reported Canceled to its client while the sessions are up; then the Logout, exit 0.
    Nothing is left for a restart (it had left the child bidding at the venue, unwatched)."""
    with processes() as procs:
        chain = start_chain(tmp_path, procs)
        algo, venue = chain.algo, chain.venue
        seller, client = stopped_parent(chain, signal.SIGTERM, "gateway stopping")
        client.expect("5", timeout=10)  # then the Logout
        client.msg("35=5")
        assert algo.wait(15) == 0
        assert sell_ioc(seller, "S7", 50).get(14) == "0"  # no child bids at the venue
        client.close()
        seller.close()
        assert stop_gateway(venue) == 0


def orphan_filled(chain: Chain, procs: list[subprocess.Popen[str]]
                  ) -> tuple[Client, str]:
    """A working parent (:func:`working_parent`, 100 of 1,000 filled), then a kill -9 of the
    algo gateway: its child, orphaned at the venue, fills 50 more there. The seller and the
    parent's OrderID."""
    seller, client, order_id = working_parent(chain.venue_port, chain.algo_port)
    client.close()
    # a client that logs on with ResetSeqNumFlag every time: the reset keeps the open
    # parent's last report in the gateway's store, for a restart to find
    client = Client(chain.algo_port, "CLIENT2", our_comp_id="ALGO")
    client.logon(extra="|141=Y")
    client.close()
    chain.algo.send_signal(signal.SIGKILL)
    chain.algo.wait(10)
    assert sell_ioc(seller, "S5", 50).get(14) == "50"
    return seller, order_id


def restarted(chain: Chain, procs: list[subprocess.Popen[str]], run: Path,
              order_id: str) -> tuple[subprocess.Popen[str], int]:
    """The algo gateway started again on its run folder, once the venue has answered the
    restart-cancel of the lost parent's child (it goes out once the venue link is up)."""
    algo, port = start_gateway(chain.algo_config, run)
    procs.append(algo)
    wait_for_audit(run, "lost_child", lambda r: r.get("cl_ord_id") == f"{order_id}.1~r"
                   and r.get("status") == "4")
    return algo, port


def requests_after_the_end(client: Client, order_id: str) -> None:
    """The lost parent's ClOrdID is still the day's: a copy of its NewOrderSingle resent as
    PossDup is not acted on (nor refused: a reject under P would say P was rejected), a new
    parent may not reuse it, nor may a cancel; a cancel is too late (or of an unknown order
    if its OrderID is another's); a status request answers its last state (150 filled,
    Canceled)."""
    parent = (f"35=D|11=P|54=1|38=100|40=2|44=100.05|55=AMZN|59=0|60={client.ts()}|"
              f"847=1001|168={client.ts()}|126={client.ts(60)}")
    client.msg(parent, header="43=Y|122=" + client.ts())
    client.msg("35=1|112=T1")
    client.expect("0", **{"112": "T1"})  # the PossDup copy had no answer
    client.msg(parent)
    client.expect("8", **{"11": "P", "150": "8", "103": "6"})
    client.msg(f"35=F|11=P|41=P|54=1|55=AMZN|60={client.ts()}")
    client.expect("9", **{"11": "P", "41": "P", "102": "6", "39": "4", "37": order_id})
    client.msg(f"35=F|11=C9|41=P|37=NOT-{order_id}|54=1|55=AMZN|60={client.ts()}")
    client.expect("9", **{"11": "C9", "102": "1"})
    client.msg(f"35=F|11=C|41=P|54=1|55=AMZN|60={client.ts()}")
    client.expect("9", **{"11": "C", "41": "P", "102": "0", "39": "4", "37": order_id})
    client.msg("35=H|11=P|54=1|55=AMZN|790=Q")
    client.expect("8", **{"11": "P", "150": "I", "39": "4", "14": "150", "790": "Q"})


def test_a_restarted_algo_gateway_reports_what_its_lost_parent_filled_then_cancels_it(
        tmp_path: Path) -> None:
    """After a kill -9 the parent cannot be resumed: the restart cancels its child at the
    venue, and the client, logging on after that (with a sequence reset), hears Pending
    Cancel, the fill the child made while the gateway was down (resent by the venue) and
    then the parent Canceled, CumQty 150: what was bought for it, not the 100 it had heard
    of before the crash."""
    run = tmp_path / "algo"
    with processes() as procs:
        chain = start_chain(tmp_path, procs)
        seller, order_id = orphan_filled(chain, procs)
        algo, algo_port = restarted(chain, procs, run, order_id)
        fill = wait_for_audit(run, "lost_child", lambda r: r.get("exec_type") == "F")
        assert (fill["cl_ord_id"], fill["last_qty"], fill["orphan"]) == (
            f"{order_id}.1", 50, order_id)
        assert sell_ioc(seller, "S6", 50).get(14) == "0"  # no child bids there any more

        # what the client missed while it was away (sent then, discarded by its reset)
        client = Client(algo_port, "CLIENT2", our_comp_id="ALGO")
        client.logon(extra="|141=Y")
        client.expect("8", timeout=10, **{"11": "P", "150": "6", "39": "6", "14": "100"})
        fill = client.expect("8", timeout=10, **{"11": "P", "150": "F"})
        assert (fill[32], fill[31], fill[14], fill[39], fill[151]) == (
            "50", "99.99", "150", "6", "850")
        lost = client.expect("8", timeout=10, **{"11": "P", "150": "4", "39": "4"})
        assert (lost[37], lost[14], lost[151], lost[58]) == (order_id, "150", "0",
                                                            RESTART_TEXT)
        requests_after_the_end(client, order_id)
        client.close()
        seller.close()
        assert stop_gateway(algo) == 0
        assert stop_gateway(chain.venue) == 0
    # nothing was left for the warning line: every fill had its parent
    assert not audit_records(run, "unknown_child")


def uncommit(run: Path, child_id: str) -> int:
    """The upstream store of the killed algo gateway in ``run`` as a kill -9 leaves it
    between the handling of the venue's fill report of ``child_id`` and the commit of its
    inbound sequence number: the next number expected is the report's. That number."""
    (seq,) = [int(fields(str(r["raw"]).replace("|", "\x01").encode())[34])
              for r in audit_records(run, "in")
              if r.get("kind") == "msg" and f"|11={child_id}|" in str(r["raw"])
              and "|150=F|" in str(r["raw"])]
    store = FileStore(run / "store" / "FIX.4.4-CLIENT1-VENUE.store")
    try:
        assert store.next_target_seq > seq
        store.set_next_target_seq(seq)
    finally:
        store.close()
    return seq


def test_a_fill_reported_before_a_crash_is_not_counted_again_when_the_venue_resends_it(
        tmp_path: Path) -> None:
    """A kill -9 after the parent's fill report was stored but before the venue report's
    inbound sequence number was committed: the restart asks the venue for that report
    again and it comes back (PossDup). The client had heard of that fill: its parent ends
    Canceled with the CumQty it had, 100, not 200, and no second fill report."""
    run = tmp_path / "algo"
    with processes() as procs:
        chain = start_chain(tmp_path, procs)
        seller, client, order_id = working_parent(chain.venue_port, chain.algo_port)
        client.close()
        chain.algo.send_signal(signal.SIGKILL)
        chain.algo.wait(10)
        seq = uncommit(run, f"{order_id}.1")
        algo, algo_port = restarted(chain, procs, run, order_id)
        resent = wait_for_audit(run, "in", lambda r: r.get("kind") == "msg"
                                and r.get("seq") == seq and "|43=Y|" in str(r["raw"]))
        assert f"|11={order_id}.1|" in str(resent["raw"])
        client = Client(algo_port, "CLIENT2", our_comp_id="ALGO")
        client.logon(extra="|141=Y")
        pending = client.expect("8", timeout=10, **{"11": "P", "150": "6", "39": "6"})
        assert pending[14] == "100"
        end = until(client, lambda m: m[35] == "8" and m.get(150) in ("F", "4"))
        assert (end[150], end[14], end.get(58)) == ("4", "100", RESTART_TEXT)
        client.close()
        seller.close()
        assert stop_gateway(algo) == 0
        assert stop_gateway(chain.venue) == 0


def test_a_client_logging_on_before_the_venue_answers_sees_its_lost_parent_pending_cancel(
        tmp_path: Path) -> None:
    """The venue is stopped (SIGSTOP) while the algo gateway restarts: the client's parent
    is reported Pending Cancel at its logon (its child may still be filling), a cancel of it
    is refused as already pending, and its status says so; once the venue answers, the
    child's fill and the parent's end follow, under 39=6 until the Canceled."""
    run = tmp_path / "algo"
    with processes() as procs:
        chain = start_chain(tmp_path, procs)
        seller, order_id = orphan_filled(chain, procs)
        chain.venue.send_signal(signal.SIGSTOP)
        try:
            algo, algo_port = start_gateway(chain.algo_config, run)
            procs.append(algo)
            client = Client(algo_port, "CLIENT2", our_comp_id="ALGO")
            client.logon(extra="|141=Y")
            pending = client.expect("8", timeout=10, **{"11": "P", "150": "6", "39": "6"})
            assert (pending[37], pending[14], pending[151]) == (order_id, "100", "900")
            client.msg(f"35=F|11=C0|41=P|54=1|55=AMZN|60={client.ts()}")
            client.expect("9", **{"11": "C0", "41": "P", "102": "3", "39": "6"})
            client.msg("35=H|11=P|54=1|55=AMZN")
            client.expect("8", **{"11": "P", "150": "I", "39": "6", "14": "100"})
        finally:
            chain.venue.send_signal(signal.SIGCONT)
        fill = client.expect("8", timeout=15, **{"11": "P", "150": "F"})
        assert (fill[32], fill[14], fill[39], fill[151]) == ("50", "150", "6", "850")
        lost = client.expect("8", timeout=10, **{"11": "P", "150": "4", "39": "4"})
        assert (lost[14], lost[151], lost[58]) == ("150", "0", RESTART_TEXT)
        assert sell_ioc(seller, "S6", 50).get(14) == "0"
        requests_after_the_end(client, order_id)
        client.close()
        seller.close()
        assert stop_gateway(algo) == 0
        assert stop_gateway(chain.venue) == 0


def test_what_a_restart_reported_while_the_client_was_away_survives_another_crash(
        tmp_path: Path) -> None:
    """The reports a restart makes before the client logs on (the downtime fill, the end)
    are in the client session's store at once: a second kill -9 before the client's logon
    loses nothing, and the client, logging on without a reset, has them resent."""
    run = tmp_path / "algo"
    with processes() as procs:
        chain = start_chain(tmp_path, procs)
        seller, order_id = orphan_filled(chain, procs)
        algo, _ = restarted(chain, procs, run, order_id)
        time.sleep(0.3)  # the reports are written with the venue's answer; let it land
        algo.send_signal(signal.SIGKILL)
        algo.wait(10)
        algo, algo_port = start_gateway(chain.algo_config, run)
        procs.append(algo)
        # the client's last connection logged on with a reset (sequence 1) and left
        client = Client(algo_port, "CLIENT2", our_comp_id="ALGO")
        client.peer.seq = 2
        client.logon()
        client.msg("35=2|7=1|16=0")
        end = until(client, lambda m: m[35] == "8" and m.get(150) == "4", timeout=15)
        assert (end[11], end[14], end[39], end[58], end.get(43)) == (
            "P", "150", "4", RESTART_TEXT, "Y")
        client.close()
        seller.close()
        assert stop_gateway(algo) == 0
        assert stop_gateway(chain.venue) == 0

"""The EIS contract end to end through the real daemon (issue #11): the SOAP/WS-Security route and the
REST route over HTTPS on loopback, signed by the employee (G3); a training card never reaches an
endpoint that is production by its certificate, whatever the configuration says; the EIS operator's
request for the log history is answered with a signed export (R3.19)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.api.client import LaneClient
from app.eis import history
from tests.rig import IIN_OP, KEY_PASSWORD, Rig, run_to_card, start_key_rig, start_rig, wait_for
from tests.tls import make_server_tls

CAR = {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2}


async def _outbox(c: LaneClient, status: str, n: int = 1) -> bool:
    return (await c.call("GET", "/v1/state"))["outbox"].get(status, 0) == n


async def test_a_signed_card_travels_the_soap_route_over_https(tmp_path: Path) -> None:
    """G1, G3: transport = "soap": the card goes as XML in a SOAP envelope whose Body and Timestamp
    the employee signed (WS-Security); the simulator checks the server certificate's chain (HTTPS
    with the lane's eis.ca_file), the schema and the signature, and knows the signer."""
    tls = make_server_tls(tmp_path / "tls")
    rig = await start_key_rig(
        tmp_path / "home",
        eis_tls=tls.context(),
        eis_options=f'transport = "soap"\nca_file = "{tls.ca_file}"\n',
    )
    try:
        rig.eis.knobs["require_signature"] = 1.0  # an unsigned card would be refused
        c = await rig.client()
        await c.login_eds(str(rig.home / "usb" / "operator.p12"), KEY_PASSWORD)
        card = await run_to_card(c, CAR)
        await wait_for(lambda: _outbox(c, "accepted"), "EIS acceptance over SOAP", timeout=60)
        row = rig.eis.db.execute(
            "SELECT r.route, s.signer FROM cards c JOIN routes r ON r.key = c.key"
            " JOIN signatures s ON s.key = c.key WHERE c.card_id = ?",
            (card["card_id"],),
        ).fetchone()
        assert row == ("soap", f"IIN{IIN_OP}")
        admin = await rig.client("admin")
        trace = await admin.call("GET", f"/v1/eis/exchanges?card={card['card_id']}")
        assert trace[0]["route"] == "soap" and trace[0]["kind"] == "card" and trace[0]["http_status"] == 200
    finally:
        await rig.close()


async def test_an_unsigned_card_is_rejected_by_an_eis_that_wants_signatures(tmp_path: Path) -> None:
    """G3: a password session forms an unsigned card; an EIS that requires the employee's signature
    rejects it, and the lane marks it rejected with EIS's reason instead of retrying for ever."""
    rig = await start_rig(tmp_path / "home", eis_options='transport = "soap"\n')
    try:
        rig.eis.knobs["require_signature"] = 1.0
        c = await rig.client("operator")
        await run_to_card(c, CAR)
        await wait_for(lambda: _outbox(c, "rejected"), "the rejection", timeout=60)
        last = (await c.call("GET", "/v1/state"))["last_card"]
        assert last["eis"] == "rejected" and "not signed" in last["eis_error"]
        assert rig.eis.db.execute("SELECT count(*) FROM cards").fetchone() == (0,)
    finally:
        await rig.close()


async def test_a_server_the_lane_does_not_trust_gets_no_card(tmp_path: Path) -> None:
    """HTTPS: a server whose certificate does not chain to eis.ca_file is never sent the card (the
    identification key and personal data stay home); the card waits, with the reason."""
    good, other = make_server_tls(tmp_path / "good"), make_server_tls(tmp_path / "other")
    rig = await start_rig(
        tmp_path / "home", eis_tls=good.context(), eis_options=f'ca_file = "{other.ca_file}"\n'
    )
    try:
        c = await rig.client("operator")
        await run_to_card(c, CAR)

        async def said() -> bool:
            last = (await c.call("GET", "/v1/state"))["last_card"]
            return "certificate verify failed" in last["eis_error"].lower()

        await wait_for(said, "the certificate refusal", timeout=30)
        assert rig.eis.requests == 0 and (await c.call("GET", "/v1/state"))["last_card"]["eis"] == "pending"
    finally:
        await rig.close()


async def test_a_training_card_never_reaches_a_server_whose_certificate_is_production(tmp_path: Path) -> None:
    """Issue #11: the configuration says "test" and names 127.0.0.1, but the server's certificate
    names a state domain (eis.nitec.kz): the training card is refused, journalled, never sent."""
    tls = make_server_tls(tmp_path / "tls", dns=("eis.nitec.kz",))
    rig = await start_rig(
        tmp_path / "home", eis_tls=tls.context(), eis_options=f'ca_file = "{tls.ca_file}"\n'
    )
    try:
        c = await rig.client("operator")
        await run_to_card(c, CAR)
        await wait_for(lambda: _outbox(c, "refused"), "the refusal", timeout=30)
        assert rig.eis.db.execute("SELECT count(*) FROM cards").fetchone() == (0,)
        admin = await rig.client("admin")
        said = await admin.call("GET", "/v1/journal?action=eis_refused_training")
        assert said and said[0]["details"]["endpoint"].startswith("https://127.0.0.1")
    finally:
        await rig.close()


@pytest.mark.parametrize("transport", ["rest", "soap"])
async def test_the_eis_operator_gets_the_log_history_it_asks_for_signed(
    tmp_path: Path, transport: str
) -> None:
    """R3.19: EIS asks for the lane's journal of a period; the lane answers with the signed export
    of exactly that period; the simulator verifies chain and signature; the request is answered
    once, and the lane's public key (keys/lane-sign.key.pub) checks it offline too."""
    rig = await start_rig(tmp_path / "home", eis_options=f'poll_s = 0.2\ntransport = "{transport}"\n')
    try:
        c = await rig.client("operator")
        await c.logout()
        start, end = time.time() - 3600, time.time() + 5
        rid = await _ask(rig, start, end)

        async def answered() -> list[dict]:
            rows = rig.eis.db.execute("SELECT body FROM histories WHERE request = ?", (rid,)).fetchall()
            return [json.loads(b) for (b,) in rows]

        (doc,) = await wait_for(answered, "the log history", timeout=30)
        assert doc["request"] == rid and history.verify(doc) == []
        actions = [e["action"] for e in doc["entries"]]
        assert "daemon_started" in actions and "login" in actions and "logout" in actions
        assert all(start <= e["ts"] < end for e in doc["entries"])
        pub = rig.home / "keys" / "lane-sign.key.pub"
        (rig.home / "export.json").write_text(json.dumps(doc))
        ok = subprocess.run(
            [sys.executable, "-m", "app.cli", "journal", "verify", "export.json", "--public-key", str(pub)],
            cwd=rig.home,
            capture_output=True,
            text=True,
            check=False,
        )
        assert ok.returncode == 0, ok.stdout + ok.stderr
        admin = await rig.client("admin")
        await wait_for(lambda: admin.call("GET", "/v1/journal?action=eis_log_sent"), "the journal entry")
        # further polls must not answer the same request again
        polls = rig.eis.requests
        await wait_for(lambda: _more_polls(rig, polls + 3), "three more polls")
        assert rig.eis.db.execute("SELECT count(*) FROM histories").fetchone() == (1,)
        assert len(await admin.call("GET", "/v1/journal?action=eis_log_sent")) == 1
    finally:
        await rig.close()


async def _ask(rig: Rig, start: float, end: float) -> str:
    import aiohttp

    url = rig.cfg.eis["url"]
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{url}/control/log-request", json={"from": start, "to": end}) as r,
    ):
        return str((await r.json())["id"])


async def _more_polls(rig: Rig, n: int) -> bool:
    return rig.eis.requests >= n


async def test_the_admin_exports_the_journal_of_a_period(tmp_path: Path) -> None:
    """R3.19: the admin exports a period from the daemon: a 0600 file in eis.exports_dir that
    ``otolane journal verify`` accepts; an entry changed in the file is found and named."""
    rig = await start_rig(tmp_path / "home")
    try:
        admin = await rig.client("admin")
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
        got = await admin.call("POST", "/v1/journal/export", {"from": "2000-01-01", "to": day})
        path = Path(got["file"])
        assert path.parent == rig.home / "exports" and path.stat().st_mode & 0o777 == 0o600
        doc = json.loads(path.read_text())
        assert got["entries"] == len(doc["entries"]) > 0 and history.verify(doc) == []
        doc["entries"][0]["actor"] = "someone-else"
        assert any("entries[0]: its hash" in p for p in history.verify(doc))
        exported = await admin.call("GET", "/v1/journal?action=journal_exported")
        assert exported[0]["details"]["file"] == path.name
    finally:
        await rig.close()


@pytest.mark.parametrize("fault", ["unavailable", "garbage", "lose", "drop", "slow"])
@pytest.mark.parametrize("transport", ["rest", "soap"])
async def test_each_way_eis_fails_ends_in_one_accepted_card(
    tmp_path: Path, fault: str, transport: str
) -> None:
    """Issue #11: every fault the simulator can make (``--eis-faults``) — 503, a garbage page, the
    answer lost after the message is stored, the connection cut, a slow 504 — leaves the card
    pending, each failure traced; once EIS recovers the events and the card arrive exactly once,
    on both routes."""
    rig = await start_rig(tmp_path / "home", eis_options=f'transport = "{transport}"\n')
    try:
        rig.eis.fault_kinds, rig.eis.knobs["fault_rate"] = (fault,), 1.0
        c = await rig.client("operator")
        card = await run_to_card(c, CAR)

        async def failed_twice() -> bool:
            return rig.eis.faults[fault] >= 2

        await wait_for(failed_twice, f"failed attempts ({fault})", timeout=30)
        assert (await c.call("GET", "/v1/state"))["last_card"]["eis"] == "pending"
        rig.eis.knobs["fault_rate"] = 0.0
        await wait_for(lambda: _outbox(c, "accepted"), "the acceptance after the fault", timeout=60)
        rows = rig.eis.db.execute("SELECT card_id FROM cards").fetchall()
        assert rows == [(card["card_id"],)]
        keys = [k for (k,) in rig.eis.db.execute("SELECT key FROM events")]
        assert len(keys) == len(set(keys)) > 5  # the events too: each once
        admin = await rig.client("admin")
        trace = await admin.call("GET", "/v1/eis/exchanges?limit=500")
        assert sum(1 for x in trace if x["outcome"] == "retry") >= 2  # each failure traced (G2)
    finally:
        await rig.close()


@pytest.mark.parametrize("transport", ["rest", "soap"])
async def test_the_inspection_reaches_eis_as_it_happens_in_order_then_its_card(
    tmp_path: Path, transport: str
) -> None:
    """R3.5, R9: every journal entry of the inspection goes to EIS as an event while it runs, in the
    journal's order, each step's readings as one batch with it; the card goes after its events."""
    rig = await start_rig(tmp_path / "home", eis_options=f'transport = "{transport}"\n')
    try:
        c = await rig.client("operator")
        insp = await c.call("POST", "/v1/inspections", CAR | {"plate": "555KZZ01"})

        async def started() -> list:
            rows = rig.eis.db.execute("SELECT action FROM events WHERE inspection_id = ?", (insp["id"],))
            return [a for (a,) in rows if a == "inspection_started"]

        await wait_for(started, "the start event, before the card", timeout=10)
        await c.call("POST", f"/v1/inspections/{insp['id']}/abort", {"reason": "a test"})
        card = await run_to_card(c, CAR)
        await wait_for(lambda: _outbox(c, "accepted"), "the card", timeout=60)
        sent = rig.eis.db.execute(
            "SELECT seq, action, readings, at, key FROM events WHERE inspection_id = ? ORDER BY n",
            (card_insp := card["inspection_id"],),
        ).fetchall()
        seqs = [s for s, *_ in sent]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        actions = [a for _, a, *_ in sent]
        assert actions[0] == "inspection_started" and actions[-1] == "card_formed"
        assert {"step_started", "step_finished"} <= set(actions)
        brake = [n for _, a, n, *_ in sent if a == "step_finished"]
        assert max(brake) > 0  # the brake steps carried their readings
        (card_at,) = rig.eis.db.execute("SELECT at FROM cards").fetchone()
        assert card_at >= max(at for *_, at, _ in sent)
        admin = await rig.client("admin")
        journal = await admin.call("GET", "/v1/journal?limit=500")
        mine = [e for e in journal if e["details"].get("inspection_id") == card_insp]
        assert sorted(e["seq"] for e in mine) == seqs  # every entry of the inspection, none twice
    finally:
        await rig.close()


async def test_a_card_waits_for_the_events_before_it(tmp_path: Path) -> None:
    """Per-inspection order: while EIS fails the events, the card is not sent ahead of them; once EIS
    recovers, the events go first, then the card, each once."""
    rig = await start_rig(tmp_path / "home")
    try:
        rig.eis.fault_kinds, rig.eis.knobs["fault_rate"] = ("unavailable",), 1.0
        c = await rig.client("operator")
        card = await run_to_card(c, CAR)
        # one failed pass after the card was formed: it had its chance to go ahead of the events
        n = rig.eis.requests + 1
        await wait_for(lambda: _more_polls(rig, n), "failed event attempts", timeout=30)
        assert rig.eis.db.execute("SELECT count(*) FROM cards").fetchone() == (0,)
        rig.eis.knobs["fault_rate"] = 0.0
        # the order is what is tested here, not the back-off: the next attempt is made now
        # (tests/e2e/test_outbox_worker.py times the back-off itself)
        assert rig.daemon.lane is not None
        outbox = rig.daemon.lane.outbox
        outbox.events_now()
        await wait_for(lambda: _outbox(c, "accepted"), "the card", timeout=60)
        (last_event,) = rig.eis.db.execute("SELECT max(at) FROM events").fetchone()
        (card_at,) = rig.eis.db.execute(
            "SELECT at FROM cards WHERE card_id = ?", (card["card_id"],)
        ).fetchone()
        assert card_at >= last_event
        keys = [k for (k,) in rig.eis.db.execute("SELECT key FROM events")]
        assert len(keys) == len(set(keys)) > 5
    finally:
        await rig.close()


async def test_an_event_eis_refuses_is_said_and_passed_the_rest_still_go(tmp_path: Path) -> None:
    """A batch EIS rejects as invalid is sent again one event at a time: only the bad event is
    journalled (eis_event_rejected) and passed; every other event and the card still arrive."""
    rig = await start_rig(tmp_path / "home")
    try:
        rig.eis.reject_actions = {"step_started"}
        c = await rig.client("operator")
        await run_to_card(c, CAR)
        await wait_for(lambda: _outbox(c, "accepted"), "the card", timeout=60)
        admin = await rig.client("admin")
        said = await admin.call("GET", "/v1/journal?action=eis_event_rejected")
        started = await admin.call("GET", "/v1/journal?action=step_started")
        assert sorted(e["details"]["seq"] for e in said) == sorted(e["seq"] for e in started)
        assert all("refused here" in e["details"]["detail"] for e in said)
        actions = {a for (a,) in rig.eis.db.execute("SELECT action FROM events")}
        assert (
            "step_started" not in actions
            and {"inspection_started", "step_finished", "card_formed"} <= actions
        )
    finally:
        await rig.close()


HEAD_IIN = "800101300111"


async def _centre_rig(tmp_path: Path, bin_: str = "123456789021") -> Rig:
    """A SOAP lane whose centre key (``usb/centre.p12``, of BIN ``bin_``) signs what no employee signs."""
    from app.eds.training import employee, issue
    from app.storage.crypto import write_secret_file

    home = tmp_path / "home"
    write_secret_file(home / "keys" / "centre.pw", f"{KEY_PASSWORD}\n")
    options = (
        'transport = "soap"\nsystem_key = "usb/centre.p12"\nsystem_key_password_file = "keys/centre.pw"\n'
    )
    return await start_key_rig(
        home,
        lambda pki: {"centre.p12": issue(employee(HEAD_IIN, bin_, "ДИРЕКТОР"), pki.ca)},
        eis_options=options,
    )


async def test_the_centres_key_signs_every_message_no_employee_signed(tmp_path: Path) -> None:
    """G1, G3: on the ВШЭП route every message carries a WS-Security signature by an NCA key: a card
    formed in a password session, the events and the requests are signed by the centre's key (an
    EIS that wants signatures takes them all); a card formed in a key session keeps its employee's."""
    rig = await _centre_rig(tmp_path)
    try:
        rig.eis.knobs["require_signature"] = 1.0
        c = await rig.client("operator")  # a password session: no employee key
        card = await run_to_card(c, CAR)
        await wait_for(lambda: _outbox(c, "accepted"), "the card signed by the centre", timeout=60)
        signers = dict(rig.eis.db.execute("SELECT key, signer FROM signatures").fetchall())
        assert signers[card["card_id"]] == f"IIN{HEAD_IIN}"
        event_keys = [k for k in signers if k.startswith("events-")]
        assert event_keys and {signers[k] for k in event_keys} == {f"IIN{HEAD_IIN}"}
        assert rig.eis.db.execute("SELECT count(*) FROM events").fetchone()[0] > 5
        admin = await rig.client("admin")
        (said,) = await admin.call("GET", "/v1/journal?action=eis_system_key")
        assert said["details"]["bin"] == "123456789021"
        k = await rig.client()
        await k.login_eds(str(rig.home / "usb" / "operator.p12"), KEY_PASSWORD)
        second = await run_to_card(k, CAR | {"plate": "777AAA01"})
        await wait_for(lambda: _outbox(k, "accepted", 2), "the employee-signed card", timeout=60)
        (who,) = rig.eis.db.execute(
            "SELECT signer FROM signatures WHERE key = ?", (second["card_id"],)
        ).fetchone()
        assert who == f"IIN{IIN_OP}"
    finally:
        await rig.close()


async def test_a_centre_key_of_another_organisation_is_refused_and_the_lane_still_runs(
    tmp_path: Path,
) -> None:
    """The centre's key is checked like an employee's: a key of another BIN is journalled with the
    reason; the daemon runs, and its messages go unsigned (an EIS that wants signatures says so)."""
    rig = await _centre_rig(tmp_path, bin_="999999999999")
    try:
        admin = await rig.client("admin")
        (said,) = await admin.call("GET", "/v1/journal?action=eis_system_key_refused")
        assert said["details"]["code"] == "eds_not_employee" and "999999999999" in said["details"]["reason"]
        assert not await admin.call("GET", "/v1/journal?action=eis_system_key")
    finally:
        await rig.close()


def test_journal_verify_says_what_is_wrong_with_a_file_that_is_no_export(tmp_path: Path) -> None:
    """Bad input to ``otolane journal verify`` gets a sentence naming the file, never a traceback."""
    (tmp_path / "x.json").write_text("not json")
    (tmp_path / "list.json").write_text("[]")
    for args, said, rc in (
        (["x.json"], "x.json is not a journal export", 2),
        (["list.json", "--public-key", "x.json"], "x.json is not a PEM public key", 2),
        (["list.json"], "history: expected an object", 1),
    ):
        r = subprocess.run(
            [sys.executable, "-m", "app.cli", "journal", "verify", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert r.returncode == rc and said in r.stdout + r.stderr and "Traceback" not in r.stderr, args

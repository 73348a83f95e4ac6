"""The EIS outbox worker on its own (D4, R3.5, G2, R5): a real EIS simulator on loopback HTTP, a real
SQLite database and the cards chain, the worker driven pass by pass. The whole lane's tests
(``test_eis_routes.py``, ``test_api_lane.py``) show it in use; these pin each outcome's row, journal
entry and exchange trace, so that a dropped field or a changed status is noticed (issue #7)."""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.demo_config import free_port
from app.eis.client import ROUTES, EisClient, RestClient
from app.eis.outbox import DELIVERY_FIELDS, OutboxWorker, backoff_s
from app.eis.simulator import EisSimulator
from app.journal import Journal
from app.storage.crypto import Keyring
from app.storage.db import close_db, open_db
from app.storage.models import Card, EisExchange, JournalEntry, Outbox
from tests.rig import sample_card, serve_loopback, store_card

SPO_KEY = "SPO-KEY-1"


@dataclass
class Bench:
    eis: EisSimulator
    url: str
    keyring: Keyring
    changes: list[int]
    clients: list[EisClient]

    def worker(self, environment: str = "test", route: str = "rest", **kwargs: Any) -> OutboxWorker:
        client: EisClient = ROUTES[route](self.url, SPO_KEY, 5.0)
        self.clients.append(client)
        kwargs.setdefault("lane", "L1")
        return OutboxWorker(
            client, self.keyring, Journal(), environment, lambda: self.changes.append(1), **kwargs
        )

    async def card(self, training: bool = True, **overrides: Any) -> str:
        card = sample_card(str(uuid.uuid4()), training=training, number=7, **overrides)
        return await store_card(self.keyring, card)


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    eis = EisSimulator(tmp_path / "eis.db", seed=1)
    runner, port = await serve_loopback(eis.app())
    await open_db(f"sqlite://{tmp_path / 'lane.db'}")
    url = f"http://127.0.0.1:{port}/api/v1"
    bench = Bench(eis, url, Keyring.create(tmp_path / "k"), [], [])
    try:
        yield bench
    finally:
        for client in bench.clients:
            await client.close()
        await close_db()
        await runner.cleanup()


async def _journal() -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.actor, e.action, e.details) for e in await JournalEntry.all().order_by("seq")]


async def test_an_accepted_card_leaves_its_receipt_its_entry_and_its_trace(bench: Bench) -> None:
    """D4, G2: the row says accepted with EIS's receipt; the journal and the exchange say the same."""
    cid = await bench.card()
    worker = bench.worker()
    before = time.time()
    wait = await worker.deliver_due()
    assert wait == 30.0  # nothing left: look again in half a minute
    row = await Outbox.get(card_id=cid)
    assert (row.status, row.attempts, row.last_error) == ("accepted", 1, "")
    assert row.receipt.startswith("EIS-") and row.updated >= before
    assert await _journal() == [("eis", "eis_accepted", {"card_id": cid, "receipt": row.receipt})]
    (ex,) = await EisExchange.all()
    assert (ex.kind, ex.card_id, ex.idempotency_key, ex.attempt, ex.outcome, ex.http_status, ex.route) == (
        "card",
        cid,
        cid,
        1,
        "accepted",
        201,
        "rest",
    )
    assert ex.error == "" and ex.sealed_response is not None and len(ex.request_digest) == 64
    assert bench.keyring.open(ex.sealed_response, f"eis-exchange:{cid}:1").startswith(b"{")
    assert bench.changes == [1]
    stored = bench.eis.db.execute("SELECT card_id, spo_key, training FROM cards").fetchall()
    assert stored == [(cid, SPO_KEY, 1)]
    assert await worker.counts() == {"pending": 0, "accepted": 1, "rejected": 0, "refused": 0}
    (q,) = await worker.queue(10)
    assert q == {
        "card_id": cid,
        "number": 7,
        "plate": "123ABC02",
        "verdict": "admitted",
        "status": "accepted",
        "attempts": 1,
        "error": "",
        "receipt": row.receipt,
        "updated": row.updated,
        "signed": False,
    }
    (trace,) = await worker.exchanges.listing(cid, 10)
    assert set(trace) == {
        "ts",
        "route",
        "kind",
        "card_id",
        "attempt",
        "request_digest",
        "http_status",
        "outcome",
        "duration_ms",
        "error",
        "seq",
        "count",
        "first_ts",
        "card_number",
    }
    assert (trace["outcome"], trace["attempt"], trace["card_id"]) == ("accepted", 1, cid)
    assert (trace["card_number"], trace["count"]) == (7, 1)  # the card by its number (issue #23 (10))
    assert await worker.exchanges.listing("another", 10) == []
    assert len(await worker.exchanges.listing(None, 10)) == 1


async def test_a_rejected_card_keeps_what_eis_said(bench: Bench) -> None:
    cid = await bench.card()
    bench.eis.knobs["reject_rate"] = 1.0
    worker = bench.worker()
    await worker.deliver_due()
    row = await Outbox.get(card_id=cid)
    assert (row.status, row.attempts, row.receipt) == ("rejected", 1, "")
    assert "rejected by simulator knob" in row.last_error
    assert await _journal() == [("eis", "eis_rejected", {"card_id": cid, "detail": row.last_error})]
    (ex,) = await EisExchange.all()
    assert (ex.outcome, ex.http_status, ex.error) == ("rejected", 422, row.last_error[:300])
    await worker.deliver_due()  # a rejected card is not sent again
    assert await EisExchange.all().count() == 1
    assert await worker.counts() == {"pending": 0, "accepted": 0, "rejected": 1, "refused": 0}


async def test_an_unavailable_eis_gets_the_card_again_after_the_back_off(bench: Bench) -> None:
    """D4: a retry waits 0.25–0.75 s after the first attempt, then the same key goes again."""
    cid = await bench.card()
    bench.eis.knobs["fail_rate"] = 1.0
    worker = bench.worker()
    before = time.time()
    wait = await worker.deliver_due()
    row = await Outbox.get(card_id=cid)
    assert (row.status, row.attempts) == ("pending", 1)
    assert before + 0.25 <= row.next_attempt <= time.time() + 0.75
    assert 0.05 <= wait <= 0.75
    assert "503" in row.last_error or "unavailable" in row.last_error
    assert await _journal() == []  # a retry is traced, not journalled
    (ex,) = await EisExchange.all()
    assert (ex.outcome, ex.http_status, ex.attempt) == ("retry", 503, 1)
    # not due yet: nothing is sent
    await worker.deliver_due()
    assert await EisExchange.all().count() == 1
    bench.eis.knobs["fail_rate"] = 0.0
    await Outbox.filter(card_id=cid).update(next_attempt=0.0)
    await worker.deliver_due()
    row = await Outbox.get(card_id=cid)
    assert (row.status, row.attempts, row.last_error) == ("accepted", 2, "")
    assert [e.attempt for e in await EisExchange.all().order_by("seq")] == [1, 2]
    assert [e.idempotency_key for e in await EisExchange.all()] == [cid, cid]


class _Edge(random.Random):
    def __init__(self, pick: str) -> None:
        super().__init__()
        self.pick = pick

    def uniform(self, a: float, b: float) -> float:
        return a if self.pick == "low" else b


@pytest.mark.parametrize(
    ("attempts", "base"), [(0, 0.5), (1, 0.5), (2, 1.0), (3, 2.0), (8, 60.0), (50, 60.0)]
)
def test_the_back_off_doubles_from_half_a_second_up_to_a_minute_with_half_jitter(
    attempts: int, base: float
) -> None:
    assert backoff_s(attempts, _Edge("low")) == base * 0.5
    assert backoff_s(attempts, _Edge("high")) == base * 1.5
    assert base * 0.5 <= backoff_s(attempts) <= base * 1.5


async def test_a_training_card_is_refused_for_a_production_endpoint_and_never_sent(bench: Bench) -> None:
    """R3.5 / issue #7: a training card never reaches production, whatever else is configured."""
    cid = await bench.card(training=True)
    worker = bench.worker("production")
    await worker.deliver_due()
    row = await Outbox.get(card_id=cid)
    assert (row.status, row.last_error, row.attempts) == ("refused", "training card, production endpoint", 0)
    assert await _journal() == [("eis", "eis_refused_training", {"card_id": cid, "endpoint": bench.url})]
    assert bench.eis.requests == 0 and await EisExchange.all().count() == 0
    assert bench.changes == [1]
    # a production card on the same endpoint goes
    real = await bench.card(training=False)
    await worker.deliver_due()
    assert (await Outbox.get(card_id=real)).status == "accepted"


async def test_a_card_marked_training_inside_goes_nowhere_near_production_either(bench: Bench) -> None:
    """The row's mark and the sealed card's mark are both heeded."""
    cid = await bench.card(training=True)
    await Outbox.filter(card_id=cid).update(training=False)
    await bench.worker("production").deliver_due()
    assert (await Outbox.get(card_id=cid)).status == "refused"


async def test_the_outbox_is_held_against_the_chain_and_the_journal(bench: Bench) -> None:
    """Issue #7 item 3: a deleted row is restored, a status set behind the software goes back to
    pending, and both are said in the journal; the card then reaches EIS once."""
    lost = await bench.card()
    faked = await bench.card()
    rekeyed = await bench.card()
    remarked = await bench.card(training=True)
    fine = await bench.card()
    await Outbox.filter(card_id=lost).delete()
    await Outbox.filter(card_id=faked).update(status="accepted")
    await Outbox.filter(card_id=rekeyed).update(idempotency_key="other")
    await Outbox.filter(card_id=remarked).update(training=False)
    worker = bench.worker()
    problems = await worker.reconcile()
    assert problems and all(isinstance(p, str) for p in problems)
    for cid in (faked, rekeyed, remarked):
        assert any(cid in p for p in problems), cid
    entries = await _journal()
    assert ("laned", "outbox_restored", {"card_id": lost}) in entries
    for cid in (faked, rekeyed, remarked):
        assert ("laned", "outbox_requeued", {"card_id": cid}) in entries
    assert not any(e[2].get("card_id") == fine for e in entries)
    rows = {r.card_id: r for r in await Outbox.all()}
    assert (rows[lost].status, rows[lost].idempotency_key, rows[lost].training) == ("pending", lost, True)
    for cid in (faked, rekeyed):
        assert (rows[cid].status, rows[cid].idempotency_key, rows[cid].next_attempt) == ("pending", cid, 0.0)
    assert rows[remarked].training is True
    await worker.deliver_due()
    assert {r.status for r in await Outbox.all()} == {"accepted"}
    assert bench.eis.db.execute("SELECT count(*) FROM cards").fetchone() == (5,)
    # once delivered and journalled, a second look finds nothing more to requeue
    before = len(await _journal())
    assert await worker.reconcile() == []
    assert len(await _journal()) == before


class _Key:
    def __init__(self, expired: bool) -> None:
        self.expired = expired

    def state(self) -> dict[str, Any]:
        return {"expired": self.expired, "fingerprint": "fp-1"}


async def test_an_expired_identification_key_holds_the_cards_and_is_said_once(bench: Bench) -> None:
    """R5: cards wait while the key is expired; the journal says it once per key."""
    cid = await bench.card()
    key = _Key(expired=True)
    worker = bench.worker(key_source=key)  # type: ignore[arg-type]
    assert await worker.deliver_due() == 5.0
    assert await worker.deliver_due() == 5.0
    assert (await Outbox.get(card_id=cid)).status == "pending" and bench.eis.requests == 0
    assert await _journal() == [("laned", "eis_key_expired", {"fingerprint": "fp-1"})]
    assert bench.changes == [1]
    assert worker.key_state() == {"expired": True, "fingerprint": "fp-1", "refused": False}
    key.expired = False
    await worker.deliver_due()
    assert (await Outbox.get(card_id=cid)).status == "accepted"
    key.expired = True  # expired again later: said again
    await worker.deliver_due()
    assert [a for _, a, _ in await _journal()].count("eis_key_expired") == 2


async def test_a_key_eis_refuses_is_said_once_and_shown_until_a_message_passes(bench: Bench) -> None:
    """R5: EIS answers 401 to a key it did not issue; the card stays pending, retried."""
    bench.eis.issue_key("SOME-OTHER-KEY", time.time() + 3600)
    cid = await bench.card()
    worker = bench.worker(key_source=_Key(expired=False))  # type: ignore[arg-type]
    await worker.deliver_due()
    row = await Outbox.get(card_id=cid)
    assert row.status == "pending" and "identification key unknown" in row.last_error
    assert worker.key_state()["refused"] is True
    entries = await _journal()
    assert entries == [
        ("eis", "eis_key_refused", {"fingerprint": "fp-1", "detail": entries[0][2]["detail"]}),
    ]
    assert "identification key unknown" in entries[0][2]["detail"]
    await Outbox.filter(card_id=cid).update(next_attempt=0.0)
    await worker.deliver_due()
    assert [a for _, a, _ in await _journal()].count("eis_key_refused") == 1
    bench.eis.issue_key(SPO_KEY, time.time() + 3600)
    await Outbox.filter(card_id=cid).update(next_attempt=0.0)
    await worker.deliver_due()
    assert (await Outbox.get(card_id=cid)).status == "accepted"
    assert worker.key_state()["refused"] is False


async def test_a_key_state_is_empty_without_a_key_source(bench: Bench) -> None:
    assert bench.worker().key_state() == {}


async def test_only_the_delivery_fields_of_a_row_change(bench: Bench) -> None:
    """The card's idempotency key and signature stay as stored when the card was formed."""
    assert DELIVERY_FIELDS == ("status", "attempts", "next_attempt", "last_error", "receipt", "updated")
    cid = await bench.card()
    await Outbox.filter(card_id=cid).update(signature="")
    bench.eis.knobs["fail_rate"] = 1.0
    await bench.worker().deliver_due()
    row = await Outbox.get(card_id=cid)
    assert (row.idempotency_key, row.signature, row.training) == (cid, "", True)


async def test_the_queue_lists_the_newest_first_up_to_its_limit(bench: Bench) -> None:
    ids = [await bench.card() for _ in range(3)]
    worker = bench.worker()
    assert [q["card_id"] for q in await worker.queue(2)] == [ids[2], ids[1]]
    await Outbox.filter(card_id=ids[1]).update(signature="MIIB")  # formed in a key session
    assert [q["signed"] for q in await worker.queue(3)] == [False, True, False]
    assert {q["status"] for q in await worker.queue(10)} == {"pending"}
    assert await worker.counts() == {"pending": 3, "accepted": 0, "rejected": 0, "refused": 0}
    await Card.filter(card_id=ids[0]).delete()  # a row whose card is gone still shows, without facts
    gone = (await worker.queue(10))[-1]
    assert (gone["card_id"], gone["number"], gone["plate"], gone["verdict"]) == (ids[0], None, "", "")


async def _events(n: int, action: str = "step_started", insp: str = "insp-1") -> None:
    journal = Journal()
    for i in range(n):
        await journal.write("operator", action, inspection_id=insp, inspection=1, step=f"s{i}")


def _eis_events(bench: Bench) -> list[tuple[int, str]]:
    return bench.eis.db.execute("SELECT seq, action FROM events ORDER BY n").fetchall()


async def test_the_events_go_before_the_card_in_the_journal_s_order(bench: Bench) -> None:
    """R3.5: the inspection's events reach EIS as they happen, in order; its card only after them."""
    await _events(3)
    await Journal().write("admin", "user_added", username="x")  # names no inspection: passed over
    await _events(1, insp="insp-2")
    cid = await bench.card()
    worker = bench.worker(events_on=True)
    wait = await worker.deliver_due()
    assert wait == 1.0  # events on: look again within a second
    assert _eis_events(bench) == [
        (1, "step_started"),
        (2, "step_started"),
        (3, "step_started"),
        (5, "step_started"),
    ]
    body = bench.eis.db.execute("SELECT body FROM events WHERE seq = 1").fetchone()[0]
    assert '"inspection_id": "insp-1"' in body or '"inspection_id":"insp-1"' in body
    assert (await Outbox.get(card_id=cid)).status == "accepted"
    ex = [(e.kind, e.outcome) for e in await EisExchange.all().order_by("seq")]
    assert ex == [("events", "accepted"), ("card", "accepted")]
    # the card's own entry names no inspection: the feed steps over it, then stands level
    assert await worker.send_events() is False
    assert await worker.send_events() is True
    await _events(2, insp="insp-3")
    assert await worker.send_events() is True
    assert [s for s, _ in _eis_events(bench)][-2:] == [7, 8]


async def test_a_card_waits_while_its_events_cannot_be_sent(bench: Bench) -> None:
    """The order is kept: a feed that fails holds the cards; it tries again after its back-off."""
    await _events(2)
    cid = await bench.card()
    bench.eis.knobs["fail_rate"] = 1.0
    worker = bench.worker(events_on=True)
    wait = await worker.deliver_due()
    assert 0.05 <= wait <= 0.75
    assert (await Outbox.get(card_id=cid)).status == "pending"
    assert [(e.kind, e.outcome, e.attempt) for e in await EisExchange.all()] == [("events", "retry", 1)]
    assert await worker.send_events() is False  # still within its back-off: nothing sent
    assert bench.eis.requests == 1
    bench.eis.knobs["fail_rate"] = 0.0
    worker.events_now()
    await worker.deliver_due()
    assert (await Outbox.get(card_id=cid)).status == "accepted"
    assert [(e.kind, e.outcome, e.attempt) for e in await EisExchange.all().order_by("seq")] == [
        ("events", "retry", 1),
        ("events", "accepted", 2),
        ("card", "accepted", 1),
    ]


async def test_an_event_eis_refuses_is_found_one_at_a_time_said_and_passed(bench: Bench) -> None:
    """R3.5: a rejected batch is sent again event by event; only the bad one is journalled and
    passed, the rest arrive, and the feed is level."""
    await _events(2)
    await _events(1, action="odd_action")
    await _events(2)
    bench.eis.reject_actions = {"odd_action"}
    worker = bench.worker(events_on=True)
    for _ in range(10):
        if await worker.send_events():
            break
    else:
        pytest.fail("the feed never came level")
    assert _eis_events(bench) == [
        (1, "step_started"),
        (2, "step_started"),
        (4, "step_started"),
        (5, "step_started"),
    ]
    said = [d for actor, a, d in await _journal() if a == "eis_event_rejected" and actor == "eis"]
    assert len(said) == 1 and (said[0]["seq"], said[0]["event"]) == (3, "odd_action")
    assert "refused here" in said[0]["detail"]
    trace = [(e.kind, e.card_id, e.attempt, e.outcome) for e in await EisExchange.all().order_by("seq")]
    # the batch of five refused; then one at a time up to the batch's end: 1 (its second attempt),
    # 2, 3 refused and passed, 4, 5 — each exchange traced, none naming a card
    assert trace == [
        ("events", "", 1, "rejected"),
        ("events", "", 2, "accepted"),
        ("events", "", 1, "accepted"),
        ("events", "", 1, "rejected"),
        ("events", "", 1, "accepted"),
        ("events", "", 1, "accepted"),
    ]


async def test_a_training_lane_sends_no_events_to_production(bench: Bench) -> None:
    await _events(2)
    worker = bench.worker("production", events_on=True, training=True)
    assert await worker.send_events() is True
    assert bench.eis.requests == 0


def _ask(bench: Bench, start: float, end: float) -> str:
    rid = uuid.uuid4().hex[:12]
    bench.eis.db.execute("INSERT INTO requests VALUES (?,?,?,?,NULL)", (rid, start, end, time.time()))
    return rid


async def test_each_request_for_the_log_is_answered_once_with_its_signed_period(bench: Bench) -> None:
    """R3.19: EIS's operator asks; the lane answers each request for the log history once, signed;
    a request it cannot answer is said once in the journal, never retried at every poll."""
    from app.eis import history
    from app.storage.anchor import LaneKey

    key = LaneKey(Ed25519PrivateKey.generate())

    async def exporter(start: float, end: float, request: str | None) -> dict[str, Any]:
        return await history.export(key, "L1", start, end, request)

    await _events(3)
    now = time.time()
    bad = _ask(bench, now + 60, now - 3600)  # ends before it starts; listed first, it stops nothing
    good = _ask(bench, now - 3600, now + 60)
    worker = bench.worker(exporter=exporter, poll_s=60.0)
    assert await worker.answer_requests() == 1
    assert {actor for actor, action, _ in await _journal() if action.startswith("eis_log")} == {"eis"}
    sent = [d for _, a, d in await _journal() if a == "eis_log_sent"]
    # the three events and the note of the bad request, journalled before the good one was answered
    assert len(sent) == 1 and sent[0]["request"] == good and sent[0]["entries"] == 4
    assert sent[0]["receipt"] == f"LOG-{good}"
    wrong = [d for _, a, d in await _journal() if a == "eis_log_request_bad"]
    assert [w["request"] for w in wrong] == [bad] and "end after it starts" in wrong[0]["detail"]
    stored = bench.eis.db.execute("SELECT request, entries, valid FROM histories").fetchall()
    assert stored == [(good, 4, 1)]
    kinds = [(e.kind, e.outcome) for e in await EisExchange.all().order_by("seq")]
    assert kinds == [("requests", "accepted"), ("history", "accepted")]
    # the next poll: the good one is answered (EIS no longer lists it), the bad one is not said again
    assert await worker.answer_requests() == 0
    assert [a for _, a, _ in await _journal()].count("eis_log_request_bad") == 1
    # deliver_due asks at most once per poll period
    before = bench.eis.requests
    await worker.deliver_due()
    await worker.deliver_due()
    assert bench.eis.requests - before == 1


async def test_requests_are_not_asked_for_by_a_training_lane_of_a_production_endpoint(bench: Bench) -> None:
    async def exporter(start: float, end: float, request: str | None) -> dict[str, Any]:
        raise AssertionError("never asked")

    worker = bench.worker("production", exporter=exporter, training=True)
    await worker.deliver_due()
    assert bench.eis.requests == 0


def _photo(photo_id: str, jpeg: bytes) -> dict[str, Any]:
    import base64
    import hashlib

    return {
        "photo_id": photo_id, "taken": time.time(), "camera": {"id": "front", "serial": "S1"},
        "latitude": 51.1, "longitude": 71.4, "width": 1280, "height": 720, "format": "jpeg",
        "sha256": hashlib.sha256(jpeg).hexdigest(), "jpeg": base64.b64encode(jpeg).decode(),
    }  # fmt: skip


async def test_a_card_s_photos_go_first_each_once_and_the_card_names_them(bench: Bench) -> None:
    """R3.9, R3.18: each photo in its own message before the card; a photo EIS refuses holds the
    card with the reason; one already taken is not sent again."""
    good, bad = b"\xff\xd8" + b"a" * 50, b"not a jpeg at all"
    cid = await bench.card(photos=[_photo("p-good", good), _photo("p-bad", bad)])
    worker = bench.worker()
    await worker.deliver_due()
    row = await Outbox.get(card_id=cid)
    assert row.status == "pending" and row.last_error.startswith("photo p-bad: ")
    assert "not a JPEG" in row.last_error and row.next_attempt > time.time()
    trace = [(e.kind, e.idempotency_key, e.outcome) for e in await EisExchange.all().order_by("seq")]
    assert trace == [("photo", "p-good", "accepted"), ("photo", "p-bad", "rejected")]
    assert bench.changes == [1]
    # the bad photo replaced (as if the lane's copy were mended): only it goes again, then the card
    card = bench.keyring.open_json((await Card.get(card_id=cid)).sealed, f"cards:{cid}")
    card["photos"][1] = _photo("p-bad", b"\xff\xd8" + b"b" * 50)
    await Card.filter(card_id=cid).update(sealed=bench.keyring.seal_json(card, f"cards:{cid}"))
    await Outbox.filter(card_id=cid).update(next_attempt=0.0)
    await worker.deliver_due()
    assert (await Outbox.get(card_id=cid)).status == "accepted"
    trace = [(e.kind, e.idempotency_key, e.outcome) for e in await EisExchange.all().order_by("seq")]
    assert trace[2:] == [("photo", "p-bad", "accepted"), ("card", cid, "accepted")]
    body = bench.eis.db.execute("SELECT body FROM cards").fetchone()[0]
    assert "p-good" in body and '"jpeg":' not in body  # the card names its photos, without their bytes


async def test_a_pass_sends_at_most_twenty_cards(bench: Bench) -> None:
    ids = [await bench.card() for _ in range(23)]
    worker = bench.worker()
    await worker.deliver_due()
    statuses = {r.card_id: r.status for r in await Outbox.all()}
    assert [statuses[c] for c in ids] == ["accepted"] * 20 + ["pending"] * 3  # the oldest first
    await worker.deliver_due()
    assert {r.status for r in await Outbox.all()} == {"accepted"}


async def test_an_eis_that_cannot_be_asked_for_requests_answers_none(bench: Bench) -> None:
    async def exporter(start: float, end: float, request: str | None) -> dict[str, Any]:
        raise AssertionError("never asked")

    _ask(bench, time.time() - 60, time.time())
    bench.eis.knobs["fail_rate"] = 1.0
    worker = bench.worker(exporter=exporter)
    assert await worker.answer_requests() == 0
    assert [(e.kind, e.outcome) for e in await EisExchange.all()] == [("requests", "retry")]


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The centre's key (a training PKI's): signs what no employee signs."""
    from app.eds.training import training_signer

    return training_signer(tmp_path_factory.mktemp("pki"), iin=CENTRE_IIN)


CENTRE_IIN = "800101300111"


async def _history_exporter(start: float, end: float, request: str | None) -> dict[str, Any]:
    from app.eis import history
    from app.storage.anchor import LaneKey

    return await history.export(LaneKey(Ed25519PrivateKey.generate()), "L1", start, end, request)


@pytest.mark.parametrize("route", ["rest", "soap"])
async def test_the_ask_for_requests_speaks_the_contract_is_signed_by_the_centre_and_traced(
    bench: Bench, centre: Any, route: str
) -> None:
    """R3.19, G2, G3: the ask carries the contract it speaks (EIS refuses one that does not,
    requests.schema.json); the centre's key signs the ask and the answer as their route carries them
    (EIS checks each signature and keeps who signed); each exchange is traced under its own key, with
    no card, as attempt 1."""
    now = time.time()
    rid = _ask(bench, now - 3600, now + 60)
    worker = bench.worker(route=route, exporter=_history_exporter, system_signer=centre)
    assert await worker.answer_requests() == 1
    signers = dict(bench.eis.db.execute("SELECT key, signer FROM signatures").fetchall())
    (asked,) = [k for k in signers if k.startswith("requests-")]
    assert signers == {asked: f"IIN{CENTRE_IIN}", f"history-{rid}": f"IIN{CENTRE_IIN}"}
    rows = await EisExchange.all().order_by("seq")
    assert [(e.kind, e.card_id, e.idempotency_key, e.attempt, e.outcome, e.route) for e in rows] == [
        ("requests", "", asked, 1, "accepted", route),
        ("history", "", f"history-{rid}", 1, "accepted", route),
    ]


async def test_an_ask_without_the_contract_is_refused_by_eis(bench: Bench) -> None:
    """The simulator holds the lane to requests.schema.json like a real EIS would."""
    client = RestClient(bench.url, SPO_KEY, 5.0)
    bench.clients.append(client)
    for ask, said in (({}, "missing 'contract'"), ({"contract": "otolane-eis/0"}, "contract: expected")):
        result = await client.send("requests", ask, f"requests-{uuid.uuid4()}")
        assert result.outcome == "rejected" and said in result.detail, result


async def test_a_request_eis_lists_again_after_its_answer_is_not_answered_twice(bench: Bench) -> None:
    """R3.19: the journal, not EIS's list, says which requests were answered: a request EIS lists
    again (its answer taken, its flag lost on EIS's side) gets no second export."""
    now = time.time()
    _ask(bench, now - 3600, now + 60)
    worker = bench.worker(exporter=_history_exporter)
    assert await worker.answer_requests() == 1
    bench.eis.db.execute("UPDATE requests SET answered = NULL")
    assert await worker.answer_requests() == 0
    kinds = [e.kind for e in await EisExchange.all().order_by("seq")]
    assert kinds == ["requests", "history", "requests"]
    assert bench.eis.db.execute("SELECT count(*) FROM histories").fetchone() == (1,)


def _names(request: web.Request, body: bytes) -> dict[str, str]:
    """What an answer of EIS must say to be a receipt: the message it takes (issue #21)."""
    key = request.headers.get("Idempotency-Key", "")
    return {"status": "accepted", "idempotency_key": key, "digest": hashlib.sha256(body).hexdigest()}


async def _odd_eis(answer: Any) -> tuple[web.AppRunner, str, list[str]]:
    """An EIS (or a proxy before it) that answers the ask for requests with ``answer``, and takes
    every history (the ids it took listed)."""
    taken: list[str] = []

    async def requests(request: web.Request) -> web.Response:
        named = _names(request, await request.read())
        return web.json_response(answer | named if isinstance(answer, dict) else answer)

    async def history(request: web.Request) -> web.Response:
        taken.append((await request.json())["request"])
        named = _names(request, await request.read())
        return web.json_response({"receipt": f"LOG-{taken[-1]}"} | named, status=201)

    app = web.Application()
    app.router.add_post("/requests", requests)
    app.router.add_post("/history", history)
    runner, port = await serve_loopback(app)
    return runner, f"http://127.0.0.1:{port}", taken


@pytest.mark.parametrize(
    "answer", [[], {}, {"requests": "none"}, {"requests": 5}, "text", {"requests": [7, {"kind": "x"}]}]
)
async def test_an_odd_answer_to_the_ask_is_no_request_and_no_crash(bench: Bench, answer: Any) -> None:
    """An answer to the ask that is no list of requests: nothing is exported, nothing is journalled,
    the worker goes on; the exchange is traced."""
    runner, url, taken = await _odd_eis(answer)
    try:

        async def exporter(start: float, end: float, request: str | None) -> dict[str, Any]:
            raise AssertionError("never asked")

        worker = bench.worker(exporter=exporter)
        worker.client = RestClient(url, SPO_KEY, 5.0)
        bench.clients.append(worker.client)
        assert await worker.answer_requests() == 0
        assert await _journal() == [] and taken == []
        # an answer that is no object cannot name the ask: not even a receipt
        outcome = "accepted" if isinstance(answer, dict) else "retry"
        assert [(e.kind, e.outcome) for e in await EisExchange.all()] == [("requests", outcome)]
    finally:
        await runner.cleanup()


async def test_requests_that_are_not_for_the_log_are_passed_over_and_the_rest_answered(bench: Bench) -> None:
    """R3.19: among the requests, what is not a request for the log history (another kind, no id,
    not an object) is passed over without a word; each request for the log after it is answered."""
    now = time.time()
    period = {"kind": "log_history", "from": now - 60, "to": now}
    listed = [7, {"id": "a1", "kind": "photo_again"}, period, period | {"id": "r1"}, period | {"id": "r2"}]
    runner, url, taken = await _odd_eis({"requests": listed})
    try:
        worker = bench.worker(exporter=_history_exporter)
        worker.client = RestClient(url, SPO_KEY, 5.0)
        bench.clients.append(worker.client)
        assert await worker.answer_requests() == 2
        assert taken == ["r1", "r2"]
        said = [(actor, action, d["request"]) for actor, action, d in await _journal()]
        assert said == [("eis", "eis_log_sent", "r1"), ("eis", "eis_log_sent", "r2")]
    finally:
        await runner.cleanup()


async def test_a_training_card_waits_with_the_reason_while_the_endpoint_cannot_be_told(
    bench: Bench,
) -> None:
    """A training card never goes to production; an HTTPS endpoint whose certificate cannot be read
    now might be production: the card waits, says why, and is tried again after its back-off — its
    attempts untouched (nothing was sent)."""
    cid = await bench.card(training=True)
    await Outbox.filter(card_id=cid).update(attempts=3)
    worker = bench.worker()
    worker.client = RestClient(f"https://127.0.0.1:{free_port()}/api/v1", SPO_KEY, 5.0)
    bench.clients.append(worker.client)
    random.seed(11)  # the back-off's jitter, as backoff_s draws it
    expected = backoff_s(4, random.Random(11))
    before = time.time()
    await worker.deliver_due()
    after = time.time()
    row = await Outbox.get(card_id=cid)
    assert (row.status, row.attempts) == ("pending", 3)
    assert row.last_error.startswith("cannot tell whether the endpoint is production: ")
    assert "Connect" in row.last_error and worker.client.production_error in row.last_error
    assert before + expected <= row.next_attempt <= after + expected
    assert bench.eis.requests == 0 and await _journal() == []


async def test_a_key_refusal_without_a_key_source_is_said_with_an_unknown_fingerprint(bench: Bench) -> None:
    """R5: a lane whose key is given as text (no key file to fingerprint) still says EIS refused it."""
    bench.eis.issue_key("SOME-OTHER-KEY", time.time() + 3600)
    await bench.card()
    await bench.worker().deliver_due()
    ((actor, action, details),) = await _journal()
    assert (actor, action, details["fingerprint"]) == ("eis", "eis_key_refused", "?")


async def test_a_lane_that_answers_requests_asks_again_when_its_poll_is_due(bench: Bench) -> None:
    """R3.19: the worker sleeps until the next ask for requests (``eis.poll_s``), not a fixed half
    minute; with a card waiting for its back-off, until whichever comes first."""
    worker = bench.worker(exporter=_history_exporter, poll_s=10.0)
    wait = await worker.deliver_due()
    assert 9.0 < wait <= 10.0 and bench.eis.requests == 1
    cid = await bench.card()
    await Outbox.filter(card_id=cid).update(next_attempt=time.time() + 3.0)
    assert 2.0 < await worker.deliver_due() <= 3.0
    assert bench.eis.requests == 1  # not asked again before its time


async def test_at_start_only_the_cards_still_to_deliver_are_opened(bench: Bench, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue #20 item 2: start-up work is bounded by what is open, never by history — the settled
    cards are counted against the journal, not opened; a pending row is still held against its card,
    and a missing row found by an indexed anti-join."""
    worker = bench.worker()
    for _ in range(12):
        await bench.card()
    await worker.deliver_due()  # twelve settled cards: history
    pending, lost = await bench.card(), await bench.card()
    await Outbox.filter(card_id=pending).update(idempotency_key="other")
    await Outbox.filter(card_id=lost).delete()
    opened: list[str] = []
    real_open = bench.keyring.open_json

    def counting(blob: bytes, aad: str) -> Any:
        opened.append(aad)
        return real_open(blob, aad)

    monkeypatch.setattr(bench.keyring, "open_json", counting)
    problems = await worker.reconcile()
    assert sorted(a for a in opened if a.startswith("cards:")) == sorted(
        [f"cards:{pending}", f"cards:{lost}"]
    )
    assert any(pending in p for p in problems) and any(lost in p for p in problems)
    rows = {r.card_id: r for r in await Outbox.filter(card_id__in=[pending, lost])}
    assert (rows[pending].idempotency_key, rows[lost].status) == (pending, "pending")
    # a settled row changed behind the software: the counts differ, every row is held again
    opened.clear()
    settled = (await Outbox.filter(status="accepted").first()).card_id  # type: ignore[union-attr]
    await Outbox.filter(card_id=settled).update(status="rejected")
    problems = await worker.reconcile()
    assert len([a for a in opened if a.startswith("cards:")]) == 14
    assert any(settled in p for p in problems)
    assert (await Outbox.get(card_id=settled)).status == "pending"


async def test_the_journal_counts_each_settled_card_once_on_both_engines(db: str) -> None:
    """The start-up's count of settled cards (issue #20 item 2), by the journal's action index, on
    SQLite's and PostgreSQL's JSON: a card accepted twice (sent again after a row was reset) is one."""
    journal = Journal()
    settled_cards = journal.cards_named
    for card_id in ("a", "b", "a"):
        await journal.write("eis", "eis_accepted", card_id=card_id, receipt="R")
    await journal.write("eis", "eis_rejected", card_id="c", detail="no")
    assert (await settled_cards("eis_accepted"), await settled_cards("eis_rejected")) == (2, 1)
    assert await settled_cards("eis_refused_training") == 0


async def test_the_exchange_list_folds_polls_alike_and_filters_by_kind(bench: Bench) -> None:
    """Issue #23 (10), G2: an idle lane polls EIS every few seconds; folded, a run of polls alike is
    one row (how many, from when to when) and the card between them stays in sight; a poll that
    failed is a row of its own; a filter shows one kind of message."""
    from app.eis.client import Delivery
    from app.eis.exchanges import FOLD_PAGE
    from app.storage.db import write_tx

    cid = await bench.card()
    log = bench.worker().exchanges

    async def poll(outcome: str = "accepted", status: int = 200, n: int = 1) -> None:
        async with write_tx() as tx:
            for _ in range(n):
                await log.append(log.row("requests", "", "", 1, Delivery(outcome, http_status=status)), tx)

    await poll(n=FOLD_PAGE + 5)  # the run crosses a page of the fold
    await log.trace("card", cid, Delivery("accepted", http_status=201), 1, "k1")
    await poll(n=3)
    await poll("retry", 503)
    await poll(n=2)
    rows = await log.listing(None, 10, fold=True)
    said = [(r["kind"], r["count"], r["outcome"], r["card_number"]) for r in rows]
    assert said == [
        ("requests", 2, "accepted", None),
        ("requests", 1, "retry", None),
        ("requests", 3, "accepted", None),
        ("card", 1, "accepted", 7),
        ("requests", FOLD_PAGE + 5, "accepted", None),
    ]
    assert rows[0]["first_ts"] < rows[0]["ts"] and rows[-1]["first_ts"] <= rows[-1]["ts"]
    assert len(await log.listing(None, 2, fold=True)) == 2
    assert [r["kind"] for r in await log.listing(None, 10, ("card",))] == ["card"]
    unfolded = await log.listing(None, 10)
    assert len(unfolded) == 10 and all(r["count"] == 1 for r in unfolded)

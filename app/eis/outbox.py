"""The EIS outbox (D4, R3.5): a card is committed locally first, then delivered in the background.

Delivery retries with exponential back-off and jitter; every attempt carries the card's idempotency
key, so a retry after a crash between "sent" and "marked sent" is accepted once by EIS. A training
card is never sent to a production endpoint (the config refuses that pairing too).

A delivery's outcome and its journal entry are written in one transaction; at start
:meth:`OutboxWorker.reconcile` holds the outbox against the cards chain and the journal, so a row
deleted or a status set behind the software cannot keep a card from EIS.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from app.eds.signer import Signer
from app.eis import events, witness
from app.eis.client import KEY_REFUSED, Delivery, EisClient
from app.eis.contract import CONTRACT_VERSION, card_message, photo_message
from app.eis.exchanges import ExchangeLog
from app.eis.idkey import IdKeySource
from app.eis.reconcile import reconcile
from app.errors import OtolaneError
from app.journal import Journal
from app.storage.crypto import Keyring
from app.storage.db import write_tx
from app.storage.models import Card, Outbox

log = logging.getLogger("otolane.outbox")
#: (start, end, request id) → the signed journal export of that period (app/eis/history.py)
Exporter = Callable[[float, float, str | None], Awaitable[dict[str, Any]]]
#: (photo id, SHA-256) -> the JPEG a card names
PhotoImage = Callable[[str, str], Awaitable[bytes]]


#: what a delivery attempt changes in its row, and nothing else (the card's key and signature stay
#: as they were stored when the card was formed)
DELIVERY_FIELDS = ("status", "attempts", "next_attempt", "last_error", "receipt", "updated")


#: the back-off doubles from half a second up to its cap, with a jitter of ± this share: no wait
#: between two attempts is longer than BACKOFF_CAP_S * (1 + BACKOFF_JITTER)
BACKOFF_CAP_S, BACKOFF_JITTER = 60.0, 0.5


def backoff_s(attempts: int, rng: random.Random | None = None) -> float:
    """The wait before attempt ``attempts + 1``; the jitter drawn from ``rng``, else from the
    ``random`` module's own generator."""
    base = min(BACKOFF_CAP_S, 0.5 * 2 ** max(attempts - 1, 0))
    uniform = rng.uniform if rng is not None else random.uniform
    return base * uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)


class OutboxWorker:
    def __init__(
        self,
        client: EisClient,
        keyring: Keyring,
        journal: Journal,
        environment: str,
        on_change: Callable[[], None],
        key_source: IdKeySource | None = None,
        exporter: Exporter | None = None,
        poll_s: float = 60.0,
        lane: str = "",
        training: bool = False,
        events_on: bool = False,
        system_signer: Signer | None = None,
        photo_image: PhotoImage | None = None,
        anchors: Path | None = None,
    ) -> None:
        """``photo_image``: the JPEG of a photo a card names (id, SHA-256), from the lane's photo
        store: a card refers to its photos, their images are sent from their files. ``anchors``: the
        checkpoint file, whose lines go to EIS, the witness outside the lane (``app/eis/witness.py``)."""
        self.client = client
        self.keyring = keyring
        self.exchanges = ExchangeLog(keyring)  # G2, chained
        self.journal = journal
        self.environment = environment
        self.on_change = on_change
        self.wake = asyncio.Event()
        self.key_source = key_source
        self._key_expired_said = ""  # the fingerprint whose expiry is journalled (once per key)
        self._key_refused = ""  # the fingerprint EIS refused (until a message passes)
        # R3.19: the EIS operator's requests for the log history, asked for every poll_s
        self.exporter = exporter
        self.poll_s = poll_s
        self._next_poll = 0.0
        self.lane, self.training = lane, training
        # R3.5, R9: the inspections' events as they happen (off: the lane sends cards only)
        self.events_on = events_on
        # G1, G3: the centre's key signs what no employee signed (app/eis/system_key.py)
        self.system_signer = system_signer
        self.photo_image = photo_image
        self._events_attempts = 0  # of the batch being sent
        self._events_next = 0.0  # no attempt before (back-off)
        self._events_single_until = 0  # one event per message below this seq (after a rejection)
        self.lines = witness.Lines(anchors) if anchors is not None else None
        self._witness_queue: list[tuple[int, str]] = []  # read from the file, not yet acknowledged
        self._witnessed: int | None = None  # the last checkpoint EIS acknowledged (None: not read yet)
        self._witness_attempts = 0
        self._witness_next = 0.0

    def events_now(self) -> None:
        """Deliver the events at the next turn, whatever their back-off (a technician's retry)."""
        self._events_next = 0.0
        self.wake.set()

    def key_state(self) -> dict[str, Any]:
        state = self.key_source.state() if self.key_source else {}
        return state | {"refused": bool(self._key_refused)} if state else state

    async def _note_key_refusal(self, result: Delivery) -> None:
        """R5: EIS refused the identification key (not issued, or expired on its side): messages wait
        for a new key; said once per key in the journal, and on the screen until a message passes."""
        if result.http_status != KEY_REFUSED:
            if result.outcome == "accepted":
                self._key_refused = ""
            return
        fingerprint = self.key_state().get("fingerprint", "?")
        if self._key_refused != fingerprint:
            self._key_refused = fingerprint
            detail = result.detail[:200]
            await self.journal.write("eis", "eis_key_refused", fingerprint=fingerprint, detail=detail)
            log.warning("EIS refuses identification key %s: messages wait for a new key", fingerprint)
            self.on_change()

    async def _key_usable(self) -> bool:
        """R5: an expired identification key stops delivery (cards wait); journalled once per key."""
        if self.key_source is None:
            return True
        state = self.key_source.state()
        if not state["expired"]:
            self._key_expired_said = ""
            return True
        if self._key_expired_said != state["fingerprint"]:
            self._key_expired_said = state["fingerprint"]
            await self.journal.write("laned", "eis_key_expired", fingerprint=state["fingerprint"])
            log.warning("EIS identification key %s expired: cards wait in the outbox", state["fingerprint"])
            self.on_change()
        return False

    async def production(self) -> bool | None:
        """Whether the endpoint is production: by the configured label, or by its URL or certificate
        whatever the label says; None when it cannot be told now."""
        return True if self.environment == "production" else await self.client.production()

    async def _transport_signature(self, message: dict[str, Any], kind: str) -> str | None:
        """The centre's signature of a message no employee signed, as the route carries it."""
        if self.system_signer is None:
            return None
        return await self.client.sign_by(message, self.system_signer, kind)

    async def _may_talk(self) -> bool:
        """A training lane says nothing to a production endpoint, nor to one it cannot tell."""
        return not self.training or await self.production() is False

    async def counts(self) -> dict[str, int]:
        out = {"pending": 0, "accepted": 0, "rejected": 0, "refused": 0}
        for status in out:
            out[status] = await Outbox.filter(status=status).count()
        return out

    async def reconcile(self) -> list[str]:
        """The outbox against the cards chain and the journal, at start (``app/eis/reconcile.py``);
        what was found, for the integrity alarm."""
        return await reconcile(self.keyring, self.journal)

    async def run(self) -> None:
        while True:
            try:
                delay = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # the worker never dies: log, wait, try again
                log.exception("outbox pass failed")
                delay = 5.0
            self.wake.clear()
            try:
                async with asyncio.timeout(delay):
                    await self.wake.wait()
            except TimeoutError:
                pass

    async def deliver_due(self) -> float:
        """Send what is due; return how long to sleep until the next due item."""
        now = time.time()
        if not await self._key_usable():
            return 5.0  # look again soon: a new key may be installed at any moment
        # A card goes after every event before it (per inspection order): only when the feed is level.
        level = await self.send_events() if self.events_on else True
        due = await Outbox.filter(status="pending", next_attempt__lte=now).order_by("id").limit(20)
        for item in due if level else ():
            await self._deliver(item)
        if not level:
            return max(0.05, min(self._events_next - time.time(), 5.0))
        await self.send_checkpoints()
        if self.exporter is not None and time.time() >= self._next_poll and await self._may_talk():
            self._next_poll = time.time() + self.poll_s
            await self.answer_requests()
        wait = self._next_poll - time.time() if self.exporter is not None else 30.0
        if self.events_on:
            wait = min(wait, 1.0)  # events go out within a second of their entry (R3.5)
        nxt = await Outbox.filter(status="pending").order_by("next_attempt").first()
        if nxt is None:
            return max(0.05, min(30.0, wait))
        return max(0.05, min(nxt.next_attempt - time.time(), wait))

    async def send_events(self) -> bool:
        """Send the events that are due, in the journal's order; True when the feed is level with
        the journal (nothing left to send now)."""
        if time.time() < self._events_next:
            return False
        if not await self._may_talk():
            return True  # a training lane's events never go to production (nor to an unknown endpoint)
        pos = await events.position()
        batch, quiet = await events.due(pos, 1 if pos < self._events_single_until else events.BATCH)
        if not batch:
            if quiet > pos:  # entries that name no inspection: passed, the place kept
                async with write_tx() as tx:
                    await events.advance(quiet, tx)
            return quiet == pos  # level, or more entries to look at on the next pass
        key = events.batch_key(batch)
        msg = await events.message(batch, self.lane, self.training, self.keyring)
        self._events_attempts += 1
        result = await self.client.send("events", msg, key, await self._transport_signature(msg, "events"))
        await self._note_key_refusal(result)
        exchange = self.exchanges.row("events", "", key, self._events_attempts, result)
        single_rejected = result.outcome == "rejected" and len(batch) == 1
        async with write_tx() as tx:
            await self.exchanges.append(exchange, tx)
            if result.outcome == "accepted" or single_rejected:
                await events.advance(batch[-1].seq, tx)
            if single_rejected:  # said and shown to the admin, then passed: never retried for ever
                await self.journal.write(
                    "eis",
                    "eis_event_rejected",
                    tx,
                    seq=batch[0].seq,
                    event=batch[0].action,
                    detail=result.detail,
                )
        if result.outcome == "rejected" and not single_rejected:
            self._events_single_until = batch[-1].seq + 1  # find the bad one: one event at a time
            return False
        if result.outcome == "retry":
            self._events_next = time.time() + backoff_s(self._events_attempts)
            return False
        self._events_attempts = 0
        return not (await events.due(batch[-1].seq))[0]

    async def send_checkpoints(self) -> None:
        """R3.10: each signed checkpoint written since the last one EIS acknowledged, in order, once;
        an answer that does not name it is no acknowledgement. One EIS refuses (it holds another line
        under its number, or another link: the file was rewritten) is journalled and passed."""
        if self.lines is None or time.time() < self._witness_next or not await self._may_talk():
            return
        if self._witnessed is None:
            held = await witness.last_acknowledged()
            self._witnessed = held.n if held else 0
        self._witness_queue += [(n, line) for n, line in self.lines.new() if n > self._witnessed]
        while self._witness_queue:
            n, line = self._witness_queue[0]
            key, msg = witness.key(n, line), witness.message(self.lane, self.training, n, line)
            self._witness_attempts += 1
            sig = await self._transport_signature(msg, "checkpoint")
            result = await self.client.send("checkpoint", msg, key, sig)
            await self._note_key_refusal(result)
            if result.outcome == "accepted" and not witness.acknowledges(result.data, n, line):
                result = dataclasses.replace(
                    result, outcome="retry", detail="the answer names another checkpoint"
                )
            async with write_tx() as tx:
                await self.exchanges.append(
                    self.exchanges.row("checkpoint", "", key, self._witness_attempts, result), tx
                )
                if result.outcome == "rejected":
                    await self.journal.write("eis", "eis_checkpoint_refused", tx, n=n, detail=result.detail)
            if result.outcome == "retry":
                self._witness_next = time.time() + backoff_s(self._witness_attempts)
                return
            self._witness_queue.pop(0)
            self._witness_attempts = 0
            self._witnessed = max(self._witnessed, n) if result.outcome == "accepted" else self._witnessed

    async def answer_requests(self) -> int:
        """R3.19: ask EIS for its operator's requests; answer each request for the log history with
        the signed export of its period, once (the journal says which were answered). Returns how
        many were answered now."""
        ask, key = {"contract": CONTRACT_VERSION}, f"requests-{uuid.uuid4()}"
        asked = await self.client.send("requests", ask, key, await self._transport_signature(ask, "requests"))
        await self.exchanges.trace("requests", "", asked, 1, key)
        if asked.outcome != "accepted" or not isinstance(asked.data, dict):
            return 0
        # answered, or found wrong (said once in the journal, not at every poll)
        answered = {
            str(e.details.get("request")) for e in await Journal.events("eis_log_sent", "eis_log_request_bad")
        }
        sent = 0
        listed = asked.data.get("requests", [])
        for req in listed if isinstance(listed, list) else []:  # an answer of another shape asks nothing
            if not isinstance(req, dict):
                continue
            rid = str(req.get("id", ""))
            if req.get("kind") != "log_history" or not rid or rid in answered:
                continue
            try:
                start, end = float(req["from"]), float(req["to"])
                doc = await self.exporter(start, end, rid)  # type: ignore[misc]
            except (KeyError, TypeError, ValueError, OtolaneError) as exc:
                await self.journal.write("eis", "eis_log_request_bad", request=rid, detail=str(exc)[:200])
                continue
            signature = await self._transport_signature(doc, "history")
            result = await self.client.send("history", doc, f"history-{rid}", signature)
            await self.exchanges.trace("history", "", result, 1, f"history-{rid}")
            if result.outcome == "accepted":
                sent += 1
                await self.journal.write(
                    "eis", "eis_log_sent", request=rid, entries=len(doc["entries"]), receipt=result.receipt
                )
            else:
                log.warning("the log history for request %s was not taken: %s", rid, result.detail)
        return sent

    async def _deliver(self, item: Outbox) -> None:
        card = await Card.get(card_id=item.card_id)
        payload: dict[str, Any] = self.keyring.open_json(card.sealed, f"cards:{card.card_id}")
        if item.training or payload.get("training"):
            # never to production, whatever the configuration calls the endpoint (URL, certificate)
            production = await self.production()
            if production is None:  # the endpoint cannot be told now: the card waits
                item.next_attempt = time.time() + backoff_s(item.attempts + 1)
                item.last_error = (
                    f"cannot tell whether the endpoint is production: {self.client.production_error}"
                )
                async with write_tx() as tx:
                    await item.save(update_fields=list(DELIVERY_FIELDS), using_db=tx)
                return
            if production:
                item.status, item.last_error = "refused", "training card, production endpoint"
                await self._settle(item, "eis_refused_training", endpoint=self.client.base_url)
                self.on_change()
                return
        item.attempts += 1
        if not await self._send_photos(item, payload):
            return
        payload = card_message(payload)  # its photos by hash: they went before it
        signature = item.signature or await self._transport_signature(payload, "card")
        result = await self.client.submit_card(payload, item.idempotency_key, signature)
        await self._note_key_refusal(result)
        # G2: every exchange is traceable: card, key, attempt, outcome, what EIS said.
        log.info(
            "EIS card %s key %s attempt %d: %s %s %s",
            item.card_id,
            item.idempotency_key,
            item.attempts,
            result.outcome,
            result.receipt,
            result.detail,
        )
        item.updated = time.time()
        exchange = self._exchange(item, result)
        if result.outcome == "accepted":
            item.status, item.receipt, item.last_error = "accepted", result.receipt, ""
            await self._settle(item, "eis_accepted", exchange, receipt=result.receipt)
        elif result.outcome == "rejected":
            item.status, item.last_error = "rejected", result.detail
            await self._settle(item, "eis_rejected", exchange, detail=result.detail)
        else:
            item.next_attempt = time.time() + backoff_s(item.attempts)
            item.last_error = result.detail
            async with write_tx() as tx:
                await item.save(update_fields=list(DELIVERY_FIELDS), using_db=tx)
                await self.exchanges.append(exchange, tx)
        self.on_change()

    async def _send_photos(self, item: Outbox, card: dict[str, Any]) -> bool:
        """A card's photos, each once (idempotency key: the photo id), before the card; True when
        EIS holds them all. Each needs no signature of its own: the signed card names its hash."""
        sent = await self.exchanges.accepted_photos(item.card_id)
        for photo in card.get("photos", []):
            if photo["photo_id"] in sent:
                continue
            try:
                msg = photo_message(card["card_id"], photo, await self._image(photo))
            except OtolaneError as exc:  # its file is gone or changed: said, and tried again
                item.next_attempt = time.time() + backoff_s(item.attempts)
                item.last_error = f"photo {photo['photo_id']}: {exc.message}"[:500]
                async with write_tx() as tx:
                    await item.save(update_fields=list(DELIVERY_FIELDS), using_db=tx)
                self.on_change()
                return False
            result = await self.client.send("photo", msg, msg["photo_id"])
            await self._note_key_refusal(result)
            exchange = self.exchanges.row("photo", item.card_id, msg["photo_id"], item.attempts, result)
            if result.outcome != "accepted":
                # the card waits for its photo (a refused photo is the lane's fault: said, and retried)
                item.next_attempt = time.time() + backoff_s(item.attempts)
                item.last_error = f"photo {msg['photo_id']}: {result.detail}"[:500]
                async with write_tx() as tx:
                    await item.save(update_fields=list(DELIVERY_FIELDS), using_db=tx)
                    await self.exchanges.append(exchange, tx)
                self.on_change()
                return False
            async with write_tx() as tx:
                await self.exchanges.append(exchange, tx)
        return True

    async def _image(self, photo: dict[str, Any]) -> str:
        """A photo's JPEG, base64: carried by a card formed before photos were kept apart, else read
        from the photo store."""
        if "jpeg" in photo:
            return str(photo["jpeg"])
        if self.photo_image is None:
            raise OtolaneError("photo_missing", "this lane has no photo store", photo=photo["photo_id"])
        return base64.b64encode(await self.photo_image(photo["photo_id"], photo["sha256"])).decode()

    def _exchange(self, item: Outbox, result: Delivery) -> dict[str, Any]:
        """G2: the trace of one attempt, stored in the same transaction as its outcome (one write per
        attempt; a crash before it leaves the row pending and the attempt is made again)."""
        return self.exchanges.row("card", item.card_id, item.idempotency_key, item.attempts, result)

    async def queue(self, limit: int) -> list[dict[str, Any]]:
        """D4: each card's state with EIS, newest first — what the operator and the admin see."""
        rows = await Outbox.all().order_by("-id").limit(limit)
        cards = {c.card_id: c for c in await Card.filter(card_id__in=[r.card_id for r in rows])}
        out = []
        for r in rows:
            card = cards.get(r.card_id)
            facts = self.keyring.open_json(card.sealed, f"cards:{card.card_id}") if card else {}
            out.append(
                {
                    "card_id": r.card_id,
                    "number": facts.get("number"),
                    "plate": (facts.get("vehicle") or {}).get("plate", ""),
                    "verdict": card.verdict if card else "",
                    "status": r.status,
                    "attempts": r.attempts,
                    "error": r.last_error,
                    "receipt": r.receipt,
                    "updated": r.updated,
                    "signed": bool(r.signature),
                }
            )
        return out

    async def _settle(
        self, item: Outbox, action: str, exchange: dict[str, Any] | None = None, **details: Any
    ) -> None:
        """A delivery's outcome, its exchange and its journal entry, in one transaction (the ledger
        holds one to the other)."""
        async with write_tx() as tx:
            await item.save(update_fields=list(DELIVERY_FIELDS), using_db=tx)
            if exchange is not None:
                await self.exchanges.append(exchange, tx)
            await self.journal.write("eis", action, tx, card_id=item.card_id, **details)

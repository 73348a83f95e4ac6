"""Forming the card: the review before it is signed, its assembly from stored readings, and storing
it with its outbox row, the inspection's end and its journal entry in one transaction.

Owns the one-card-at-a-time lock and the card's signed anchor (the chain heads it was formed on).
A card is assembled only from stored readings (:func:`stored_readings`, R3.6); a reading that is not
stored refuses the card and sends its step back. It never renders, prints or delivers a card
(``app/documents/issue.py``, ``app/eis/outbox.py``) and never runs a step.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NoReturn

from app.config import Config
from app.domain.clock import LaneClock
from app.eds.errors import EdsError
from app.eis.contract import CONTRACT_VERSION, card_message
from app.eis.outbox import OutboxWorker
from app.errors import OtolaneError, Refused
from app.lane import bus
from app.lane.cameras import Cameras
from app.lane.card import CardIncomplete, assemble_card
from app.lane.recorder import Recorder, StorageFailed, reading_aad
from app.lane.step_record import inspection_ids, steps_json
from app.lane.steps import Steps
from app.lane.views import screen_items
from app.storage.anchor import sign_heads
from app.storage.chain import ChainWriter
from app.storage.crypto import Keyring
from app.storage.db import write_tx
from app.storage.models import Card, Inspection, Outbox, Reading, User
from app.storage.store import Store

log = logging.getLogger("otolane.lane")


async def stored_readings(keyring: Keyring, insp_id: str) -> list[dict[str, Any]]:
    """The inspection's committed readings, opened: the only source of a card (R3.6)."""
    rows = await Reading.of(insp_id)
    return [
        {
            "step": r.step,
            "channel": r.channel,
            "ts": r.ts,
            "device_serial": r.device_serial,
            **keyring.open_json(r.sealed, reading_aad(r.inspection_id, r.channel, r.ts)),
        }
        for r in rows
    ]


class Forming:
    def __init__(
        self,
        cfg: Config,
        clock: LaneClock,
        store: Store,
        recorder: Recorder,
        steps: Steps,
        cameras: Cameras,
        outbox: OutboxWorker,
        publish: Callable[[bus.Event], None],
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
        checkpoint: Callable[[str], Awaitable[None]],
        refresh_outbox: Callable[[], Awaitable[None]],
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.store = store
        self.keyring = store.keyring
        self.journal = store.journal
        self.recorder = recorder
        self.steps = steps
        self.cameras = cameras
        self.outbox = outbox
        self.publish = publish
        self.spawn = spawn
        self.checkpoint = checkpoint
        self.refresh_outbox = refresh_outbox
        self.cards = ChainWriter(Card)
        self._forming = asyncio.Lock()  # one card formed at a time (its signing may wait on a person)

    async def _inspector(self, operator: str, signer: Any) -> dict[str, Any]:
        """Who carried the inspection out and signs its card (R3.1): the employee's name from their
        account, and — in a key session — the certificate their signature will be checked by."""
        user = await User.get_or_none(username=operator)
        out: dict[str, Any] = {"username": operator, "full_name": user.full_name if user else ""}
        info = getattr(signer, "info", None)
        if info is not None:
            out["certificate"] = {
                "common_name": info.common_name,
                "iin": info.iin,
                "serial": info.serial,
                "issuer": info.issuer,
                "not_before": info.not_before.isoformat(),
                "not_after": info.not_after.isoformat(),
            }
        return out

    async def _assemble(
        self, insp: Inspection, operator: str, card_id: str, now: float, signer: Any = None
    ) -> dict[str, Any]:
        """The card from the stored readings (raises CardIncomplete); nothing is written."""
        private = self.keyring.open_json(insp.sealed, f"inspections:{insp.id}")
        card = assemble_card(
            contract=CONTRACT_VERSION,
            card_id=card_id,
            insp=insp,
            vehicle=private,
            lane=self.cfg.lane,
            inspector=await self._inspector(operator, signer),
            finished=now,
            readings=await stored_readings(self.keyring, insp.id),
            devices=[
                {
                    "id": d.id,
                    "kind": d.kind,
                    "model": d.model,
                    "serial": d.serial,
                    "verified_until": d.verified_until.isoformat(),
                }
                for d in self.cfg.devices
            ],
            lane_time=self.clock.at,
        )
        trigger = next((sid for sid, st in insp.steps.items() if st.get("photo")), None)
        if trigger is not None:
            # R3.7, R3.9: the photo of the brake test, from a camera registered as it was then
            photos = await self.cameras.photos_for_card(insp.id, trigger)
            if not photos:
                raise CardIncomplete([{"step": trigger, "channel": "photo"}])
            card["photos"] = photos
        return card

    async def preview(self, operator: str, insp_id: str) -> dict[str, Any]:
        """What the card would say if formed now — for the review before it is signed: the items
        judged so far, the verdict, and every hold still in the way. Nothing is stored or sent."""
        insp = self.steps.require(insp_id)
        now = self.clock.now()
        holds = self.steps.card_holds(insp, now)
        await self.recorder.flush()
        partial = copy.copy(insp)
        # judge what is measured; the holds say what is not
        partial.steps = steps_json({sid: s for sid, s in self.steps.steps.items() if s.status == "done"})
        try:
            card = await self._assemble(partial, operator, "preview", now)
        except CardIncomplete as exc:
            return {
                "holds": [h.as_dict() for h in holds],
                "missing": exc.missing,
                "items": [],
                "verdict": None,
            }
        return {
            "holds": [h.as_dict() for h in holds],
            "missing": [],
            "items": screen_items(card),
            "verdict": card["verdict"] if not holds else None,
            "next_inspection": card["next_inspection"],
        }

    async def form(self, operator: str, insp_id: str, signer: Any = None) -> dict[str, Any]:
        """``signer``: the operator's NCA key of a key session, or their token through NCALayer (G3):
        the card is signed before the write, so no one waits on the lane's write lock while a person
        types a PIN; one card is formed at a time."""
        async with self._forming:
            insp = self.steps.require(insp_id)
            now = self.clock.now()
            holds = self.steps.card_holds(insp, now)
            if holds:
                await self.journal.write(
                    operator, "card_refused", **inspection_ids(insp), holds=[h.code for h in holds]
                )
                raise Refused("card_held", "the card cannot be formed now", [h.as_dict() for h in holds])
            await self.recorder.flush()  # StorageFailed (503): nothing is formed, nothing lost
            card_id = str(uuid.uuid4())
            try:
                card = await self._assemble(insp, operator, card_id, now, signer)
            except CardIncomplete as exc:
                await self._refuse_incomplete(operator, insp, exc)
            # The heads the card was formed on, signed: EIS keeps them, no insider can rewrite them
            # (rows only append, so heads read now name rows that stay).
            card["anchor"] = sign_heads(self.store.key, await self.store.heads(), card_id)
            # G3: the employee signs the exact body EIS receives, in the form the route carries it
            try:
                message = card_message(card)  # the photos by hash: their bytes travel apart
                signature = await self.outbox.client.sign_by(message, signer) if signer is not None else None
            except EdsError as e:  # the PIN dialog cancelled, NCALayer gone: nothing formed, try again
                raise OtolaneError(e.code, e.message, status=409, **e.params) from e
            if self.steps.current is not insp:  # aborted while the person was signing
                raise OtolaneError("inspection_unknown", "no such open inspection", status=404)
            await self._store(operator, insp, card, now, signature, signer if signature else None)
            self.steps.close()
        self.spawn(self.checkpoint("card_formed"))
        self.outbox.wake.set()
        await self.refresh_outbox()
        self.publish(bus.inspection(None))
        return {
            "card_id": card_id,
            "inspection_id": card["inspection_id"],
            "verdict": card["verdict"],
            "items": card["items"],
            "readings": card["readings"],
            "duration_s": card["duration_s"],
            "photos": [{k: v for k, v in p.items() if k != "jpeg"} for p in card.get("photos", [])],
        }

    async def _store(
        self,
        operator: str,
        insp: Inspection,
        card: dict[str, Any],
        now: float,
        signature: str | None,
        signer: Any,
    ) -> None:
        """The card, its outbox row, the inspection's end and the journal entry: one transaction."""
        card_id = card["card_id"]
        try:
            async with write_tx() as tx:
                await self.cards.append(
                    [
                        {
                            "card_id": card_id,
                            "inspection_id": insp.id,
                            "verdict": card["verdict"],
                            "created": now,
                            "sealed": self.keyring.seal_json(card, f"cards:{card_id}", compress=True),
                        }
                    ],
                    tx,
                )
                await Outbox.create(
                    card_id=card_id,
                    idempotency_key=card_id,
                    training=insp.training,
                    updated=time.time(),
                    signature=signature,
                    using_db=tx,
                )
                insp.status, insp.finished = "carded", now
                await insp.save(update_fields=["status", "finished"], using_db=tx)
                await self.journal.write(
                    operator,
                    "card_formed",
                    tx,
                    **inspection_ids(insp),
                    card_id=card_id,
                    verdict=card["verdict"],
                    training=insp.training,
                    signed_by=signer.info.serial if signer is not None else None,
                )
        except Exception as exc:
            insp.status, insp.finished = "open", None
            log.error("forming the card of inspection %d failed: %s", insp.number, exc)
            raise StorageFailed.wrap(exc) from exc

    async def _refuse_incomplete(self, operator: str, insp: Inspection, exc: CardIncomplete) -> NoReturn:
        """A step marked done whose readings are not stored runs again; the card is refused."""
        steps = sorted({m["step"] for m in exc.missing})
        holds = [{"code": "reading_missing", "params": m} for m in exc.missing]
        await self.journal.write(
            operator, "card_refused", **inspection_ids(insp), holds=["reading_missing"], missing=exc.missing
        )
        change = self.steps.reopen(steps, "step_readings_missing")
        await self.steps.save(insp, change, "laned", "steps_reopened", steps=steps, reason="readings missing")
        self.steps.changed()
        raise Refused("card_held", "the card cannot be formed: readings are missing", holds)

"""Vehicles in and out of the lane: starting, aborting and closing an inspection, the plate read off
the camera, a returning vehicle's first card, and the open inspection found at start.

Owns the lane's recognitions (a client names one, it cannot make one up) and the inspection's
opening and closing rows and journal entries (one transaction each). It hands the open inspection
to the steps (:meth:`Steps.open`); it never runs a step or forms a card.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from app import ledger
from app.config import Config
from app.domain import inspection as rules
from app.domain.reinspection import check_first_card
from app.domain.vehicle import vehicle_record
from app.errors import OtolaneError, Refused
from app.journal import Journal
from app.lane import bus
from app.lane.cameras import CAMERA_KIND, Cameras
from app.lane.clock import ClockStart
from app.lane.forming import stored_readings
from app.lane.step_record import inspection_ids
from app.lane.steps import Steps
from app.storage.crypto import Keyring
from app.storage.db import write_tx
from app.storage.models import Card, Inspection, JournalEntry

log = logging.getLogger("otolane.lane")
#: recognitions kept for an inspection to name, and for how long (seconds)
RECOGNITIONS_KEPT = 20
RECOGNITION_MAX_AGE_S = 600


class Intake:
    def __init__(
        self,
        cfg: Config,
        clock_start: ClockStart,
        keyring: Keyring,
        journal: Journal,
        steps: Steps,
        cameras: Cameras,
        publish: Callable[[bus.Event], None],
        recognition_used: Callable[[str], None] = lambda rid: None,
    ) -> None:
        """``recognition_used(id)``: an inspection was opened from that plate reading."""
        self.cfg = cfg
        self.clock_start = clock_start
        self.clock = clock_start.clock
        self.keyring = keyring
        self.journal = journal
        self.steps = steps
        self.cameras = cameras
        self.publish = publish
        self.recognition_used = recognition_used
        self._recognitions: dict[str, dict[str, Any]] = {}  # recognition id -> the lane's reading
        #: the installed program's files that differ from its signed release (R10.7), found at start
        self.install_problems: list[str] = []
        #: set once that check is done (the lane service clears it while the check runs)
        self.installation_checked = asyncio.Event()
        self.installation_checked.set()

    @property
    def training(self) -> bool:
        return bool(self.cfg.lane["training"])

    # --- at start --------------------------------------------------------------------------
    async def resume(self) -> list[str]:
        """The open inspection left by the last run, if it can be trusted, with its steps recovered and
        its results shown again; returns what its record got wrong (integrity alarms)."""
        insp = await Inspection.filter(status="open").order_by("-number").first()
        if insp is None:
            return []
        problems = ledger.inspection_problems(ledger.inspection_row(insp), await self._journal_of(insp))
        # Trusted only as its journal entries have it (its start time is what R12 measures, its done
        # steps what the card is made of), and only on the clock it began on.
        reason = ""
        if problems:
            reason = "its record does not match the journal"
        elif self.clock_start.fresh or insp.training != self.training:
            reason = f"the lane clock was restarted ({self.clock_start.reason or 'mode changed'})"
        if reason:
            log.warning("inspection %d aborted at start: %s", insp.number, reason)
            await self._close(insp, "aborted", "laned", "inspection_aborted", reason=reason)
            return problems
        self.steps.open(insp)
        await self.steps.recover()
        self.steps.restore_results(await stored_readings(self.keyring, insp.id))
        return problems

    async def _journal_of(self, insp: Inspection) -> list[ledger.Entry]:
        """The inspection's journal entries, found from its start (the newest inspections first)."""
        start = None
        before: int | None = None
        while start is None:
            q = JournalEntry.filter(action="inspection_started")
            if before is not None:
                q = q.filter(seq__lt=before)
            page = await q.order_by("-seq").limit(200)
            if not page:
                return []
            start = next((e for e in page if e.details.get("inspection_id") == insp.id), None)
            before = page[-1].seq
        events = await JournalEntry.filter(action__in=ledger.INSPECTION_ACTIONS, seq__gte=start.seq).order_by(
            "seq"
        )
        return [(e.action, e.details) for e in events if e.details.get("inspection_id") == insp.id]

    # --- a vehicle in ------------------------------------------------------------------------
    async def start(
        self,
        operator: str,
        plate: str,
        category: str,
        fuel: str,
        axles: int,
        owner: str = "",
        **record: Any,
    ) -> Inspection:
        """``record``: the rest of the vehicle record (year, vin, make_model, catalyst, turbo, use);
        ``reinspection_of``: the failed card of a returning vehicle (only its failed items are
        measured again); ``recognition``: the lane's plate reading the operator confirmed or corrected."""
        reinspection_of = str(record.pop("reinspection_of", "") or "")
        rid = str(record.pop("recognition", "") or "")
        recognition = self._recognition(rid)
        vehicle = vehicle_record(
            plate=plate,
            category=category,
            fuel=fuel,
            axles=axles,
            owner=owner,
            this_year=dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).year,
            **record,
        )
        if not self.training:
            await self.installation_checked.wait()  # seconds after the start, once
        if self.install_problems and not self.training:
            raise Refused(
                "install_modified",
                f"the installed program differs from its signed release ({self.install_problems[0]}"
                f"{' …' if len(self.install_problems) > 1 else ''}): no inspection until an administrator "
                "reinstalls or updates it (otolane integrity check names every file)",
                [{"code": "install_modified", "params": {"files": len(self.install_problems)}}],
            )
        current = self.steps.current
        if current is not None:
            raise Refused(
                "inspection_open",
                "an inspection is already open on this lane",
                [{"code": "inspection_open", "params": {"number": current.number}}],
            )
        now = self.clock.now()
        iid = str(uuid.uuid4())
        kinds = tuple(sorted({d.kind for d in self.cfg.devices}))
        plan = rules.plan(category, axles, fuel, kinds)
        first = await self._first_card(reinspection_of, vehicle.plate, now) if reinspection_of else None
        if first is not None:
            plan = rules.reinspection_plan(plan, [f["id"] for f in first["failures"]])
        steps: dict[str, Any] = {sd.id: {"status": "pending", "run": 0, **sd.as_dict()} for sd in plan}
        photo = self.cameras.trigger_step(category, axles)
        if photo in steps:
            # fixed with the plan: its brake test takes the photo, so its cameras are its equipment
            # (held until they are connected and admitted, R3.7)
            steps[photo]["photo"] = True
            steps[photo]["devices"] = [*steps[photo]["devices"], CAMERA_KIND]
        steps["identification"] |= {"status": "done", "started": now, "finished": now}
        async with write_tx() as tx:
            number = await next_number(tx)
            # The facts R12 and the card rest on: in the row, and the same in the chained journal.
            facts = {
                "number": number,
                "started": now,
                "category": category,
                "fuel": fuel,
                "axles": axles,
                "training": self.training,
                "operator": operator,
            }
            insp = await Inspection.create(
                id=iid,
                sealed=self.keyring.seal_json(
                    vehicle.sealed()
                    | ({"reinspection_of": first} if first else {})
                    | ({"recognition": recognition} if recognition else {}),
                    f"inspections:{iid}",
                ),
                steps=steps,
                using_db=tx,
                **facts,
            )
            await self.journal.write(
                operator,
                "inspection_started",
                tx,
                inspection=number,
                inspection_id=iid,
                **facts,
                vehicle=vehicle.public(),
                reinspection_of=first["card_id"] if first else None,
            )
            if recognition and recognition["plate"] != vehicle.plate:
                # R3.2: both texts are stored (sealed, with the inspection); the correction is journalled
                await self.journal.write(
                    operator,
                    "plate_corrected",
                    tx,
                    inspection=number,
                    inspection_id=iid,
                    confidence=recognition["confidence"],
                    camera=recognition["camera"],
                    recognised=bool(recognition["plate"]),
                )
        self.steps.open(insp)
        self.steps.changed()
        if recognition:
            self.recognition_used(rid)
        return insp

    async def recognise_plate(self, camera: str = "") -> dict[str, Any]:
        """R3.2: the plate on a plate camera's frame now; kept by its id for the inspection it starts."""
        result = await self.cameras.recognise(camera)
        rid = str(uuid.uuid4())
        self._recognitions[rid] = {
            "plate": result["plate"] or "",
            "confidence": result["confidence"],
            "camera": result["camera"],
            "at": time.time(),
        }
        while len(self._recognitions) > RECOGNITIONS_KEPT:
            self._recognitions.pop(next(iter(self._recognitions)))
        return result | {"recognition": rid}

    def _recognition(self, rid: str) -> dict[str, Any] | None:
        """The lane's own recognition result an inspection names (a client cannot make one up)."""
        if not rid:
            return None
        found = self._recognitions.get(rid)
        if found is None or time.time() - found["at"] > RECOGNITION_MAX_AGE_S:
            raise OtolaneError("recognition_unknown", "read the plate again: that reading is gone")
        return found

    async def _first_card(self, card_id: str, plate: str, now: float) -> dict[str, Any]:
        """The failed card a returning vehicle is re-inspected against, checked by the domain's rule.
        ``card_id`` may be the card's number as printed (the operator types that; the journal says
        which card it is)."""
        number = int(card_id) if card_id.isdigit() and len(card_id) <= 9 else None
        if number is not None:  # by the inspection's unique number, then the card's unique inspection
            insp = await Inspection.get_or_none(number=number)
            row = await Card.get_or_none(inspection_id=insp.id) if insp is not None else None
        else:
            row = await Card.get_or_none(card_id=card_id[:36])
        card = self.keyring.open_json(row.sealed, f"cards:{row.card_id}") if row is not None else None
        if row is None or card is None or (number is not None and card.get("number") != number):
            # the chained card has the say: a number moved in the inspections table finds no card
            raise OtolaneError(
                "card_unknown", "no such card", status=404, card_id=card_id[:40], field="reinspection_of"
            )
        check_first_card(card, row.created, plate, self.training, now)
        return {"card_id": card["card_id"], "number": card["number"], "failures": card["failures"]}

    # --- a vehicle out ------------------------------------------------------------------------
    async def _close(self, insp: Inspection, status: str, actor: str, action: str, **details: Any) -> None:
        insp.status, insp.finished = status, self.clock.now()
        async with write_tx() as tx:
            await insp.save(update_fields=["status", "finished"], using_db=tx)
            await self.journal.write(actor, action, tx, **inspection_ids(insp), **details)

    async def abort(self, operator: str, insp_id: str, reason: str) -> None:
        insp = self.steps.require(insp_id)
        await self._close(insp, "aborted", operator, "inspection_aborted", reason=reason)
        self.steps.close()
        self.publish(bus.inspection(None))


async def next_number(tx: Any) -> int:
    """The next inspection's (and its card's) number: after the last stored, and after every number
    used before a restore went back to an older backup (``data_restored``, R3.12) — a number EIS or
    a printed card already carries is never given again."""
    last = await Inspection.all().using_db(tx).order_by("-number").first()
    restored = await JournalEntry.filter(action="data_restored").using_db(tx).order_by("-seq").first()
    floor = int(restored.details.get("last_number") or 0) if restored else 0
    return max(last.number if last else 0, floor) + 1

"""The lane service: the one owner of the lane's state inside ``laned``.

Devices report through their supervisors into :meth:`LaneService.on_device`; readings of a running
step go to the :class:`~app.lane.recorder.Recorder`, which seals, chains and commits them in small
batches and keeps them until they are stored; steps and the card are gated by the pure rules of
``app/domain/inspection.py``; every change is published to the stream subscribers. Cameras,
photos and plate reading live in ``app/lane/cameras.py`` and ``app/lane/photos.py``: the service
hands them the brake readings of the step that takes the photo and asks them for the card's photos.

What the operator is told is committed first (issue #7): a step is reported done only when its
readings and the step's own record are stored; a card only when it, its outbox row and its journal
entry are; the card carries the chain heads it was formed on, signed by the lane's key.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, NoReturn

from app import ledger
from app.config import Config
from app.documents.card_pdf import render_card
from app.documents.certificate_pdf import render_certificate
from app.documents.printing import PrintJob, job_done, print_pdf
from app.domain import inspection as rules
from app.domain.categories import min_duration_s
from app.domain.norms import visual_checks
from app.domain.periodicity import lane_date
from app.domain.vehicle import vehicle_record
from app.eds.errors import EdsError
from app.eis.contract import CONTRACT_VERSION, card_message
from app.eis.outbox import OutboxWorker
from app.errors import OtolaneError, Refused
from app.lane.cameras import CAMERA_KIND, Cameras
from app.lane.card import CardIncomplete, assemble_card
from app.lane.clock import ClockStart
from app.lane.recorder import Recorder, StorageFailed, reading_aad
from app.lane.stands import Slot, admit, registrations, replaced
from app.storage.anchor import sign_heads
from app.storage.chain import ChainWriter
from app.storage.db import write_tx
from app.storage.models import Card, Inspection, JournalEntry, Outbox, Reading
from app.storage.store import Store
from drivers.base import Device, DeviceStatus, Event, StatusChange, Why, supervise
from drivers.base import Reading as DeviceReading

#: A failed vehicle may come back for its failed items within this many days (UNVERIFIED: the RF
#: rules give 20 days; the KZ figure was not found — docs/norms.md).
REINSPECTION_DAYS = 20
log = logging.getLogger("otolane.lane")
MAX_QUEUE = 2000
#: A stand that sends no result this long (real seconds) after its test started has lost it (a garbled
#: frame, a vehicle that did not pass): the step goes back to waiting, and the screen says to run it again.
STEP_RESULT_TIMEOUT_S = 20.0
#: A step whose readings the database has not taken for this long (real seconds) goes back to waiting,
#: with a notice; its readings stay queued and are stored when the database takes them again.
STORE_TIMEOUT_S = 10.0
#: How often the chain heads are signed into the checkpoint file when they moved (besides every step
#: finished, card formed, start and stop).
CHECKPOINT_EVERY_S = 30.0


class Subscriber:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(MAX_QUEUE)
        self.dropped = 0

    def put(self, event: dict[str, Any]) -> None:
        # A slow client (a bad SSH link) loses old live values, never blocks the lane.
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
                self.dropped += 1
        self.queue.put_nowait(event)


class LaneService:
    def __init__(
        self,
        cfg: Config,
        store: Store,
        clock_start: ClockStart,
        outbox: OutboxWorker,
        drivers: dict[str, Device],
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.keyring = store.keyring
        self.journal = store.journal
        self.clock_start = clock_start
        self.clock = clock_start.clock
        self.outbox = outbox
        self.slots = {d.id: Slot(d, drivers[d.id]) for d in cfg.devices}
        self.recorder = Recorder(store.keyring, store.journal)
        self.cards = ChainWriter(Card)
        self.cameras = Cameras.of(cfg, store, self.recorder.add_event, self.publish)
        self.cameras.on_lost = self._camera_lost
        self.subscribers: set[Subscriber] = set()
        self.current: Inspection | None = None
        #: what the lane found wrong with its own records at start (shown on every screen, journalled)
        self.alarms: list[str] = []
        self._storage_shown: dict[str, Any] = {"ok": True}
        self._storage_published = 0.0
        self._tasks: list[asyncio.Task[Any]] = []
        self._bg: set[asyncio.Task[Any]] = set()
        self._checkpoint_lock = asyncio.Lock()
        self.outbox_counts: dict[str, int] = {}
        self._last_publish = 0.0
        #: step -> channel -> final value of the open inspection (shown on screen; rebuilt on start)
        self._results: dict[str, dict[str, float]] = {}
        #: step -> channel -> recent live values of a running step (stability and window gates)
        self._recent: dict[str, dict[str, list[float]]] = {}
        self._asked_result: dict[str, float] = {}
        self._forming = asyncio.Lock()  # one card formed at a time (its signing may wait on a person)
        self._started_real: dict[str, float] = {}
        self._cameras_published = 0.0
        self._recognitions: dict[str, dict[str, Any]] = {}  # recognition id -> the lane's reading
        outbox.on_change = lambda: self._spawn(self.refresh_outbox())

    # --- life cycle ---------------------------------------------------------------
    async def replace_device(
        self, admin: str, device_id: str, certificate: str, verified_until: str
    ) -> dict[str, Any]:
        """Register the stand now on the line (its identity as the hardware reports it) in place of
        the registered one: a logged admin act (R3.15). Readings of the old stand stay as they are.
        The journal entry is the registration (``app/lane/stands.py``)."""
        slot = self.slots.get(device_id)
        if slot is None:
            raise OtolaneError("device_unknown", "no such device", status=404)
        ident = slot.identity
        if ident is None or slot.status not in (DeviceStatus.CONNECTED, DeviceStatus.STALE):
            raise OtolaneError(
                "device_no_identity", "connect the new stand first: its identity is read from it"
            )
        try:
            until = dt.date.fromisoformat(verified_until)
        except ValueError:
            raise OtolaneError("date_bad", "dates are YYYY-MM-DD", value=verified_until[:40]) from None
        if until < dt.date.today():
            raise OtolaneError("verification_expired", "that verification has expired", date=verified_until)
        certificate = certificate.strip()
        if not certificate or len(certificate) > 64:
            raise OtolaneError("certificate_bad", "the verification certificate number is 1–64 characters")
        if self._running_step(slot.cfg.kind):
            raise OtolaneError("device_busy", "a step is running on this device", status=409)
        old = slot.cfg
        details = {
            "device": old.id,
            "old_model": old.model,
            "old_serial": old.serial,
            "new_model": ident.model,
            "new_serial": ident.serial,
            "firmware": ident.firmware,
            "certificate": certificate,
            "verified_until": until.isoformat(),
        }
        await self.journal.write(admin, "device_replaced", **details)
        slot.cfg = replaced(old, details)
        slot.admitted, slot.why = admit(slot.cfg, ident)
        slot.refusal = slot.why
        self.publish({"type": "device", "device": slot.as_dict()})
        self._publish_inspection()
        return slot.as_dict()

    async def start(self) -> None:
        regs = await registrations(self.cfg.devices, self.journal)
        for slot in self.slots.values():
            slot.cfg = regs[slot.cfg.id]
        self.alarms = await self.store.tail_problems()
        self.current = await Inspection.filter(status="open").order_by("-number").first()
        await self._check_open_inspection()
        await self._recover_steps()
        if self.current is not None:
            for r in await self._stored_readings(self.current.id):
                run = self.current.steps.get(r["step"], {}).get("run")
                if r["final"] and r.get("run", run) == run:
                    self._results.setdefault(r["step"], {})[r["channel"]] = r["value"]
        self.alarms += await self.outbox.reconcile()
        for alarm in self.alarms:
            log.error("integrity alarm: %s", alarm)
        if self.alarms:
            await self.journal.write("laned", "integrity_alarm", problems=self.alarms)
        self.outbox_counts = await self.outbox.counts()
        await self.checkpoint("daemon_started")
        for slot in self.slots.values():
            slot.task = asyncio.create_task(
                supervise(slot.driver, self.on_device, stale_after=slot.cfg.stale_after_s),
                name=f"device:{slot.cfg.id}",
            )
        self._tasks += [
            asyncio.create_task(self.recorder.run(), name="recorder"),
            asyncio.create_task(self._ticker(), name="gates-ticker"),
            asyncio.create_task(self._checkpointer(), name="checkpointer"),
            asyncio.create_task(self.outbox.run(), name="outbox"),
        ]
        await self.cameras.start()

    async def _check_open_inspection(self) -> None:
        """The open inspection is trusted only as its journal entries have it (its start time is what
        R12 measures, its done steps what the card is made of), and only on the clock it began on."""
        insp = self.current
        if insp is None:
            return
        entries = await self._journal_of(insp)
        problems = ledger.inspection_problems(ledger.inspection_row(insp), entries)
        reason = ""
        if problems:
            self.alarms += problems
            reason = "its record does not match the journal"
        elif self.clock_start.fresh or insp.training != bool(self.cfg.lane["training"]):
            reason = f"the lane clock was restarted ({self.clock_start.reason or 'mode changed'})"
        if reason:
            log.warning("inspection %d aborted at start: %s", insp.number, reason)
            await self._close(insp, "aborted", "laned", "inspection_aborted", reason=reason)
            self.current = None

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

    async def _recover_steps(self) -> None:
        """After a crash a step may be left running with no stand test behind it: it runs again.
        Its readings already committed stay in the chain; nothing is lost, nothing is reused."""
        insp = self.current
        if insp is None:
            return
        for sid, st in insp.steps.items():
            if st["status"] == "running":
                st.update(status="pending", started=None, got=[])
                self.recorder.add_event(
                    "laned",
                    "step_interrupted",
                    **self._ids(insp),
                    step=sid,
                    run=st.get("run"),
                    reason="restart",
                )
        await insp.save(update_fields=["steps"])

    async def stop(self) -> None:
        await self.cameras.stop()
        tasks = [s.task for s in self.slots.values() if s.task] + self._tasks
        for _ in range(3):
            # Cancel, and cancel again: on Python 3.11 asyncio.wait_for can swallow a cancellation
            # that races with its inner read, and a stop must never hang the daemon.
            for t in tasks:
                t.cancel()
            _, pending = await asyncio.wait(tasks, timeout=3)
            if not pending:
                break
            tasks = list(pending)
        else:
            log.warning("%d task(s) did not stop: %s", len(tasks), [t.get_name() for t in tasks])
        try:
            await self.recorder.flush()
        except StorageFailed as exc:
            log.error("stopping with %d reading(s) not stored: %s", self.recorder.pending(), exc.message)

    async def checkpoint(self, reason: str) -> None:
        """Sign the chain heads into the checkpoint file; a failure is logged, never fatal."""
        async with self._checkpoint_lock:
            try:
                await self.store.checkpoint(reason)
            except Exception:
                log.exception("checkpoint (%s) failed", reason)

    async def _checkpointer(self) -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY_S)
            await self.checkpoint("periodic")

    # --- stream -------------------------------------------------------------------
    def subscribe(self) -> Subscriber:
        sub = Subscriber()
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def publish(self, event: dict[str, Any]) -> None:
        for sub in list(self.subscribers):
            sub.put(event)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    # --- devices ------------------------------------------------------------------
    def on_device(self, item: DeviceReading | Event | StatusChange) -> None:
        if isinstance(item, DeviceReading):
            slot = self.slots[item.device_id]
            slot.live[item.channel] = (item.value, item.unit, item.ts)
            self.publish(
                {
                    "type": "reading",
                    "device": item.device_id,
                    "channel": item.channel,
                    "value": item.value,
                    "unit": item.unit,
                    "ts": item.ts,
                    "final": item.final,
                }
            )
            self._record(slot, item)
        elif isinstance(item, Event):
            self._on_event(item)
        else:
            self._on_status(item)

    def _on_status(self, ch: StatusChange) -> None:
        slot = self.slots[ch.device_id]
        before = slot.status
        slot.status = ch.status
        slot.why = ch.why if ch.why.code else (Why() if slot.admitted else slot.refusal)
        if ch.identity is not None:
            slot.identity = ch.identity
            slot.admitted, why = admit(slot.cfg, ch.identity)
            slot.why = slot.refusal = why
            self.recorder.add_event(
                "laned",
                "device_connected" if slot.admitted else "device_refused",
                device=slot.cfg.id,
                model=ch.identity.model,
                serial=ch.identity.serial,
                firmware=ch.identity.firmware,
                reason=why.text,
            )
        if ch.status == DeviceStatus.FAULTED and before != DeviceStatus.FAULTED:
            slot.admitted = slot.frozen = False  # a new connection starts with a clean slate
            if before in (DeviceStatus.CONNECTED, DeviceStatus.STALE):
                self.recorder.add_event("laned", "device_disconnected", device=slot.cfg.id, reason=ch.reason)
            self._interrupt_steps(slot.cfg.kind, ch.reason)
        if ch.status == DeviceStatus.STUCK and not slot.frozen:
            # A frozen sensor would pass the stability gate with a value that measures nothing.
            slot.frozen = True
            self.recorder.add_event("laned", "device_stuck", device=slot.cfg.id, reason=ch.reason)
            self._interrupt_steps(slot.cfg.kind, ch.reason, notice="step_sensor_stuck")
        elif slot.frozen and ch.status == DeviceStatus.CONNECTED:  # moving again (perhaps after "no data")
            slot.frozen = False
            self.recorder.add_event("laned", "device_recovered", device=slot.cfg.id)
        self.publish({"type": "device", "device": slot.as_dict()})
        self._publish_inspection()

    def _on_event(self, ev: Event) -> None:
        slot = self.slots[ev.device_id]
        step = self._running_step(slot.cfg.kind)
        if ev.name == "test_end" and step is not None and self.current is not None:
            st = self.current.steps[step]
            sd = rules.StepDef.from_dict(step, st)
            result = slot.driver.profile.result
            if result and not set(sd.finals) <= set(st.get("got", [])):
                self._spawn(self._command(slot, result))

    async def _command(self, slot: Slot, name: str) -> None:
        try:
            await slot.driver.command(name)
        except Exception as exc:  # a lost cable shows as a status change; say it in the log
            log.warning("command %s to %s failed: %s", name, slot.cfg.id, exc)

    def _running_step(self, kind: str) -> str | None:
        insp = self.current
        if insp is None:
            return None
        for sid, st in insp.steps.items():
            if st["status"] == "running" and kind in st.get("devices", []):
                return sid
        return None

    def _record(self, slot: Slot, r: DeviceReading) -> None:
        step = self._running_step(slot.cfg.kind)
        if step is None or self.current is None:
            return
        st = self.current.steps[step]
        self.recorder.add_reading(
            {
                "inspection_id": self.current.id,
                "step": step,
                "device_id": r.device_id,
                "device_serial": slot.identity.serial if slot.identity else "",
                "channel": r.channel,
                "ts": r.ts,
            },
            {"value": r.value, "unit": r.unit, "raw": r.raw.hex(), "final": r.final, "run": st.get("run")},
            urgent=r.final,
        )
        if not r.final:
            recent = self._recent.setdefault(step, {}).setdefault(r.channel, [])
            recent.append(r.value)
            del recent[:-50]
        if r.final:
            self._results.setdefault(step, {})[r.channel] = r.value
            st.setdefault("got", [])
            if r.channel not in st["got"]:
                st["got"].append(r.channel)
        if st.get("photo"):  # the brake test of this step takes the photo (R3.9)
            insp = self.current
            taking = self.cameras.on_brake(
                self._ids(insp),
                step,
                st,
                (r.channel, r.value, r.final),
                lambda record, why: self._photo_taken(insp, step, record, why),
            )
            if taking is not None:
                self._spawn(taking)

    def _camera_lost(self, camera_id: str, reason: str) -> None:
        """A photo camera lost while its step waits for the photo: the step goes back (R3.7)."""
        insp = self.current
        for sid, st in (insp.steps if insp else {}).items():
            if st["status"] == "running" and st.get("photo") and st.get("photo_run") != st.get("run"):
                self._send_back(
                    insp, sid, "photo_failed", "photo_failed", reason=f"{camera_id}: {reason}"[:300]
                )
        self._publish_inspection()

    def _photo_taken(self, insp: Inspection, step: str, record: dict[str, Any] | None, why: str) -> None:
        st = insp.steps.get(step, {})
        if insp is not self.current or record is None and st.get("status") != "running":
            return
        if record is None:
            self._send_back(insp, step, "photo_failed", "photo_failed", reason=why[:300])
        elif record["run"] == st.get("run"):
            st["photo_run"], st["photo_at"] = record["run"], record["taken"]
            self._spawn(self._save_quietly(insp))
        self._publish_inspection()

    # --- inspections --------------------------------------------------------------
    def _plan(self, insp: Inspection) -> list[rules.StepDef]:
        return [rules.StepDef.from_dict(sid, st) for sid, st in insp.steps.items()]

    def _results_in(self, sd: rules.StepDef, st: dict[str, Any]) -> bool:
        """Has the stand given what this step needs? (by the step's mode, see StepDef)"""
        if st.get("photo") and st.get("photo_run") != st.get("run"):
            return False  # its photo is not stored yet (R3.9)
        if sd.mode == "test":
            return set(sd.finals) <= set(st.get("got", []))
        recent = self._recent.get(sd.id, {})
        if sd.mode == "stable":
            return rules.stable(recent.get(sd.stable_channel, []), sd.tolerance)
        if sd.mode == "window":
            return rules.window_complete(sd, recent)
        return True

    def _step_states(self, insp: Inspection) -> list[rules.StepState]:
        return [
            rules.StepState(
                sd.id,
                insp.steps[sd.id]["status"],
                insp.steps[sd.id].get("started"),
                insp.steps[sd.id].get("finished"),
                self._results_in(sd, insp.steps[sd.id]),
            )
            for sd in self._plan(insp)
        ]

    def _views(self) -> list[rules.DeviceView]:
        return [s.view() for s in self.slots.values()] + self.cameras.views()

    def _storage_holds(self) -> list[rules.Hold]:
        if self.recorder.failing_since is None:
            return []
        return [rules.Hold("storage_failing", {"error": self.recorder.last_error[:200]})]

    def inspection_dict(self, insp: Inspection | None) -> dict[str, Any] | None:
        if insp is None:
            return None
        now = self.clock.now()
        plan = self._plan(insp)
        states = {s.id: s for s in self._step_states(insp)}
        steps = []
        for sd in plan:
            st = states[sd.id]
            holds: list[rules.Hold] = []
            if st.status == "pending":
                holds = rules.step_start_holds(sd, list(states.values()), self._views())
            elif st.status == "running":
                holds = rules.step_finish_holds(sd, st, now) + self._storage_holds()
            steps.append(
                {
                    "id": sd.id,
                    "axle": sd.axle,
                    "mode": sd.mode,
                    "devices": list(sd.devices),
                    "status": st.status,
                    "started": st.started,
                    "finished": st.finished,
                    "holds": [h.as_dict() for h in holds],
                    "results": self._results.get(sd.id, {}),
                    "notice": insp.steps[sd.id].get("notice"),
                    "photo": bool(insp.steps[sd.id].get("photo")),  # this step's brake test takes it
                    "photo_at": insp.steps[sd.id].get("photo_at")
                    if insp.steps[sd.id].get("photo_run") == insp.steps[sd.id].get("run")
                    else None,
                    **(
                        {
                            "checks": [n.id for n in visual_checks(insp.category)],
                            "defects": insp.steps[sd.id].get("defects", []),
                        }
                        if sd.mode == "checklist"
                        else {}
                    ),
                }
            )
        card_holds = rules.card_holds(
            insp.category, insp.started, now, plan, list(states.values()), self._views()
        )
        data = self.keyring.open_json(insp.sealed, f"inspections:{insp.id}")
        return {
            "id": insp.id,
            "number": insp.number,
            "plate": data["plate"],
            "category": insp.category,
            "fuel": insp.fuel,
            "axles": insp.axles,
            "status": insp.status,
            "training": insp.training,
            "operator": insp.operator,
            "started": insp.started,
            "elapsed_s": now - insp.started,
            "minimum_s": min_duration_s(insp.category),
            "steps": steps,
            "card_holds": [h.as_dict() for h in card_holds + self._storage_holds()],
        }

    async def _stored_readings(self, insp_id: str) -> list[dict[str, Any]]:
        """The inspection's committed readings, opened: the only source of a card (R3.6)."""
        rows = await Reading.filter(inspection_id=insp_id).order_by("seq")
        return [
            {
                "step": r.step,
                "channel": r.channel,
                "ts": r.ts,
                "device_serial": r.device_serial,
                **self.keyring.open_json(r.sealed, reading_aad(r.inspection_id, r.channel, r.ts)),
            }
            for r in rows
        ]

    def _publish_inspection(self) -> None:
        if self.current is not None:
            self.publish({"type": "inspection", "inspection": self.inspection_dict(self.current)})

    @staticmethod
    def _screen_items(card: dict[str, Any]) -> list[dict[str, Any]]:
        """A card's items as the screen shows them (the norm as text, the names' parameters)."""
        return [
            {
                "id": i["id"],
                "value": i["value"],
                "unit": i["norm"]["unit"],
                "norm": i["norm"]["text"],
                "passed": i["passed"],
                "deviation": i["deviation"],
                # what the screen names it by: the norm's item and its axle, side or glass
                "item": i["norm"].get("item", i["id"]),
                "params": {k: i[k] for k in ("axle", "side", "glass") if k in i},
            }
            for i in card["items"]
        ]

    async def snapshot(self) -> dict[str, Any]:
        last = await Card.all().order_by("-seq").first()
        last_card = None
        if last is not None:
            ob = await Outbox.get_or_none(card_id=last.card_id)
            card = self.keyring.open_json(last.sealed, f"cards:{last.card_id}")
            last_card = {
                "card_id": last.card_id,
                "number": card.get("number"),
                "plate": card["vehicle"]["plate"],
                "verdict": last.verdict,
                "eis": ob.status if ob else "",
                "eis_attempts": ob.attempts if ob else 0,
                "eis_error": ob.last_error if ob else "",
                "items": self._screen_items(card),
            }
        return {
            "lane": {
                "name": self.cfg.lane["name"],
                "centre": self.cfg.lane["centre"],
                "training": self.cfg.lane["training"],
                "clock_speed": self.clock.speed,
            },
            "clock": self.clock.now(),
            "devices": [s.as_dict() for s in self.slots.values()],
            "cameras": self.cameras.as_list(),
            "inspection": self.inspection_dict(self.current),
            "outbox": self.outbox_counts,
            "eis_key": self.outbox.key_state(),
            "last_card": last_card,
            "storage": self.recorder.status(),
            "alarms": list(self.alarms),
            # Open live streams and the live values slow ones lost (a frozen SSH screen).
            "streams": {
                "open": len(self.subscribers),
                "dropped": sum(sub.dropped for sub in self.subscribers),
            },
        }

    @staticmethod
    def _ids(insp: Inspection) -> dict[str, Any]:
        """How journal entries name an inspection: its number for people, its id for the ledger."""
        return {"inspection": insp.number, "inspection_id": insp.id}

    async def start_inspection(
        self,
        operator: str,
        plate: str,
        category: str,
        fuel: str,
        axles: int,
        owner: str = "",
        **record: Any,
    ) -> dict[str, Any]:
        """``record``: the rest of the vehicle record (year, vin, make_model, catalyst, turbo, use);
        ``reinspection_of``: the failed card of a returning vehicle (only its failed items are
        measured again)."""
        reinspection_of = str(record.pop("reinspection_of", "") or "")
        recognition = self._recognition(str(record.pop("recognition", "") or ""))
        vehicle = vehicle_record(
            plate=plate,
            category=category,
            fuel=fuel,
            axles=axles,
            owner=owner,
            this_year=dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).year,
            **record,
        )
        plate = vehicle.plate
        if self.current is not None:
            raise Refused(
                "inspection_open",
                "an inspection is already open on this lane",
                [{"code": "inspection_open", "params": {"number": self.current.number}}],
            )
        now = self.clock.now()
        iid = str(uuid.uuid4())
        steps: dict[str, Any] = {}
        kinds = tuple(sorted({d.kind for d in self.cfg.devices}))
        plan = rules.plan(category, axles, fuel, kinds)
        first = await self._first_card(reinspection_of, vehicle.plate, now) if reinspection_of else None
        if first is not None:
            plan = rules.reinspection_plan(plan, [f["id"] for f in first["failures"]])
        for sd in plan:
            steps[sd.id] = {"status": "pending", "run": 0, **sd.as_dict()}
        photo = self.cameras.trigger_step(category, axles)
        if photo in steps:
            # fixed with the plan: its brake test takes the photo, so its cameras are its equipment
            # (held until they are connected and admitted, R3.7)
            steps[photo]["photo"] = True
            steps[photo]["devices"] = [*steps[photo]["devices"], CAMERA_KIND]
        steps["identification"] |= {"status": "done", "started": now, "finished": now}
        training = bool(self.cfg.lane["training"])
        async with write_tx() as tx:
            last = await Inspection.all().using_db(tx).order_by("-number").first()
            number = (last.number + 1) if last else 1
            # The facts R12 and the card rest on: in the row, and the same in the chained journal.
            facts = {
                "number": number,
                "started": now,
                "category": category,
                "fuel": fuel,
                "axles": axles,
                "training": training,
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
        self.current = insp
        self._results, self._recent = {}, {}
        self._publish_inspection()
        return self.inspection_dict(insp) or {}

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
        while len(self._recognitions) > 20:
            self._recognitions.pop(next(iter(self._recognitions)))
        return result | {"recognition": rid}

    def _recognition(self, rid: str) -> dict[str, Any] | None:
        """The lane's own recognition result an inspection names (a client cannot make one up)."""
        if not rid:
            return None
        found = self._recognitions.get(rid)
        if found is None or time.time() - found["at"] > 600:
            raise OtolaneError("recognition_unknown", "read the plate again: that reading is gone")
        return found

    async def _first_card(self, card_id: str, plate: str, now: float) -> dict[str, Any]:
        """The failed card a returning vehicle is re-inspected against, checked: it exists, it
        failed, it is this vehicle's, of this lane's mode, and recent enough. ``card_id`` may be the
        card's number as printed (the operator types that; the journal says which card it is)."""
        if card_id.isdigit():
            formed = [
                e
                for e in await self.journal.events("card_formed")
                if e.details.get("inspection") == int(card_id)
            ]
            card_id = str(formed[-1].details["card_id"]) if formed else card_id
        row = await Card.get_or_none(card_id=card_id[:36])
        if row is None:
            raise OtolaneError(
                "card_unknown", "no such card", status=404, card_id=card_id[:40], field="reinspection_of"
            )
        card = self.keyring.open_json(row.sealed, f"cards:{row.card_id}")
        if card["verdict"] != "not_admitted":
            raise OtolaneError(
                "reinspection_not_failed",
                "only a failed card is re-inspected",
                status=409,
                field="reinspection_of",
            )
        if card["vehicle"]["plate"] != plate:
            raise OtolaneError(
                "reinspection_plate",
                "the card is another vehicle's",
                field="plate",
                card_plate=card["vehicle"]["plate"],
            )
        if bool(card["training"]) != bool(self.cfg.lane["training"]):
            raise OtolaneError(
                "reinspection_mode",
                "the card was formed in the other mode",
                status=409,
                field="reinspection_of",
            )
        days = REINSPECTION_DAYS
        if now - row.created > days * 86400:
            raise OtolaneError(
                "reinspection_expired", "the re-inspection period is over", days=days, status=409
            )
        return {
            "card_id": card["card_id"],
            "number": card["number"],
            "failures": card["failures"],
        }

    def _require_current(self, insp_id: str) -> Inspection:
        if self.current is None or self.current.id != insp_id:
            raise OtolaneError("inspection_unknown", "no such open inspection", status=404)
        return self.current

    async def _save_steps(
        self,
        insp: Inspection,
        change: Callable[[dict[str, Any]], None],
        actor: str,
        action: str,
        **details: Any,
    ) -> None:
        """Change the steps and journal why, in one transaction; memory changes only once it committed."""
        steps = copy.deepcopy(insp.steps)
        change(steps)
        old, insp.steps = insp.steps, steps
        try:
            async with write_tx() as tx:
                await insp.save(update_fields=["steps"], using_db=tx)
                await self.journal.write(actor, action, tx, **self._ids(insp), **details)
        except Exception as exc:
            insp.steps = old
            raise StorageFailed.wrap(exc) from exc

    async def start_step(self, operator: str, insp_id: str, step_id: str) -> dict[str, Any]:
        insp = self._require_current(insp_id)
        plan = {sd.id: sd for sd in self._plan(insp)}
        if step_id not in plan:
            raise OtolaneError("step_unknown", "no such step", step=step_id[:40], status=404)
        sd = plan[step_id]
        st = insp.steps[step_id]
        if st["status"] == "done":
            raise Refused("step_done", "the step is already done")
        if sd.mode == "checklist":
            raise OtolaneError(
                "step_checklist",
                "this step is the visual checklist: send its defects",
                step=step_id,
                status=409,
            )
        holds = rules.step_start_holds(sd, self._step_states(insp), self._views()) + self._storage_holds()
        if holds:
            raise Refused("step_held", "the step cannot start", [h.as_dict() for h in holds])
        run = int(st.get("run") or 0) + 1
        now = self.clock.now()

        def change(steps: dict[str, Any]) -> None:
            steps[step_id].update(status="running", started=now, got=[], notice=None, run=run)

        await self._save_steps(insp, change, operator, "step_started", step=step_id, run=run)
        self._started_real[step_id] = time.monotonic()
        self._results.pop(step_id, None)
        self._recent.pop(step_id, None)
        self._asked_result.pop(step_id, None)
        if sd.mode == "test":
            for slot in self._slots_of(sd.devices):
                await self._command(slot, sd.start or slot.driver.profile.start or "start")
        self._publish_inspection()
        return self.inspection_dict(insp) or {}

    async def record_visual(self, operator: str, insp_id: str, defects: list[str]) -> dict[str, Any]:
        """The visual checklist (issue #8): every check of the vehicle's category is looked at; the
        ones in ``defects`` failed. Marked once per run, journalled with the defects (the card and
        the integrity check both read them from there)."""
        insp = self._require_current(insp_id)
        if "visual" not in insp.steps:
            raise OtolaneError("step_unknown", "no such step", step="visual", status=404)
        known = {n.id for n in visual_checks(insp.category)}
        unknown = sorted(set(defects) - known)
        if unknown:
            raise OtolaneError(
                "visual_unknown", "no such visual check for this category", check=unknown[0][:40]
            )
        if any(st["status"] == "running" for st in insp.steps.values()):
            running = next(sid for sid, st in insp.steps.items() if st["status"] == "running")
            raise Refused(
                "step_held", "a step is running", [{"code": "step_running", "params": {"step": running}}]
            )
        now = self.clock.now()
        run = int(insp.steps["visual"].get("run") or 0) + 1
        marked = sorted(set(defects))

        def change(steps: dict[str, Any]) -> None:
            steps["visual"].update(
                status="done", started=now, finished=now, run=run, defects=marked, notice=None
            )

        await self._save_steps(
            insp, change, operator, "step_finished", step="visual", run=run, defects=marked
        )
        self._publish_inspection()
        return self.inspection_dict(insp) or {}

    def _slots_of(self, kinds: tuple[str, ...]) -> list[Slot]:
        return [s for s in self.slots.values() if s.cfg.kind in kinds]

    async def _ask_results(self, sd: rules.StepDef, started: float, now: float) -> None:
        """Stands that give their result on request are asked once the test has had its time."""
        if sd.mode != "test" or now - started < sd.min_s:
            return
        if time.monotonic() - self._asked_result.get(sd.id, 0.0) < 1.0:
            return
        self._asked_result[sd.id] = time.monotonic()
        for slot in self._slots_of(sd.devices):
            if slot.driver.profile.result:
                await self._command(slot, slot.driver.profile.result)

    def _send_back(
        self, insp: Inspection, step: str, notice: str | None, action: str, **details: Any
    ) -> None:
        """A running step goes back to waiting. Safe to lose on a crash (a running step found at start
        runs again), so it is saved in the background; the journal entry is queued, never lost."""
        st = insp.steps[step]
        run = st.get("run")
        st.update(status="pending", started=None, got=[], notice=notice)
        self.recorder.add_event("laned", action, **self._ids(insp), step=step, run=run, **details)
        self._spawn(self._save_quietly(insp))

    @staticmethod
    async def _save_quietly(insp: Inspection) -> None:
        try:
            await insp.save(update_fields=["steps"])
        except Exception as exc:  # the next save writes the whole steps; a restart recovers them
            log.warning("saving steps of inspection %d failed: %s", insp.number, exc)

    def _interrupt_steps(self, kind: str, reason: str, notice: str | None = None) -> None:
        insp = self.current
        if insp is None:
            return
        for sid, st in insp.steps.items():
            if st["status"] == "running" and kind in st.get("devices", []):
                self._send_back(insp, sid, notice, "step_interrupted", reason=reason)

    async def _ticker(self) -> None:
        """Finish running steps whose results are in and whose own minimum time has run."""
        while True:
            await asyncio.sleep(0.2)
            self._publish_storage()
            insp = self.current
            self.cameras.arm(
                insp is not None
                and any(st.get("photo") and st["status"] == "running" for st in insp.steps.values())
            )
            if time.monotonic() - self._cameras_published >= 1.0:
                self._cameras_published = time.monotonic()
                self.cameras.publish_all()  # fps, age of the last frame (D2)
            if insp is None:
                continue
            try:
                await self._tick(insp)
            except Exception:
                log.exception("gate tick failed")

    def _publish_storage(self) -> None:
        """Screens learn at once when storing starts or stops failing, and each second while it
        fails (how long, how much is kept)."""
        status = self.recorder.status()
        shown = self._storage_shown
        if status["ok"] != shown.get("ok") or (
            not status["ok"] and time.monotonic() - self._storage_published >= 1.0
        ):
            self._storage_shown, self._storage_published = status, time.monotonic()
            self.publish({"type": "storage", "storage": status, "alarms": list(self.alarms)})

    async def _tick(self, insp: Inspection) -> None:
        now = self.clock.now()
        plan = {sd.id: sd for sd in self._plan(insp)}
        changed = False
        for state in self._step_states(insp):
            if state.status != "running":
                continue
            if rules.step_finish_holds(plan[state.id], state, now):
                if not state.results_in and state.started is not None:
                    await self._ask_results(plan[state.id], state.started, now)
                    waited = time.monotonic() - self._started_real.get(state.id, time.monotonic())
                    if waited > STEP_RESULT_TIMEOUT_S:
                        self._send_back(
                            insp, state.id, "step_no_result", "step_no_result", waited_s=int(waited)
                        )
                        changed = True
                continue
            changed |= await self._finish(insp, state.id, now)
        if changed or time.monotonic() - self._last_publish >= 1.0:
            self._last_publish = time.monotonic()
            self._publish_inspection()

    async def _finish(self, insp: Inspection, step: str, now: float) -> bool:
        """Report a step done only once its readings and its own record are stored (issue #7)."""
        try:
            await self.recorder.flush()  # everything that arrived up to now, the step's results with it
            run = insp.steps[step].get("run")

            def change(steps: dict[str, Any]) -> None:
                steps[step].update(status="done", finished=now)

            await self._save_steps(insp, change, insp.operator, "step_finished", step=step, run=run)
        except StorageFailed:
            if self.recorder.failing_for > STORE_TIMEOUT_S:
                self._send_back(
                    insp, step, "step_not_stored", "step_not_stored", error=self.recorder.last_error[:200]
                )
                return True
            return False
        self._spawn(self.checkpoint("step_finished"))
        return True

    async def card(self, card_id: str) -> dict[str, Any]:
        """A stored card as formed (it is never changed after)."""
        row = await Card.get_or_none(card_id=card_id[:36])
        if row is None:
            raise OtolaneError("card_unknown", "no such card", status=404, card_id=card_id[:40])
        return dict(self.keyring.open_json(row.sealed, f"cards:{row.card_id}"))

    async def card_pdf(self, actor: str, card_id: str) -> tuple[bytes, bool]:
        """The card's PDF and whether it is a copy: every issue is journalled (``card_issued``), and
        any issue after the first is marked COPY on every page (issue #8: reprint)."""
        pdf, is_copy, _ = await self._issue(actor, card_id, to_printer=False)
        return pdf, is_copy

    async def print_card(self, actor: str, card_id: str) -> dict[str, Any]:
        """The card printed on the lane's CUPS queue; journalled with the job, like a download."""
        _, is_copy, job = await self._issue(actor, card_id, to_printer=True)
        assert job is not None
        return {"job": job.job, "queue": job.queue, "copy": is_copy}

    async def print_status(self, job: str) -> dict[str, Any]:
        done = await asyncio.to_thread(job_done, job[:80], self.cfg.printer["server"])
        return {"job": job, "done": done}

    async def certificate(
        self, actor: str, card_id: str, to_printer: bool = False
    ) -> tuple[bytes, str, bool, PrintJob | None]:
        """The international certificate of technical inspection for a passing card (issue #8;
        seed 003): its own number (kept on a reprint, then marked COPY), journalled; printed on the
        lane's queue when asked."""
        card = await self.card(card_id)
        due = (card.get("next_inspection") or {}).get("due")
        if card["verdict"] != "admitted" or not due:
            raise OtolaneError("certificate_not_admitted", "a certificate needs a passing card", status=409)
        today = lane_date(self.clock.now()).isoformat()
        if due <= today:
            raise OtolaneError("certificate_expired", "the card's validity is over", due=due, status=409)
        issued = await self.journal.events("certificate_issued")
        before = [e for e in issued if e.details.get("card_id") == card_id]
        if before:
            number = str(before[0].details["number"])
        else:
            slug = "".join(c for c in str(self.cfg.lane["name"]).upper() if c.isascii() and c.isalnum())[:12]
            number = f"{slug or 'LANE'}-ITC-{len({e.details.get('card_id') for e in issued}) + 1:06d}"
        pdf = await asyncio.to_thread(render_certificate, card, number, due, copy=bool(before))
        ids = {"card_id": card["card_id"], "inspection_id": card["inspection_id"], "number": number}
        job = await self._to_printer(actor, pdf, f"certificate {number}", ids) if to_printer else None
        await self.journal.write(
            actor,
            "certificate_issued",
            **ids,
            valid_until=due,
            copy=bool(before),
            sha256=hashlib.sha256(pdf).hexdigest(),
            **({"queue": job.queue, "job": job.job} if job else {"download": True}),
        )
        return pdf, number, bool(before), job

    async def _to_printer(self, actor: str, pdf: bytes, title: str, ids: dict[str, Any]) -> PrintJob:
        """The PDF to the lane's CUPS queue; a refusal is journalled (``print_failed``) and raised."""
        try:
            return await asyncio.to_thread(
                print_pdf, pdf, self.cfg.printer["queue"], self.cfg.printer["server"], title
            )
        except OtolaneError as exc:
            await self.journal.write(actor, "card_print_failed", **ids, code=exc.code, **exc.params)
            raise

    async def _issue(self, actor: str, card_id: str, to_printer: bool) -> tuple[bytes, bool, PrintJob | None]:
        card = await self.card(card_id)
        issued = [e for e in await self.journal.events("card_issued") if e.details.get("card_id") == card_id]
        is_copy = bool(issued)
        pdf = await asyncio.to_thread(render_card, card, copy=is_copy)
        job = None
        ids = {"card_id": card["card_id"], "inspection_id": card["inspection_id"]}
        if to_printer:
            job = await self._to_printer(actor, pdf, f"card {card['number']}", ids)
        await self.journal.write(
            actor,
            "card_issued",
            **ids,
            copy=is_copy,
            sha256=hashlib.sha256(pdf).hexdigest(),
            **({"queue": job.queue, "job": job.job} if job else {"download": True}),
        )
        return pdf, is_copy, job

    async def _assemble(self, insp: Inspection, operator: str, card_id: str, now: float) -> dict[str, Any]:
        """The card from the stored readings (raises CardIncomplete); nothing is written."""
        private = self.keyring.open_json(insp.sealed, f"inspections:{insp.id}")
        card = assemble_card(
            contract=CONTRACT_VERSION,
            card_id=card_id,
            insp=insp,
            vehicle=private,
            lane=self.cfg.lane,
            inspector={"username": operator},
            finished=now,
            readings=await self._stored_readings(insp.id),
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
        )
        trigger = next((sid for sid, st in insp.steps.items() if st.get("photo")), None)
        if trigger is not None:
            # R3.7, R3.9: the photo of the brake test, from a camera registered as it was then
            photos = await self.cameras.photos_for_card(insp.id, trigger)
            if not photos:
                raise CardIncomplete([{"step": trigger, "channel": "photo"}])
            card["photos"] = photos
        return card

    def _card_holds(self, insp: Inspection, now: float) -> list[rules.Hold]:
        """Why the card cannot be formed now (R3.7, R12): the one question the review and forming ask."""
        return rules.card_holds(
            insp.category, insp.started, now, self._plan(insp), self._step_states(insp), self._views()
        )

    async def preview_card(self, operator: str, insp_id: str) -> dict[str, Any]:
        """What the card would say if formed now — for the review before it is signed: the items
        judged so far, the verdict, and every hold still in the way. Nothing is stored or sent."""
        insp = self._require_current(insp_id)
        now = self.clock.now()
        holds = self._card_holds(insp, now)
        done = {sid: st for sid, st in insp.steps.items() if st["status"] == "done"}
        await self.recorder.flush()
        partial = copy.copy(insp)
        partial.steps = done  # judge what is measured; the holds say what is not
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
            "items": self._screen_items(card),
            "verdict": card["verdict"] if not holds else None,
            "next_inspection": card["next_inspection"],
        }

    async def form_card(self, operator: str, insp_id: str, signer: Any = None) -> dict[str, Any]:
        """``signer``: the operator's NCA key of a key session, or their token through NCALayer (G3):
        the card is signed before the write, so no one waits on the lane's write lock while a person
        types a PIN; one card is formed at a time."""
        async with self._forming:
            insp = self._require_current(insp_id)
            now = self.clock.now()
            holds = self._card_holds(insp, now)
            if holds:
                await self.journal.write(
                    operator, "card_refused", **self._ids(insp), holds=[h.code for h in holds]
                )
                raise Refused("card_held", "the card cannot be formed now", [h.as_dict() for h in holds])
            await self.recorder.flush()  # StorageFailed (503): nothing is formed, nothing lost
            card_id = str(uuid.uuid4())
            try:
                card = await self._assemble(insp, operator, card_id, now)
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
            if self.current is not insp:  # aborted while the person was signing
                raise OtolaneError("inspection_unknown", "no such open inspection", status=404)
            await self._store_card(operator, insp, card, now, signature, signer if signature else None)
            self.current = None
        self._spawn(self.checkpoint("card_formed"))
        self.outbox.wake.set()
        await self.refresh_outbox()
        self.publish({"type": "inspection", "inspection": None})
        return {
            "card_id": card_id,
            "verdict": card["verdict"],
            "items": card["items"],
            "readings": card["readings"],
            "duration_s": card["duration_s"],
            "photos": [{k: v for k, v in p.items() if k != "jpeg"} for p in card.get("photos", [])],
        }

    async def _store_card(
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
                            "sealed": self.keyring.seal_json(card, f"cards:{card_id}"),
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
                    **self._ids(insp),
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
            operator, "card_refused", **self._ids(insp), holds=["reading_missing"], missing=exc.missing
        )

        def change(all_steps: dict[str, Any]) -> None:
            for sid in steps:
                if sid in all_steps and sid != "identification":
                    all_steps[sid].update(
                        status="pending", started=None, got=[], notice="step_readings_missing"
                    )

        await self._save_steps(
            insp, change, "laned", "steps_reopened", steps=steps, reason="readings missing"
        )
        self._publish_inspection()
        raise Refused("card_held", "the card cannot be formed: readings are missing", holds)

    async def _close(self, insp: Inspection, status: str, actor: str, action: str, **details: Any) -> None:
        insp.status, insp.finished = status, self.clock.now()
        async with write_tx() as tx:
            await insp.save(update_fields=["status", "finished"], using_db=tx)
            await self.journal.write(actor, action, tx, **self._ids(insp), **details)

    async def abort(self, operator: str, insp_id: str, reason: str) -> None:
        insp = self._require_current(insp_id)
        await self._close(insp, "aborted", operator, "inspection_aborted", reason=reason)
        self.current = None
        self.publish({"type": "inspection", "inspection": None})

    async def refresh_outbox(self) -> None:
        self.outbox_counts = await self.outbox.counts()
        self.publish({"type": "outbox", "outbox": self.outbox_counts})

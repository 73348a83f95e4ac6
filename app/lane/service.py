"""The lane service: the one owner of the lane's state inside ``laned``.

Devices report through their supervisors into :meth:`LaneService.on_device`; readings of a running
step are sealed, chained and committed in small batches; steps and the card are gated by the pure
rules of ``app/domain/inspection.py``; every change is published to the stream subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from tortoise.transactions import in_transaction

from app.config import Config, DeviceConfig
from app.domain import inspection as rules
from app.domain.categories import CATEGORIES, FUELS, min_duration_s
from app.domain.clock import LaneClock
from app.eis.contract import CONTRACT_VERSION
from app.eis.outbox import OutboxWorker
from app.errors import OtolaneError, Refused
from app.journal import Journal
from app.lane.card import assemble_card
from app.storage.chain import ChainWriter
from app.storage.crypto import Keyring
from app.storage.models import Card, Inspection, LaneState, Outbox, Reading
from drivers.base import Device, DeviceStatus, Event, Identity, StatusChange, Why, supervise
from drivers.base import Reading as DeviceReading

log = logging.getLogger("otolane.lane")
MAX_QUEUE = 2000
#: A stand that sends no result this long (real seconds) after its test started has lost it (a garbled
#: frame, a vehicle that did not pass): the step goes back to waiting, and the screen says to run it again.
STEP_RESULT_TIMEOUT_S = 20.0


@dataclass
class Slot:
    cfg: DeviceConfig
    driver: Device
    status: DeviceStatus = DeviceStatus.CONNECTING
    why: Why = field(default_factory=Why)
    identity: Identity | None = None
    admitted: bool = False
    refusal: Why = field(default_factory=Why)  # why the stand is not admitted, kept across changes
    frozen: bool = False  # a sensor froze and has not moved again yet (journalled both ways)
    live: dict[str, tuple[float, str, float]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    def view(self) -> rules.DeviceView:
        connected = self.status in (DeviceStatus.CONNECTED, DeviceStatus.STALE, DeviceStatus.STUCK)
        return rules.DeviceView(
            self.cfg.id,
            self.cfg.kind,
            connected,
            self.admitted,
            self.why.text,
            stuck=self.status == DeviceStatus.STUCK,
            why=self.why.as_dict(),
        )

    def as_dict(self) -> dict[str, Any]:
        ident = self.identity
        return {
            "id": self.cfg.id,
            "kind": self.cfg.kind,
            "status": self.status.value,
            "reason": self.why.text,  # English, for logs and scripts
            "why": self.why.as_dict(),  # the screen says it from its catalog: [reason]
            "admitted": self.admitted,
            "model": ident.model if ident else self.cfg.model,
            "serial": ident.serial if ident else self.cfg.serial,
            "firmware": ident.firmware if ident else "",
            "verified_until": self.cfg.verified_until.isoformat(),
            "port": self.cfg.port,
            "live": {ch: {"value": v, "unit": u, "ts": t} for ch, (v, u, t) in self.live.items()},
            "frames_ok": self.driver.log.frames_ok,
            "frames_rejected": self.driver.log.frames_rejected,
            "reconnects": self.driver.log.reconnects,
            "certificate": self.cfg.certificate,
            "service_commands": list(self.driver.profile.service_commands),
        }


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
        keyring: Keyring,
        journal: Journal,
        clock: LaneClock,
        outbox: OutboxWorker,
        drivers: dict[str, Device],
    ) -> None:
        self.cfg = cfg
        self.keyring = keyring
        self.journal = journal
        self.clock = clock
        self.outbox = outbox
        self.slots = {d.id: Slot(d, drivers[d.id]) for d in cfg.devices}
        self.readings = ChainWriter(Reading)
        self.cards = ChainWriter(Card)
        self.subscribers: set[Subscriber] = set()
        self.current: Inspection | None = None
        self._rows: list[dict[str, Any]] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._bg: set[asyncio.Task[Any]] = set()
        self._flush_now = asyncio.Event()
        self.outbox_counts: dict[str, int] = {}
        self._last_publish = 0.0
        #: step -> channel -> final value of the open inspection (shown on screen; rebuilt on start)
        self._results: dict[str, dict[str, float]] = {}
        #: step -> channel -> recent live values of a running step (stability and window gates)
        self._recent: dict[str, dict[str, list[float]]] = {}
        self._asked_result: dict[str, float] = {}
        self._started_real: dict[str, float] = {}
        outbox.on_change = lambda: self._spawn(self.refresh_outbox())

    # --- life cycle ---------------------------------------------------------------
    async def _load_registrations(self) -> None:
        """Registrations changed by an administrator (a replaced stand) override the config file."""
        for slot in self.slots.values():
            reg = await LaneState.get_or_none(key=f"device:{slot.cfg.id}")
            if reg is not None:
                v = reg.value
                slot.cfg = dataclasses.replace(
                    slot.cfg,
                    serial=v["serial"],
                    model=v["model"],
                    certificate=v["certificate"],
                    verified_until=dt.date.fromisoformat(v["verified_until"]),
                )

    async def replace_device(
        self, admin: str, device_id: str, certificate: str, verified_until: str
    ) -> dict[str, Any]:
        """Register the stand now on the line (its identity as the hardware reports it) in place of
        the registered one: a logged admin act (R3.15). Readings of the old stand stay as they are."""
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
            raise OtolaneError("date_bad", "dates are YYYY-MM-DD", value=verified_until) from None
        if until < dt.date.today():
            raise OtolaneError("verification_expired", "that verification has expired", date=verified_until)
        certificate = certificate.strip()
        if not certificate or len(certificate) > 64:
            raise OtolaneError("certificate_bad", "the verification certificate number is 1–64 characters")
        if self._running_step(slot.cfg.kind):
            raise OtolaneError("device_busy", "a step is running on this device", status=409)
        old = slot.cfg
        new = dataclasses.replace(
            old, serial=ident.serial, model=ident.model, certificate=certificate, verified_until=until
        )
        value = {
            "serial": new.serial,
            "model": new.model,
            "certificate": certificate,
            "verified_until": until.isoformat(),
            "replaced_by": admin,
            "replaced_at": time.time(),
        }
        async with in_transaction() as tx:
            await LaneState.update_or_create(defaults={"value": value}, key=f"device:{old.id}", using_db=tx)
            await self.journal.write(
                admin,
                "device_replaced",
                tx,
                device=old.id,
                old_model=old.model,
                old_serial=old.serial,
                new_model=new.model,
                new_serial=new.serial,
                firmware=ident.firmware,
                certificate=certificate,
                verified_until=until.isoformat(),
            )
        slot.cfg = new
        slot.admitted, slot.why = self._admit(new, ident)
        slot.refusal = slot.why
        self.publish({"type": "device", "device": slot.as_dict()})
        self._publish_inspection()
        return slot.as_dict()

    async def start(self) -> None:
        await self._load_registrations()
        self.current = await Inspection.filter(status="open").order_by("-number").first()
        await self._recover_steps()
        if self.current is not None:
            for r in await self._stored_readings(self.current.id):
                if r["final"]:
                    self._results.setdefault(r["step"], {})[r["channel"]] = r["value"]
        self.outbox_counts = await self.outbox.counts()
        for slot in self.slots.values():
            slot.task = asyncio.create_task(
                supervise(slot.driver, self.on_device, stale_after=slot.cfg.stale_after_s),
                name=f"device:{slot.cfg.id}",
            )
        self._tasks += [
            asyncio.create_task(self._flusher(), name="readings-flusher"),
            asyncio.create_task(self._ticker(), name="gates-ticker"),
            asyncio.create_task(self.outbox.run(), name="outbox"),
        ]

    async def _recover_steps(self) -> None:
        """After a crash a step may be left running with no stand test behind it: it runs again.
        Its readings already committed stay in the chain; nothing is lost, nothing is reused."""
        insp = self.current
        if insp is None:
            return
        for sid, st in insp.steps.items():
            if st["status"] == "running":
                st.update(status="pending", started=None, got=[])
                await self.journal.write(
                    "laned", "step_interrupted", inspection=insp.number, step=sid, reason="restart"
                )
        await insp.save(update_fields=["steps"])

    async def stop(self) -> None:
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
        await self._flush()

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
            slot.admitted, why = self._admit(slot.cfg, ch.identity)
            slot.why = slot.refusal = why
            action = "device_connected" if slot.admitted else "device_refused"
            self._spawn(
                self.journal.write(
                    "laned",
                    action,
                    device=slot.cfg.id,
                    model=ch.identity.model,
                    serial=ch.identity.serial,
                    firmware=ch.identity.firmware,
                    reason=why.text,
                )
            )
        if ch.status == DeviceStatus.FAULTED and before != DeviceStatus.FAULTED:
            slot.admitted = slot.frozen = False  # a new connection starts with a clean slate
            if before in (DeviceStatus.CONNECTED, DeviceStatus.STALE):
                self._spawn(
                    self.journal.write("laned", "device_disconnected", device=slot.cfg.id, reason=ch.reason)
                )
            self._interrupt_steps(slot.cfg.kind, ch.reason)
        if ch.status == DeviceStatus.STUCK and not slot.frozen:
            # A frozen sensor would pass the stability gate with a value that measures nothing.
            slot.frozen = True
            self._spawn(self.journal.write("laned", "device_stuck", device=slot.cfg.id, reason=ch.reason))
            self._interrupt_steps(slot.cfg.kind, ch.reason, notice="step_sensor_stuck")
        elif slot.frozen and ch.status == DeviceStatus.CONNECTED:  # moving again (perhaps after "no data")
            slot.frozen = False
            self._spawn(self.journal.write("laned", "device_recovered", device=slot.cfg.id))
        self.publish({"type": "device", "device": slot.as_dict()})
        self._publish_inspection()

    def _admit(self, cfg: DeviceConfig, ident: Identity) -> tuple[bool, Why]:
        if ident.serial != cfg.serial:
            return False, Why("serial_mismatch", {"serial": ident.serial, "registered": cfg.serial})
        if cfg.verified_until < dt.date.today():
            return False, Why("verification_expired", {"date": cfg.verified_until.isoformat()})
        return True, Why()

    def _on_event(self, ev: Event) -> None:
        slot = self.slots[ev.device_id]
        step = self._running_step(slot.cfg.kind)
        if ev.name == "test_end" and step is not None and self.current is not None:
            st = self.current.steps[step]
            sd = rules.StepDef.from_dict(step, st)
            result = self._result_command(slot)
            if result and not set(sd.finals) <= set(st.get("got", [])):
                self._spawn(self._command(slot, result))

    @staticmethod
    def _result_command(slot: Slot) -> str | None:
        """The profile's command that fetches a test's result; None when the stand sends it itself."""
        return slot.driver.profile.result

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
        insp_id = self.current.id
        self._rows.append(
            {
                "inspection_id": insp_id,
                "step": step,
                "device_id": r.device_id,
                "device_serial": slot.identity.serial if slot.identity else "",
                "channel": r.channel,
                "ts": r.ts,
                "_payload": {
                    "value": r.value,
                    "unit": r.unit,
                    "raw": r.raw.hex(),
                    "final": r.final,
                },
            }
        )
        if not r.final:
            recent = self._recent.setdefault(step, {}).setdefault(r.channel, [])
            recent.append(r.value)
            del recent[:-50]
        if r.final:
            self._results.setdefault(step, {})[r.channel] = r.value
            st = self.current.steps[step]
            st.setdefault("got", [])
            if r.channel not in st["got"]:
                st["got"].append(r.channel)
            self._flush_now.set()

    async def _flush(self) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return
        sealed = []
        for r in rows:
            payload = r.pop("_payload")
            # Bound to inspection, channel and time: a sealed value moved to another row won't open.
            aad = f"readings:{r['inspection_id']}:{r['channel']}:{r['ts']!r}"
            sealed.append(r | {"sealed": self.keyring.seal_json(payload, aad)})
        async with in_transaction() as tx:
            await self.readings.append(sealed, tx)

    async def _flusher(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await self._flush_now.wait()
            self._flush_now.clear()
            try:
                await self._flush()
            except Exception:
                log.exception("flushing readings failed")

    # --- inspections --------------------------------------------------------------
    def _plan(self, insp: Inspection) -> list[rules.StepDef]:
        return [rules.StepDef.from_dict(sid, st) for sid, st in insp.steps.items()]

    def _results_in(self, sd: rules.StepDef, st: dict[str, Any]) -> bool:
        """Has the stand given what this step needs? (by the step's mode, see StepDef)"""
        if sd.mode == "test":
            return set(sd.finals) <= set(st.get("got", []))
        recent = self._recent.get(sd.id, {})
        if sd.mode == "stable":
            return rules.stable(recent.get(sd.stable_channel, []), sd.tolerance)
        if sd.mode == "window":
            return any(recent.values())
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
        return [s.view() for s in self.slots.values()]

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
                holds = rules.step_finish_holds(sd, st, now)
            steps.append(
                {
                    "id": sd.id,
                    "axle": sd.axle,
                    "devices": list(sd.devices),
                    "status": st.status,
                    "started": st.started,
                    "finished": st.finished,
                    "holds": [h.as_dict() for h in holds],
                    "results": self._results.get(sd.id, {}),
                    "notice": insp.steps[sd.id].get("notice"),
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
            "card_holds": [h.as_dict() for h in card_holds],
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
                **self.keyring.open_json(r.sealed, f"readings:{r.inspection_id}:{r.channel}:{r.ts!r}"),
            }
            for r in rows
        ]

    def _publish_inspection(self) -> None:
        if self.current is not None:
            self.publish({"type": "inspection", "inspection": self.inspection_dict(self.current)})

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
                "items": [
                    {
                        "id": i["id"],
                        "value": i["value"],
                        "unit": i["norm"]["unit"],
                        "norm": i["norm"]["text"],
                        "passed": i["passed"],
                        "deviation": i["deviation"],
                    }
                    for i in card["items"]
                ],
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
            "inspection": self.inspection_dict(self.current),
            "outbox": self.outbox_counts,
            "last_card": last_card,
        }

    async def start_inspection(
        self, operator: str, plate: str, category: str, fuel: str, axles: int, owner: str = ""
    ) -> dict[str, Any]:
        plate = plate.strip().upper().replace(" ", "")
        if not plate or len(plate) > 12 or not plate.isalnum():
            raise OtolaneError("plate_bad", "the plate is 1–12 letters and digits", plate=plate)
        if category not in CATEGORIES:
            raise OtolaneError("category_unknown", "unknown category", category=category)
        if fuel not in FUELS:
            raise OtolaneError("fuel_unknown", "unknown fuel", fuel=fuel)
        if not 1 <= axles <= 6:
            raise OtolaneError("axles_bad", "axles are 1 to 6", axles=axles)
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
        for sd in rules.plan(category, axles, fuel, kinds):
            steps[sd.id] = {"status": "pending", **sd.as_dict()}
        steps["identification"] |= {"status": "done", "started": now, "finished": now}
        async with in_transaction() as tx:
            last = await Inspection.all().using_db(tx).order_by("-number").first()
            insp = await Inspection.create(
                id=iid,
                number=(last.number + 1) if last else 1,
                sealed=self.keyring.seal_json({"plate": plate, "owner": owner}, f"inspections:{iid}"),
                category=category,
                fuel=fuel,
                axles=axles,
                operator=operator,
                started=now,
                training=self.cfg.lane["training"],
                steps=steps,
                using_db=tx,
            )
            await self.journal.write(
                operator, "inspection_started", tx, inspection=insp.number, category=category
            )
        self.current = insp
        self._results, self._recent = {}, {}
        self._publish_inspection()
        return self.inspection_dict(insp) or {}

    def _require_current(self, insp_id: str) -> Inspection:
        if self.current is None or self.current.id != insp_id:
            raise OtolaneError("inspection_unknown", "no such open inspection", status=404)
        return self.current

    async def start_step(self, operator: str, insp_id: str, step_id: str) -> dict[str, Any]:
        insp = self._require_current(insp_id)
        plan = {sd.id: sd for sd in self._plan(insp)}
        if step_id not in plan:
            raise OtolaneError("step_unknown", "no such step", step=step_id, status=404)
        sd = plan[step_id]
        st = insp.steps[step_id]
        if st["status"] == "done":
            raise Refused("step_done", "the step is already done")
        holds = rules.step_start_holds(sd, self._step_states(insp), self._views())
        if holds:
            raise Refused("step_held", "the step cannot start", [h.as_dict() for h in holds])
        st.update(status="running", started=self.clock.now(), got=[], notice=None)
        self._started_real[step_id] = time.monotonic()
        self._results.pop(step_id, None)
        self._recent.pop(step_id, None)
        self._asked_result.pop(step_id, None)
        await insp.save(update_fields=["steps"])
        await self.journal.write(operator, "step_started", inspection=insp.number, step=step_id)
        if sd.mode == "test":
            for slot in self._slots_of(sd.devices):
                await self._command(slot, sd.start or slot.driver.profile.start or "start")
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
            result = self._result_command(slot)
            if result:
                await self._command(slot, result)

    def _interrupt_steps(self, kind: str, reason: str, notice: str | None = None) -> None:
        insp = self.current
        if insp is None:
            return
        for sid, st in insp.steps.items():
            if st["status"] == "running" and kind in st.get("devices", []):
                st.update(status="pending", started=None, got=[], notice=notice)
                self._spawn(insp.save(update_fields=["steps"]))
                self._spawn(
                    self.journal.write(
                        "laned", "step_interrupted", inspection=insp.number, step=sid, reason=reason
                    )
                )

    async def _ticker(self) -> None:
        """Finish running steps whose results are in and whose own minimum time has run."""
        while True:
            await asyncio.sleep(0.2)
            insp = self.current
            if insp is None:
                continue
            try:
                await self._tick(insp)
            except Exception:
                log.exception("gate tick failed")

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
                        insp.steps[state.id].update(
                            status="pending", started=None, got=[], notice="step_no_result"
                        )
                        await insp.save(update_fields=["steps"])
                        await self.journal.write(
                            "laned",
                            "step_no_result",
                            inspection=insp.number,
                            step=state.id,
                            waited_s=int(waited),
                        )
                        changed = True
                continue
            await self._flush()  # its readings are committed before the step is reported done
            insp.steps[state.id].update(status="done", finished=now)
            await insp.save(update_fields=["steps"])
            await self.journal.write(insp.operator, "step_finished", inspection=insp.number, step=state.id)
            changed = True
        if changed or time.monotonic() - self._last_publish >= 1.0:
            self._last_publish = time.monotonic()
            self._publish_inspection()

    async def form_card(self, operator: str, insp_id: str) -> dict[str, Any]:
        insp = self._require_current(insp_id)
        now = self.clock.now()
        holds = rules.card_holds(
            insp.category,
            insp.started,
            now,
            self._plan(insp),
            self._step_states(insp),
            self._views(),
        )
        if holds:
            await self.journal.write(
                operator,
                "card_refused",
                inspection=insp.number,
                holds=[h.code for h in holds],
            )
            raise Refused("card_held", "the card cannot be formed now", [h.as_dict() for h in holds])
        await self._flush()
        private = self.keyring.open_json(insp.sealed, f"inspections:{insp.id}")
        rows = await Reading.filter(inspection_id=insp.id).order_by("seq")
        readings = [
            {
                "step": r.step,
                "channel": r.channel,
                "ts": r.ts,
                "device_serial": r.device_serial,
                **self.keyring.open_json(r.sealed, f"readings:{r.inspection_id}:{r.channel}:{r.ts!r}"),
            }
            for r in rows
        ]
        card_id = str(uuid.uuid4())
        card = assemble_card(
            contract=CONTRACT_VERSION,
            card_id=card_id,
            insp=insp,
            plate=private["plate"],
            lane=self.cfg.lane,
            inspector={"username": operator},
            finished=now,
            readings=readings,
        )
        async with in_transaction() as tx:
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
                using_db=tx,
            )
            insp.status, insp.finished = "carded", now
            await insp.save(update_fields=["status", "finished"], using_db=tx)
            await self.journal.write(
                operator,
                "card_formed",
                tx,
                inspection=insp.number,
                card_id=card_id,
                verdict=card["verdict"],
            )
        self.current = None
        self.outbox.wake.set()
        await self.refresh_outbox()
        self.publish({"type": "inspection", "inspection": None})
        return {
            "card_id": card_id,
            "verdict": card["verdict"],
            "items": card["items"],
            "readings": card["readings"],
            "duration_s": card["duration_s"],
        }

    async def abort(self, operator: str, insp_id: str, reason: str) -> None:
        insp = self._require_current(insp_id)
        insp.status, insp.finished = "aborted", self.clock.now()
        await insp.save(update_fields=["status", "finished"])
        await self.journal.write(operator, "inspection_aborted", inspection=insp.number, reason=reason)
        self.current = None
        self.publish({"type": "inspection", "inspection": None})

    async def refresh_outbox(self) -> None:
        self.outbox_counts = await self.outbox.counts()
        self.publish({"type": "outbox", "outbox": self.outbox_counts})

"""The lane's stands: a slot per configured device, its status and live values, whether it is
admitted (R3.7, R3.15), its registration, its replacement, and the commands sent to it.

Owns the slots and their supervisor tasks; turns what a device reports into slot state, stream
events and journal entries (connected, refused, disconnected, stuck, recovered). It tells its
listener (the lane) that a reading came, that a test ended, or that a stand was lost or froze; it
never touches steps. A command to a stand is refused while a step runs on it (the listener says).

A stand is admitted only when the serial it reports is the registered one and its verification has
not expired. The registration is the config file's entry, replaced by the administrator's acts
(``device_replaced``) as the chained journal records them — the journal is the one place a
registration lives, so no table row can admit another stand behind it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.config import DeviceConfig
from app.domain import inspection as rules
from app.domain.norms import live_imbalance
from app.errors import OtolaneError
from app.journal import Journal
from app.lane import bus
from drivers.base import Device, DeviceStatus, Event, Identity, StatusChange, Why, supervise
from drivers.base import Reading as DeviceReading

log = logging.getLogger("otolane.lane")
#: the live channels of a brake stand whose imbalance the stream carries with each value
BRAKE_FORCES = ("brake.force.left", "brake.force.right")


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
            **self.derived(),
        }

    def derived(self) -> dict[str, float]:
        """What the lane computes from the live values (a brake stand's imbalance), so no screen does."""
        if self.cfg.kind != "brake":
            return {}
        left, right = (self.live.get(ch, (0.0, "", 0.0))[0] for ch in BRAKE_FORCES)
        return {"imbalance": live_imbalance(left, right)}

    @property
    def result_command(self) -> str:
        """The command that asks this stand for its test's result ("" when it sends it unasked)."""
        return self.driver.profile.result

    @property
    def serial(self) -> str:
        """The serial the stand reported on this connection ("" before it said)."""
        return self.identity.serial if self.identity else ""


def admit(cfg: DeviceConfig, ident: Identity, today: dt.date | None = None) -> tuple[bool, Why]:
    """R3.7/R3.15: the registered serial, within its verification."""
    today = today or dt.date.today()
    if ident.serial != cfg.serial:
        return False, Why("serial_mismatch", {"serial": ident.serial, "registered": cfg.serial})
    if cfg.verified_until < today:
        return False, Why("verification_expired", {"date": cfg.verified_until.isoformat()})
    return True, Why()


def replaced(cfg: DeviceConfig, details: dict[str, Any]) -> DeviceConfig:
    """The registration after a ``device_replaced`` journal entry."""
    return dataclasses.replace(
        cfg,
        serial=str(details["new_serial"]),
        model=str(details["new_model"]),
        certificate=str(details["certificate"]),
        verified_until=dt.date.fromisoformat(str(details["verified_until"])),
    )


async def registrations(devices: tuple[DeviceConfig, ...], journal: Journal) -> dict[str, DeviceConfig]:
    """Each device's registration: its config entry, then every replacement in the journal's order."""
    out = {d.id: d for d in devices}
    for e in await journal.events("device_replaced"):
        dev = e.details.get("device")
        if dev in out:
            out[dev] = replaced(out[dev], e.details)
    return out


class StandListener(Protocol):
    """What the stands tell the lane (the lane's steps decide what it means)."""

    def on_reading(self, slot: Slot, reading: DeviceReading) -> None: ...

    def on_test_end(self, slot: Slot) -> None: ...

    def on_lost(self, kind: str, reason: str, notice: str | None) -> None: ...

    def busy(self, kind: str) -> bool: ...

    def on_change(self) -> None: ...


class Stands:
    def __init__(
        self,
        devices: tuple[DeviceConfig, ...],
        drivers: dict[str, Device],
        journal: Journal,
        add_event: Callable[..., None],
        publish: Callable[[bus.Event], None],
        listener: StandListener,
    ) -> None:
        self.slots = {d.id: Slot(d, drivers[d.id]) for d in devices}
        self.journal = journal
        self.add_event = add_event
        self.publish = publish
        self.listener = listener

    # --- life ------------------------------------------------------------------------------
    async def load_registrations(self) -> None:
        """Each slot's registration as the journal leaves it (replacements since the config)."""
        regs = await registrations(tuple(s.cfg for s in self.slots.values()), self.journal)
        for slot in self.slots.values():
            slot.cfg = regs[slot.cfg.id]

    def start(self) -> None:
        for slot in self.slots.values():
            slot.task = asyncio.create_task(
                supervise(slot.driver, self.on_device, stale_after=slot.cfg.stale_after_s),
                name=f"device:{slot.cfg.id}",
            )

    def tasks(self) -> list[asyncio.Task[None]]:
        return [s.task for s in self.slots.values() if s.task]

    # --- what the devices say --------------------------------------------------------------
    def on_device(self, item: DeviceReading | Event | StatusChange) -> None:
        if isinstance(item, DeviceReading):
            slot = self.slots[item.device_id]
            slot.live[item.channel] = (item.value, item.unit, item.ts)
            self.publish(
                bus.reading(
                    item.device_id,
                    item.channel,
                    item.value,
                    item.unit,
                    item.ts,
                    item.final,
                    **(slot.derived() if item.channel in BRAKE_FORCES else {}),
                )
            )
            self.listener.on_reading(slot, item)
        elif isinstance(item, Event):
            if item.name == "test_end":
                self.listener.on_test_end(self.slots[item.device_id])
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
            self.add_event(
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
                self.add_event("laned", "device_disconnected", device=slot.cfg.id, reason=ch.reason)
            self.listener.on_lost(slot.cfg.kind, ch.reason, None)
        if ch.status == DeviceStatus.STUCK and not slot.frozen:
            # A frozen sensor would pass the stability gate with a value that measures nothing.
            slot.frozen = True
            self.add_event("laned", "device_stuck", device=slot.cfg.id, reason=ch.reason)
            self.listener.on_lost(slot.cfg.kind, ch.reason, "step_sensor_stuck")
        elif slot.frozen and ch.status == DeviceStatus.CONNECTED:  # moving again (perhaps after "no data")
            slot.frozen = False
            self.add_event("laned", "device_recovered", device=slot.cfg.id)
        self.publish(bus.device(slot.as_dict()))
        self.listener.on_change()

    # --- what the lane asks of them --------------------------------------------------------
    def of_kinds(self, kinds: tuple[str, ...] | list[str]) -> list[Slot]:
        return [s for s in self.slots.values() if s.cfg.kind in kinds]

    def views(self) -> list[rules.DeviceView]:
        return [s.view() for s in self.slots.values()]

    def as_list(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.slots.values()]

    def get(self, device_id: str) -> Slot:
        slot = self.slots.get(device_id)
        if slot is None:
            raise OtolaneError("device_unknown", "no such device", status=404)
        return slot

    async def send(self, slot: Slot, name: str) -> None:
        """A command of a running step; a lost cable shows as a status change, so a failure is logged."""
        try:
            await slot.driver.command(name)
        except Exception as exc:
            log.warning("command %s to %s failed: %s", name, slot.cfg.id, exc)

    def frames(self, device_id: str, last: int = 100) -> dict[str, Any]:
        """The stand's newest raw frames with what the parser made of them (the technician's view)."""
        slot = self.get(device_id)
        recent = [
            {
                "ts": f.ts,
                "hex": f.raw.hex(" "),
                "ok": f.ok,
                "note": f.note,
                "values": [list(v) for v in f.values],
            }
            for f in list(slot.driver.log.recent)[-last:]
        ]
        return {"device": slot.as_dict(), "frames": recent}

    async def service_command(self, actor: str, device_id: str, name: str) -> None:
        """A technician's service command (zero, reset, self-test: they change no reading), journalled;
        refused while a step runs on the stand."""
        slot = self.get(device_id)
        if name not in slot.driver.profile.service_commands:
            raise OtolaneError("command_not_allowed", "that command is not allowed", command=name)
        if self.listener.busy(slot.cfg.kind):
            raise OtolaneError("device_busy", "a step is running on this device", status=409)
        await slot.driver.command(name)
        await self.journal.write(actor, "device_command", device=slot.cfg.id, command=name)

    async def replace(
        self, admin: str, device_id: str, certificate: str, verified_until: str
    ) -> dict[str, Any]:
        """Register the stand now on the line (its identity as the hardware reports it) in place of
        the registered one: a logged admin act (R3.15). Readings of the old stand stay as they are.
        The journal entry is the registration."""
        slot = self.get(device_id)
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
        if self.listener.busy(slot.cfg.kind):
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
        self.publish(bus.device(slot.as_dict()))
        self.listener.on_change()
        return slot.as_dict()

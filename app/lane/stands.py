"""The lane's stands as the service sees them: a slot per configured device, its status and live
values, whether it is admitted (R3.7, R3.15), and its registration.

A stand is admitted only when the serial it reports is the registered one and its verification has
not expired. The registration is the config file's entry, replaced by the administrator's acts
(``device_replaced``) as the chained journal records them — the journal is the one place a
registration lives, so no table row can admit another stand behind it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from app.config import DeviceConfig
from app.domain import inspection as rules
from app.journal import Journal
from drivers.base import Device, DeviceStatus, Identity, Why


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

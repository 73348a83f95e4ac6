"""``laned``: the lane daemon. Owns devices, database, journal, outbox and the lane clock.

Start order: config → keys → database (migrations) → clock → devices → API socket. SIGTERM and
SIGINT stop it cleanly: the API closes, device tasks end, pending readings are flushed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
import time
from pathlib import Path

from app.api.server import Api, serve_unix
from app.auth import Accounts, Policy
from app.config import Config
from app.domain.clock import LaneClock
from app.eis.client import RestClient
from app.eis.outbox import OutboxWorker
from app.errors import OtolaneError
from app.journal import Journal
from app.lane.service import LaneService
from app.storage.crypto import Keyring, check_private
from app.storage.db import close_db, open_db
from app.storage.models import LaneState
from drivers.base import Device
from drivers.device import ProfileDevice
from drivers.families.modbus import ModbusDevice
from drivers.registry import PROFILES

log = logging.getLogger("otolane.daemon")


def make_driver(dev: object, cfg: Config) -> Device:
    from app.config import DeviceConfig

    assert isinstance(dev, DeviceConfig)
    port = cfg.port(dev.port)
    profile = PROFILES.get(dev.profile)
    if profile is None or profile.kind != dev.kind:
        known = sorted(n for n, p in PROFILES.items() if p.kind == dev.kind) or sorted(PROFILES)
        raise OtolaneError(
            "profile_unknown",
            f"device {dev.id}: no {dev.kind} profile '{dev.profile}' (known: {', '.join(known)})",
            device=dev.id,
        )
    if profile.family == "modbus":
        return ModbusDevice(dev.id, port, profile)
    return ProfileDevice(dev.id, port, profile)


def read_identification_key(cfg: Config) -> str:
    path = cfg.path(cfg.eis["identification_key_file"])
    try:
        check_private(path)
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise OtolaneError(
            "eis_key_missing",
            f"EIS identification key {path} not found: the administrator installs it",
            path=str(path),
        ) from None


async def load_clock(cfg: Config, speed: float) -> LaneClock:
    """The lane clock continues across restarts: its origin lives in the database."""
    state = await LaneState.get_or_none(key="clock")
    now = time.time()
    if state is not None:
        v = state.value
        old = LaneClock(v["speed"], v["origin_wall"], v["origin_lane"])
        if v["speed"] == speed:
            return old
        clock = LaneClock(speed, now, old.now())
    else:
        clock = LaneClock(speed, now, now)
    value = {"speed": speed, "origin_wall": clock.origin_wall, "origin_lane": clock.origin_lane}
    await LaneState.update_or_create(defaults={"value": value}, key="clock")
    return clock


async def journal_config(cfg: Config, journal: Journal) -> None:
    """R3.15: a changed configuration is journalled (its digest), with the devices it registers."""
    digest = hashlib.sha256(cfg.file.read_bytes()).hexdigest()
    state = await LaneState.get_or_none(key="config")
    if state is not None and state.value.get("sha256") == digest:
        return
    devices = [f"{d.id}:{d.profile}:{d.serial}" for d in cfg.devices]
    await journal.write(
        "laned",
        "config_changed" if state is not None else "config_installed",
        file=str(cfg.file),
        sha256=digest,
        devices=devices,
    )
    await LaneState.update_or_create(defaults={"value": {"sha256": digest}}, key="config")


class Daemon:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        cfg = self.cfg
        speed = float(cfg.lane["clock_speed"])
        keyring = Keyring.open_or_create(cfg.path(cfg.storage["key_file"]))
        id_key = read_identification_key(cfg)
        await open_db(cfg.dsn)
        try:
            journal = Journal()
            accounts = Accounts(Policy.from_config(cfg.security), journal)
            clock = await load_clock(cfg, speed)
            client = RestClient(cfg.eis["url"], id_key, cfg.eis["timeout_s"])
            outbox = OutboxWorker(client, keyring, journal, cfg.eis["environment"], lambda: None)
            drivers = {d.id: make_driver(d, cfg) for d in cfg.devices}
            lane = LaneService(cfg, keyring, journal, clock, outbox, drivers)
            await journal.write(
                "laned", "daemon_started", lane=cfg.lane["name"], training=cfg.lane["training"]
            )
            await journal_config(cfg, journal)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stopping.set)
            await lane.start()
            try:
                runner = await serve_unix(Api(lane, accounts, journal).app(), cfg.socket_path)
                log.info("laned ready on %s", cfg.socket_path)
                await self.stopping.wait()
                log.info("laned stopping")
                await runner.cleanup()
            finally:
                await lane.stop()
                await client.close()
            await journal.write("laned", "daemon_stopped")
        finally:
            await close_db()
            Path(cfg.socket_path).unlink(missing_ok=True)

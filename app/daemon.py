"""``laned``: the lane daemon. Owns devices, database, journal, outbox and the lane clock.

Start order: the lane lock (one daemon per lane) → config → store (database and migrations, data
key, signing key) → clock → devices → API socket. SIGTERM and SIGINT stop it cleanly: the API
closes (a screen that never reads is cut off), device tasks end, pending readings are flushed, the
chain heads are signed one last time.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import hashlib
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.api.server import Api, serve_unix
from app.auth import Accounts, Policy
from app.config import Config, DeviceConfig
from app.dlp import Watch
from app.eds.login import EdsLogin
from app.eis import history, idkey, system_key
from app.eis.client import make_client
from app.eis.idkey import IdKeySource
from app.eis.outbox import OutboxWorker
from app.errors import OtolaneError
from app.journal import Journal
from app.lane.clock import restore_clock
from app.lane.service import LaneService
from app.storage.crypto import Keyring
from app.storage.store import close_store, open_store
from drivers.base import Device
from drivers.device import ProfileDevice
from drivers.families.modbus import ModbusDevice
from drivers.registry import PROFILES

log = logging.getLogger("otolane.daemon")


def make_driver(dev: DeviceConfig, cfg: Config) -> Device:
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


def check_identification_key(cfg: Config) -> None:
    """Before anything opens: the key file is there and private (its content is read with the store)."""
    idkey.check_file(cfg.path(cfg.eis["identification_key_file"]))


async def identification_key(cfg: Config, keyring: Keyring, journal: Journal) -> IdKeySource:
    """The key source of the outbox; a plain key file of an older installation is sealed in place."""
    path = cfg.path(cfg.eis["identification_key_file"])
    key, plain = idkey.read(path, keyring)
    if plain:
        idkey.write(path, keyring, key)
        await journal.write(
            "laned", "eis_key_sealed", fingerprint=key.fingerprint, valid_until=key.valid_until
        )
    return IdKeySource(path, keyring)


@contextlib.contextmanager
def lane_lock(cfg: Config) -> Iterator[None]:
    """One daemon per lane: an exclusive ``flock`` on the lane's lock file, held for the daemon's life.
    A second daemon would take over the socket, and two owners of the stands' lines and chains would
    lose frames and journal entries. The kernel drops the lock when the holder dies."""
    path = cfg.path(cfg.daemon["lock_file"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise OtolaneError(
                "lane_busy",
                f"another laned (pid {holder}) already runs this lane: it holds {path}. Stop it first "
                "(systemctl stop laned), or give this lane its own configuration",
                pid=holder,
                path=str(path),
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


async def journal_config(cfg: Config, journal: Journal) -> None:
    """R3.15: a changed configuration is journalled (its digest), with the devices it registers."""
    digest = hashlib.sha256(cfg.file.read_bytes()).hexdigest()
    last = await journal.last("config_installed", "config_changed")
    if last is not None and last.details.get("sha256") == digest:
        return
    devices = [f"{d.id}:{d.profile}:{d.serial}" for d in cfg.devices]
    await journal.write(
        "laned",
        "config_changed" if last is not None else "config_installed",
        file=str(cfg.file),
        sha256=digest,
        devices=devices,
    )


class Daemon:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.stopping = asyncio.Event()
        self.lane: LaneService | None = None  # while it runs (a test in the same loop reaches in)

    async def run(self) -> None:
        with lane_lock(self.cfg):
            await self._run()

    async def _run(self) -> None:
        cfg = self.cfg
        speed = float(cfg.lane["clock_speed"])
        check_identification_key(cfg)
        drivers = {d.id: make_driver(d, cfg) for d in cfg.devices}
        store = await open_store(cfg)
        try:
            journal = store.journal
            accounts = Accounts(Policy.from_config(cfg.security), journal)
            await journal.write(
                "laned", "daemon_started", lane=cfg.lane["name"], training=cfg.lane["training"]
            )
            await journal_config(cfg, journal)
            clock = await restore_clock(journal, bool(cfg.lane["training"]), speed)
            keys = await identification_key(cfg, store.keyring, journal)
            ca_file = str(cfg.path(cfg.eis["ca_file"])) if cfg.eis["ca_file"] else None
            client = make_client(cfg.eis, lambda: keys.current().value, ca_file)

            async def exporter(start: float, end: float, request: str | None) -> dict[str, Any]:
                return await history.export(store.key, cfg.lane["name"], start, end, request)

            system_signer = await system_key.load(cfg, journal)
            make_outbox = functools.partial(
                OutboxWorker,
                client,
                store.keyring,
                journal,
                cfg.eis["environment"],
                key_source=keys,
                exporter=exporter,
                poll_s=float(cfg.eis["poll_s"]),
                lane=cfg.lane["name"],
                training=bool(cfg.lane["training"]),
                events_on=bool(cfg.eis["events"]),
                system_signer=system_signer,
                anchors=cfg.path(cfg.storage["anchor_file"]),
            )
            lane = self.lane = LaneService(cfg, store, clock, make_outbox, drivers)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stopping.set)
            await lane.start()
            watch = Watch.on(journal, cfg.dlp)  # R11: leak-prevention rules over every activity entry
            api = Api(lane, accounts, journal, EdsLogin(cfg, accounts, store.keyring))
            try:
                runner = await serve_unix(api.app(), cfg.socket_path)
                log.info("laned ready on %s", cfg.socket_path)
                guard = asyncio.create_task(api.guard_sessions(), name="session-guard")
                await self.stopping.wait()
                log.info("laned stopping")
                guard.cancel()
                await runner.cleanup()
            finally:
                await lane.stop()
                await client.close()
                await watch.stop()
            await journal.write("laned", "daemon_stopped")
            await lane.checkpoint("daemon_stopped")
        finally:
            await close_store()
            Path(cfg.socket_path).unlink(missing_ok=True)

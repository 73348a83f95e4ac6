"""The lane service: the composition root of the lane inside ``laned``.

Builds the parts, wires what each tells the others through their constructors, starts them in
order and stops them. It holds no rule and no state of its own beyond the integrity alarms found
at start. The parts (``docs/architecture.md``, "The lane service"):

* :class:`~app.lane.bus.Bus` — stream subscribers and events;
* :class:`~app.lane.recorder.Recorder` — readings and daemon journal entries, committed in batches;
* :class:`~app.lane.stands.Stands` — device slots, admission, replacement, commands;
* :class:`~app.lane.cameras.Cameras` — camera slots, the photo, plate reading;
* :class:`~app.lane.steps.Steps` — the open inspection's steps and their gates;
* :class:`~app.lane.intake.Intake` — opening, aborting, resuming an inspection;
* :class:`~app.lane.forming.Forming` — the card's review, assembly and storing;
* :class:`~app.documents.issue.Issuer` — the card and certificate on paper;
* :class:`~app.lane.views.Views` — the JSON of the API and the stream.

What the operator is told is committed first: a step is reported done only when its readings and
the step's own record are stored; a card only when it, its outbox row and its journal entry are;
the card carries the chain heads it was formed on, signed by the lane's key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from app.backup.job import BackupJob
from app.config import Config
from app.documents.issue import Issuer
from app.eis.outbox import OutboxWorker
from app.integrity.job import IntegrityJob
from app.lane.arrival import Arrivals
from app.lane.bus import Bus
from app.lane.cameras import Cameras
from app.lane.clock import ClockStart
from app.lane.forming import Forming
from app.lane.intake import Intake
from app.lane.photos import Place
from app.lane.recorder import Recorder, StorageFailed
from app.lane.stands import Stands
from app.lane.steps import StandsToSteps, Steps
from app.lane.views import Views
from app.release.manifest import Installed, root_file
from app.settings import LaneSettings
from app.storage.store import Store
from drivers.base import Device

log = logging.getLogger("otolane.lane")
#: How often the chain heads are signed into the checkpoint file when they moved (besides every step
#: finished, card formed, start and stop).
CHECKPOINT_EVERY_S = 30.0
#: how often the gates are ticked and the storage status looked at (seconds)
TICK_S = 0.2


class LaneService:
    def __init__(
        self,
        cfg: Config,
        store: Store,
        clock_start: ClockStart,
        make_outbox: Callable[..., OutboxWorker],
        drivers: dict[str, Device],
    ) -> None:
        """``make_outbox(on_change, photo_image=…)``: builds the outbox worker with the callback it
        calls when its queue changed and the photo store's images (a card names its photos; their
        images travel from their files)."""
        self.cfg = cfg
        self.store = store
        self.keyring = store.keyring
        self.journal = store.journal
        #: what the lane found wrong with its own records at start (shown on every screen, journalled)
        self.alarms: list[str] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._bg: set[asyncio.Task[Any]] = set()
        self._checkpoint_lock = asyncio.Lock()
        self._cameras_published = 0.0
        clock = clock_start.clock
        self.bus = Bus()
        publish = self.bus.publish
        self.recorder = Recorder(store.keyring, store.journal)
        add_event = self.recorder.add_event
        listener = StandsToSteps(lambda: self.steps, lambda: self.views.publish_inspection())
        self.stands = Stands(cfg.devices, drivers, store.journal, add_event, publish, listener)
        self.cameras = Cameras.of(
            cfg, store, add_event, publish, lambda cam, why: self.steps.camera_lost(cam, why)
        )
        self.cameras.clock = clock
        photos = self.cameras.photos
        self.outbox = make_outbox(lambda: self.spawn(self.views.refresh_outbox()), photo_image=photos.image)
        self.steps = Steps(
            clock,
            store.journal,
            self.recorder,
            self.stands,
            self.cameras,
            self.spawn,
            self.checkpoint,
            listener.on_change,
        )
        self.views = Views(
            cfg,
            clock,
            store.keyring,
            self.recorder,
            self.stands,
            self.cameras,
            self.steps,
            self.outbox,
            self.bus.streams,
            lambda: self.alarms,
            publish,
            lambda: self.arrivals.latest,
        )
        self.arrivals = Arrivals(self.cameras, lambda camera: self.intake.recognise_plate(camera), publish)
        self.intake = Intake(
            cfg,
            clock_start,
            store.keyring,
            store.journal,
            self.steps,
            self.cameras,
            publish,
            self.arrivals.used,
        )
        self.forming = Forming(
            cfg,
            clock,
            store,
            self.recorder,
            self.steps,
            self.cameras,
            self.outbox,
            publish,
            self.spawn,
            self.checkpoint,
            self.views.refresh_outbox,
        )
        self.documents = Issuer(cfg, clock, store.keyring, store.journal, photos.with_images, store.key)
        self.integrity = IntegrityJob(cfg, store.key)
        self.backup = BackupJob(cfg, store.journal)
        self.settings = LaneSettings(cfg, store.journal, self._setting_applied)

    def _setting_applied(self, key: str, value: Any) -> None:
        """A live setting changed: the parts that keep their own copy take it (the others read the
        configuration when they act: the printer, the card's position)."""
        if key == "eis.poll_s":
            self.outbox.poll_s = float(value)
        elif key in ("lane.latitude", "lane.longitude"):
            lane = self.cfg.lane
            self.cameras.photos.place = Place(float(lane["latitude"]), float(lane["longitude"]))

    # --- life ----------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.settings.start()
        await self.stands.load_registrations()
        self.alarms = await self.store.tail_problems()
        self.alarms += await self.intake.resume()
        self.alarms += await self.outbox.reconcile()
        for alarm in self.alarms:
            log.error("integrity alarm: %s", alarm)
        if self.alarms:
            await self.journal.write("laned", "integrity_alarm", problems=self.alarms)
        await self.views.refresh_outbox()
        await self.checkpoint("daemon_started")
        self.stands.start()
        self._tasks += [
            asyncio.create_task(self.recorder.run(), name="recorder"),
            asyncio.create_task(self._ticker(), name="gates-ticker"),
            asyncio.create_task(self._checkpointer(), name="checkpointer"),
            asyncio.create_task(self.outbox.run(), name="outbox"),
            asyncio.create_task(self.backup.watch(), name="backup-watch"),
        ]
        self.intake.installation_checked.clear()
        self._tasks.append(asyncio.create_task(self._check_installation(), name="installation-check"))
        await self.cameras.start()
        if self.cfg.anpr["watch"]:
            self._tasks.append(asyncio.create_task(self.arrivals.run(), name="arrival-watch"))

    async def _check_installation(self) -> None:
        """R10.7: the program's files against its signed release, beside the start (hashing a release
        takes seconds on a kiosk: the screens answer meanwhile, an inspection waits for the verdict);
        a difference is named on every screen and in the journal, and no production work starts."""
        try:
            found = await asyncio.to_thread(Installed.running().problems, root_file(self.cfg))
            if found:
                self.intake.install_problems = found
                self.alarms = [*self.alarms, *(f"installation: {p}" for p in found)]
                log.error("installation: %d file(s) differ from the signed release: %s", len(found), found[0])
                await self.journal.write("laned", "install_modified", files=found)
        finally:
            self.intake.installation_checked.set()

    async def stop(self) -> None:
        await self.integrity.close()  # a check under way saves its position: it resumes
        await self.backup.close()
        await self.cameras.stop()
        tasks: list[asyncio.Task[Any]] = [*self.stands.tasks(), *self._tasks]
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

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background, kept until it ends (a task nobody holds may be collected)."""
        task = asyncio.create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

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

    async def _ticker(self) -> None:
        """The lane's heartbeat: storage status, the photo cameras armed while their step runs, the
        cameras' figures each second (D2), and the steps' gates."""
        while True:
            await asyncio.sleep(TICK_S)
            self.views.publish_storage()
            self.cameras.arm(self.steps.photo_armed)
            if time.monotonic() - self._cameras_published >= 1.0:
                self._cameras_published = time.monotonic()
                self.cameras.publish_all()  # fps, age of the last frame (D2)
            try:
                await self.steps.tick()
            except Exception:
                log.exception("gate tick failed")

"""The lane's cameras as the service sees them (R3.7, R3.9, R3.16, R3.18, R3.2, D2).

* A slot per configured camera (``[[cameras]]``) with its supervisor (``drivers/camera``).
* **Admitted cameras (R3.7).** A camera is admitted only when the identity it reports on connect
  (ONVIF device information, or its stream's fingerprint) is the registered one: the config
  entry, replaced by the administrator's ``camera_registered`` acts as the chained journal records
  them. Every connect is journalled (``camera_connected`` / ``camera_refused``); a frame asked of a
  camera that is not admitted is refused and journalled (``camera_frame_refused``). No route takes
  a picture from a file: photos come only from :meth:`Cameras.grab`.
* **The photo (R3.9, R3.18).** When a brake reading of the trigger step arrives
  (``app/domain/photo.py: triggers``), every admitted ``photo`` camera's newest frame is taken,
  judged (R6) and stored (``app/lane/photos.py``); the step cannot finish before (the service's gate),
  and goes back with the reason when no camera gave one.
* **The plate (R3.2).** :meth:`Cameras.recognise` reads the plate off a ``plate`` camera's frame,
  within the region the administrator marked (``app/lane/plate_reader.py``).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from app.config import CameraConfig, Config
from app.domain import photo as photo_rules
from app.domain.clock import LaneClock
from app.domain.inspection import DeviceView
from app.errors import OtolaneError
from app.journal import Journal
from app.lane import bus
from app.lane.photos import PhotoRefused, Photos, Place, judged
from app.lane.plate_reader import PlateReader, check_roi
from app.storage.db import StorageFailed
from drivers.camera.base import Camera, CameraError, CameraIdentity, CameraStatus, Frame, redact
from drivers.camera.registry import make_camera
from drivers.gnss import Receiver

log = logging.getLogger("otolane.cameras")

#: a frame older than this is no photo of the moment (R3.9)
PHOTO_MAX_AGE_S = 1.0
#: how long the photo waits for a frame taken after its trigger (an RTSP camera's key-frame interval)
FRESH_WAIT_S = 3.0
#: the kind the gates know the photo cameras by (a trigger step's equipment)
CAMERA_KIND = "camera"


def admit(reg: CameraConfig, ident: CameraIdentity) -> tuple[bool, dict[str, Any]]:
    """R3.7: the registered serial (and make and model, where registered)."""
    for key in ("serial", "make", "model"):
        want = getattr(reg, key)
        got = getattr(ident, key)
        if (want or key == "serial") and got != want:
            return False, reason(
                "camera_identity_changed", serial=ident.serial, field=key, found=got, registered=want
            )
    return True, reason("")


def reason(code: str, **params: Any) -> dict[str, Any]:
    """Why a camera is not admitted, as the screens say it (``[reason]`` of the catalogs)."""
    return {"code": code, "params": params}


@dataclass
class CameraSlot:
    cfg: CameraConfig
    cam: Camera
    admitted: bool = False
    why: dict[str, Any] = field(default_factory=lambda: reason(""))
    judged_identity: CameraIdentity | None = None
    status: CameraStatus = CameraStatus.CONNECTING
    task: asyncio.Task[None] | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.cam.as_dict() | {
            "url": redact(self.cfg.url),
            "roles": list(self.cfg.roles),
            "admitted": self.admitted,
            "why": self.why,
            "registered": {"make": self.cfg.make, "model": self.cfg.model, "serial": self.cfg.serial},
        }


def _newest(slot: CameraSlot, max_age_s: float) -> Frame:
    """The camera's newest frame, or why there is none in the user's words (a catalog code)."""
    try:
        return slot.cam.grab(max_age_s)
    except CameraError as exc:
        raise OtolaneError(
            "camera_no_frame",
            f"camera {slot.cfg.id} gives no frame: {exc}",
            status=409,
            camera=slot.cfg.id,
            reason=str(exc)[:200],
            why=exc.why,  # the screens say it in the user's language
        ) from None


def registered(cfg: CameraConfig, details: dict[str, Any]) -> CameraConfig:
    """The registration after a ``camera_registered`` journal entry."""
    return dataclasses.replace(
        cfg, make=str(details["make"]), model=str(details["model"]), serial=str(details["serial"])
    )


class Cameras:
    def __init__(
        self,
        cfg: Config,
        photos: Photos,
        journal: Journal,
        add_event: Callable[..., None],
        publish: Callable[[dict[str, Any]], None],
        on_lost: Callable[[str, str], None],
    ) -> None:
        self.photos = photos
        anpr = {"engine": cfg.anpr["engine"], "model_dir": str(cfg.path(cfg.anpr["model_dir"]))}
        self.plates = PlateReader(anpr, journal)
        self.journal = journal
        self.add_event = add_event
        self.publish = publish
        self.slots = {
            c.id: CameraSlot(
                c,
                make_camera(c.kind, c.id, c.url, onvif_url=c.onvif, stale_after_s=c.stale_after_s, fps=c.fps),
            )
            for c in cfg.cameras
        }
        self._taking: set[tuple[str, int]] = set()
        #: the lane clock: a photo's moment is said on it, as everything on the card (R3.9)
        self.clock = LaneClock()
        #: a photo camera was lost (camera id, reason): the lane sends back a step waiting for its photo
        self.on_lost = on_lost
        self.gnss: Receiver | None = None
        self._gnss_task: asyncio.Task[None] | None = None

    @classmethod
    def of(
        cls,
        cfg: Config,
        store: Any,
        add_event: Callable[..., None],
        publish: Callable[[dict[str, Any]], None],
        on_lost: Callable[[str, str], None],
    ) -> Cameras:
        place = Place(float(cfg.lane["latitude"]), float(cfg.lane["longitude"]))
        photos = Photos(cfg.path(cfg.storage["photos_dir"]), store.keyring, store.journal, place)
        cams = cls(cfg, photos, store.journal, add_event, publish, on_lost)
        if cfg.lane["gnss_port"]:
            cams.gnss = Receiver(cfg.port(cfg.lane["gnss_port"]), cfg.lane["gnss_baudrate"])
        return cams

    def place(self) -> Place:
        """Where the photo is taken (R3.18): the GNSS receiver's fresh fix, else the configured place."""
        fix = self.gnss.current() if self.gnss is not None else None
        if fix is not None:
            return Place(round(fix.latitude, 7), round(fix.longitude, 7), "gnss")
        return self.photos.place

    @property
    def photo_cameras(self) -> list[CameraSlot]:
        return [s for s in self.slots.values() if "photo" in s.cfg.roles]

    # --- life ------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.gnss is not None:
            self._gnss_task = asyncio.create_task(self.gnss.run(), name="gnss")
        if not self.slots:
            return
        self.photos.ensure_folder()
        removed = await self.photos.sweep()
        if removed:
            await self.journal.write(
                "laned", "photo_files_removed", files=removed, why="no row: a cut capture"
            )
        for e in await self.journal.events("camera_registered"):
            slot = self.slots.get(e.details.get("camera", ""))
            if slot is not None:
                slot.cfg = registered(slot.cfg, e.details)
        await self.plates.load()
        for slot in self.slots.values():
            slot.task = asyncio.create_task(slot.cam.run(self._on_change), name=f"camera:{slot.cfg.id}")

    async def stop(self) -> None:
        if self._gnss_task is not None:
            self._gnss_task.cancel()
        for slot in self.slots.values():
            slot.cam.stop()
            if slot.task is not None:
                slot.task.cancel()
        self.plates.stop()

    def _on_change(self, cam: Camera) -> None:
        slot = self.slots[cam.id]
        before = slot.status
        slot.status = cam.status
        if (
            cam.status == CameraStatus.CONNECTING
            and cam.identity is not None
            and cam.identity != slot.judged_identity
        ):
            self._judge(slot, cam.identity)
        elif cam.status == CameraStatus.FAULTED:
            if before in (CameraStatus.CONNECTED, CameraStatus.STALE):
                self.add_event("laned", "camera_disconnected", camera=cam.id, reason=cam.reason)
                if "photo" in slot.cfg.roles:
                    self.on_lost(cam.id, cam.reason)
            slot.judged_identity = None  # the next connect is judged (and journalled) again
        self.publish(bus.camera(self.view(slot)))

    def _judge(self, slot: CameraSlot, ident: CameraIdentity) -> None:
        slot.judged_identity = ident
        slot.admitted, slot.why = admit(slot.cfg, ident)
        self.add_event(
            "laned",
            "camera_connected" if slot.admitted else "camera_refused",
            camera=slot.cfg.id,
            kind=slot.cfg.kind,
            make=ident.make,
            model=ident.model,
            serial=ident.serial,
            firmware=ident.firmware,
            registered=slot.cfg.serial,
        )

    def views(self) -> list[DeviceView]:
        """The photo cameras as the gates see equipment (R3.7)."""
        out = []
        for s in self.photo_cameras:
            connected = (
                s.cam.status in (CameraStatus.CONNECTED, CameraStatus.STALE) and s.cam.latest is not None
            )
            reason = s.cam.reason or ("" if connected else s.cam.status.value)
            if connected and not s.admitted:
                p = s.why["params"]
                reason = f"the camera reports {p.get('serial')}, the registered one is {p.get('registered')}"
            out.append(
                DeviceView(
                    s.cfg.id,
                    CAMERA_KIND,
                    connected,
                    s.admitted,
                    reason,
                    why=s.cam.why if not connected else s.why if not s.admitted else {},
                )
            )
        return out

    def as_list(self) -> list[dict[str, Any]]:
        return [self.view(s) for s in self.slots.values()]

    def publish_all(self) -> None:
        for slot in self.slots.values():
            self.publish(bus.camera(self.view(slot)))

    def arm(self, on: bool) -> None:
        """Decode every frame of the photo cameras while their moment may come (else key frames)."""
        for slot in self.photo_cameras:
            slot.cam.armed = on

    # --- frames --------------------------------------------------------------------------
    def grab(self, slot: CameraSlot, max_age_s: float = PHOTO_MAX_AGE_S) -> Frame:
        """The newest frame of an admitted camera (R3.7); anything else is refused and journalled."""
        ident = slot.cam.identity
        if not slot.admitted or ident is None or ident != slot.judged_identity:
            self.add_event(
                "laned",
                "camera_frame_refused",
                camera=slot.cfg.id,
                serial=ident.serial if ident else "",
                registered=slot.cfg.serial,
            )
            raise OtolaneError(
                "camera_not_admitted",
                f"camera {slot.cfg.id} is not the registered one: its frames are refused",
                status=409,
                camera=slot.cfg.id,
            )
        return _newest(slot, max_age_s)

    # --- the photo (R3.9) ------------------------------------------------------------------
    async def fresh_frame(self, slot: CameraSlot, since: float) -> Frame:
        """The camera's first frame from the trigger on (wall clock): a camera whose decoder lags (an
        RTSP stream waits for its next key frame; a loaded kiosk) must not hand in a frame from before
        the car was on the stand. After ``FRESH_WAIT_S`` its newest frame, judged by the step's window."""
        deadline = time.monotonic() + FRESH_WAIT_S
        frame = self.grab(slot)
        while frame.ts < since and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # a camera's frame interval is 40–100 ms
            frame = self.grab(slot)
        return frame

    def trigger_step(self, category: str, axles: int) -> str | None:
        return photo_rules.photo_step(category, axles) if self.photo_cameras else None

    def on_brake(
        self,
        ids: dict[str, Any],
        step: str,
        run_photo: tuple[int, bool],
        reading: tuple[str, float, bool],
        done: Callable[[dict[str, Any] | None, str], None],
        started: float | None = None,
    ) -> Coroutine[Any, Any, None] | None:
        """A brake reading of the running step that takes the photo (its run, and whether that run's
        photo is stored): when it triggers (once a run), the taking, for the caller to run in the
        background. ``started``: when the step's run started, on the lane clock (a frame from before
        is refused, R3.9)."""
        channel, value, final = reading
        run, stored = run_photo
        key = (step, run)
        if stored or key in self._taking:
            return None
        if not photo_rules.triggers(step, step, channel, value, final):
            return None
        self._taking.add(key)
        return self._take(ids, step, run, done, key, started)

    async def _take(
        self,
        ids: dict[str, Any],
        step: str,
        run: int,
        done: Callable[[dict[str, Any] | None, str], None],
        key: tuple[str, int],
        started: float | None = None,
    ) -> None:
        reasons: list[str] = []
        taken: list[dict[str, Any]] = []
        triggered = time.time()
        try:
            for slot in self.photo_cameras:
                try:
                    frame = await self.fresh_frame(slot, triggered)
                    ident = slot.cam.identity
                    assert ident is not None
                    when = self.clock.at(frame.ts)  # the card's clock (a training lane's runs faster)
                    late = photo_rules.outside_step(when, started, self.clock.now()) if started else None
                    if late is not None:
                        raise PhotoRefused(late[0], f"the frame of camera {slot.cfg.id} is outside the step")
                    place = self.place()
                    jpeg, facts = await asyncio.to_thread(judged, frame, ident, slot.cfg.id, place, when)
                    record = await self.photos.store(jpeg, facts, when, ids, step, "laned")
                    taken.append(record | {"run": run})
                except PhotoRefused as exc:
                    reasons.append(f"{slot.cfg.id}: {exc.code}")
                    self.add_event(
                        "laned", "photo_refused", **ids, camera=slot.cfg.id, reason=exc.code, **exc.params
                    )
                except (OtolaneError, StorageFailed) as exc:
                    log.warning("camera %s gave no photo: %s", slot.cfg.id, exc.message)
                    reasons.append(f"{slot.cfg.id}: {exc.code}")
            done(taken[0] if taken else None, "; ".join(reasons))
        finally:
            self._taking.discard(key)

    async def photos_for_card(self, inspection_id: str, trigger: str | None) -> list[dict[str, Any]]:
        """The trigger step's photos, each from a camera registered now as it was when taken."""
        if trigger is None:
            return []
        out = []
        for p in await self.photos.of_inspection(inspection_id, trigger):
            slot = self.slots.get(p["camera"]["id"])
            if slot is not None and slot.cfg.serial == p["camera"]["serial"]:
                out.append(p)
        return out

    # --- registration (admin) ---------------------------------------------------------------
    async def register(self, admin: str, camera_id: str) -> dict[str, Any]:
        """The identity the camera reports now becomes its registration: a journalled admin act."""
        slot = self.slots.get(camera_id)
        if slot is None:
            raise OtolaneError("camera_unknown", "no such camera", status=404, camera=camera_id[:40])
        ident = slot.cam.identity
        if ident is None or slot.cam.status not in (
            CameraStatus.CONNECTING,
            CameraStatus.CONNECTED,
            CameraStatus.STALE,
        ):
            raise OtolaneError(
                "camera_no_identity",
                "connect the camera first: its identity is read from it",
                camera=camera_id,
            )
        details = {
            "camera": camera_id,
            "old_serial": slot.cfg.serial,
            "make": ident.make,
            "model": ident.model,
            "serial": ident.serial,
            "firmware": ident.firmware,
            "source": ident.source,
        }
        await self.journal.write(admin, "camera_registered", **details)
        slot.cfg = registered(slot.cfg, details)
        self._judge(slot, ident)
        self.publish(bus.camera(self.view(slot)))
        return self.view(slot)

    async def thumbnail(self, camera_id: str, width: int = 48, height: int = 24) -> dict[str, Any]:
        """A small live picture of an admitted camera for the screens (D2), never stored. A camera
        that is not admitted shows nothing (its frames are refused; looking is not journalled)."""
        slot = self.slots.get(camera_id)
        if slot is None:
            raise OtolaneError("camera_unknown", "no such camera", status=404, camera=camera_id[:40])
        if not slot.admitted:
            raise OtolaneError(
                "camera_not_admitted", "the camera is not the registered one", status=409, camera=camera_id
            )
        frame = _newest(slot, 5.0)

        def small() -> bytes:
            import cv2

            return bytes(cv2.resize(frame.rgb(), (width, height), interpolation=cv2.INTER_AREA).tobytes())

        data = await asyncio.to_thread(small)
        return {"camera": camera_id, "width": width, "height": height, "rgb": base64.b64encode(data).decode()}

    # --- the plate (R3.2) ------------------------------------------------------------------------
    def plate_slots(self, camera_id: str = "") -> list[CameraSlot]:
        """The cameras that read plates (or the one named, if it does)."""
        return [
            s
            for s in self.slots.values()
            if "plate" in s.cfg.roles and (not camera_id or s.cfg.id == camera_id)
        ]

    async def recognise(self, camera_id: str = "") -> dict[str, Any]:
        slots = self.plate_slots(camera_id)
        if not slots:
            raise OtolaneError("camera_none", "no camera of this lane reads plates", status=404)
        admitted = [s for s in slots if s.admitted] or slots
        frame = self.grab(admitted[0], max_age_s=3.0)
        t0 = time.monotonic()
        result, picture = await self.plates.read(admitted[0].cfg.id, frame)
        return result | {
            "camera": admitted[0].cfg.id,
            "ms_total": round((time.monotonic() - t0) * 1000, 1),
            "preview": picture,
        }

    async def set_roi(self, admin: str, camera_id: str, roi: Any) -> dict[str, Any]:
        """The part of a plate camera's frame the plate is looked for in (null: the whole frame)."""
        slot = self.slots.get(camera_id)
        if slot is None:
            raise OtolaneError("camera_unknown", "no such camera", status=404, camera=camera_id[:40])
        if "plate" not in slot.cfg.roles:
            raise OtolaneError(
                "camera_not_plate", "this camera does not read plates", status=409, camera=camera_id
            )
        await self.plates.set_roi(admin, camera_id, check_roi(roi))
        view = self.view(slot)
        self.publish(bus.camera(view))
        return view

    def view(self, slot: CameraSlot) -> dict[str, Any]:
        """A camera as the screens see it, with its plate region."""
        return slot.as_dict() | {"roi": self.plates.rois.get(slot.cfg.id)}

"""Vehicle photos (R3.9, R3.18, R6, R7, R3.10): a frame grabbed from an admitted camera's live stream
becomes the card's photo here.

1. The frame is judged by the photo rules (``app/domain/photo.py``: size, format, RGB, not grey).
2. Its JPEG gets an EXIF block: the lane's geolocation (GPS IFD), the capture time and the camera's
   make, model and serial. A camera's own JPEG is kept as it came (the EXIF is spliced in, nothing
   re-encoded); a decoded H.264 frame is encoded once.
3. The image is encrypted (AES-256-GCM, bound to the photo's id) into a file of its own (0600,
   fsynced, renamed into place), then its row — the file's and the image's SHA-256, camera, time,
   geolocation — is appended to the ``photos`` chain with the journal's ``photo_taken`` in one
   transaction. A write the database refuses removes the file: no photo is half-taken.

``otolane integrity check`` holds every row against its file (:meth:`Photos.check_files`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np  # loaded when a frame is decoded, not at import

import base64
import datetime as dt
import hashlib
import os
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from app.domain import photo as rules
from app.errors import OtolaneError
from app.storage.chain import ChainWriter
from app.storage.crypto import Keyring
from app.storage.db import StorageFailed, write_tx
from app.storage.models import Photo
from drivers.camera.base import CameraIdentity, Frame

SUFFIX = ".jpg.sealed"
#: where a photo's file waits until its row is committed; the start-up sweep looks only here
INCOMING = ".incoming"


class PhotoRefused(OtolaneError):
    """A frame that may not be the card's photo (R6, R3.7); the code says why."""

    status = 409


@dataclass(frozen=True)
class Place:
    latitude: float
    longitude: float
    source: str = "config"  # config | gnss


def chroma(rgb: np.ndarray) -> float:
    """Mean |R−G| and |G−B| over every 4th pixel: 0 for a grey picture in RGB."""
    import numpy as np

    s = rgb[::4, ::4].astype(np.int16)
    return float((np.abs(s[..., 0] - s[..., 1]).mean() + np.abs(s[..., 1] - s[..., 2]).mean()) / 2)


def _rational(x: float) -> Fraction:
    return Fraction(x).limit_denominator(1_000_000)


def _dms(deg: float) -> tuple[Fraction, Fraction, Fraction]:
    a = abs(deg)
    d = int(a)
    m = int((a - d) * 60)
    s = (a - d - m / 60) * 3600
    return Fraction(d), Fraction(m), _rational(round(s, 4))


def exif_block(ident: CameraIdentity, camera_id: str, taken: float, place: Place) -> bytes:
    """The APP1 payload (``Exif\\0\\0`` + TIFF) with the capture time, camera and GPS position."""
    from PIL import Image

    when = dt.datetime.fromtimestamp(taken).strftime("%Y:%m:%d %H:%M:%S")
    exif = Image.Exif()
    exif[0x010F] = ident.make or "-"  # Make
    exif[0x0110] = ident.model or "-"  # Model
    exif[0x0132] = when  # DateTime
    exif[0x010E] = f"otolane camera {camera_id}"  # ImageDescription
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = when  # DateTimeOriginal
    sub[0x9010] = dt.datetime.fromtimestamp(taken).astimezone().strftime("%z")[:3] + ":00"  # OffsetTime
    sub[0xA431] = ident.serial  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[0x0000] = b"\x02\x03\x00\x00"  # GPSVersionID
    gps[0x0001] = "N" if place.latitude >= 0 else "S"
    gps[0x0002] = _dms(place.latitude)
    gps[0x0003] = "E" if place.longitude >= 0 else "W"
    gps[0x0004] = _dms(place.longitude)
    gps[0x001D] = dt.datetime.fromtimestamp(taken, dt.UTC).strftime("%Y:%m:%d")  # GPSDateStamp
    return exif.tobytes()


#: the header segments a JPEG keeps: what its decoding needs (tables, frame, restart interval),
#: JFIF's APP0 and Adobe's APP14 (the colour transform); every other block — a camera's Exif, XMP
#: (which may carry its own GPS and time), IPTC, ICC, comments — is dropped: the lane's Exif is the
#: photo's only metadata
_KEPT = {0xC4, 0xCC, 0xDB, 0xDD} | {m for m in range(0xC0, 0xD0) if m not in (0xC4, 0xC8, 0xCC)}
_KEPT_APP = {0xE0: b"JFIF\x00", 0xEE: b"Adobe"}


def _kept(marker: int, segment: bytes) -> bool:
    if marker in _KEPT:
        return True
    sign = _KEPT_APP.get(marker)
    return sign is not None and segment[4 : 4 + len(sign)] == sign


def with_exif(jpeg: bytes, exif: bytes) -> bytes:
    """The JPEG with ``exif`` as its one metadata block (APP1 Exif, placed after SOI): every other
    block the camera wrote is dropped; the image data is untouched (no re-encoding)."""
    if not jpeg.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    out = [b"\xff\xd8", b"\xff\xe1", (len(exif) + 2).to_bytes(2, "big"), exif]
    i = 2
    while i + 4 <= len(jpeg) and jpeg[i] == 0xFF:
        marker = jpeg[i + 1]
        if marker in (0xDA, 0xD9):  # start of scan: the rest is image data
            break
        length = int.from_bytes(jpeg[i + 2 : i + 4], "big")
        segment = jpeg[i : i + 2 + length]
        if _kept(marker, segment):
            out.append(segment)
        i += 2 + length
    out.append(jpeg[i:])
    return b"".join(out)


def read_gps(jpeg: bytes) -> tuple[float, float] | None:
    """(latitude, longitude) from a JPEG's EXIF, or None (for tests and the integrity check)."""
    import io

    from PIL import Image

    gps = Image.open(io.BytesIO(jpeg)).getexif().get_ifd(0x8825)
    if 2 not in gps or 4 not in gps:
        return None

    def deg(v: Any, ref: str, neg: str) -> float:
        d, m, s = (float(x) for x in v)
        x = d + m / 60 + s / 3600
        return -x if ref == neg else x

    return deg(gps[2], gps.get(1, "N"), "S"), deg(gps[4], gps.get(3, "E"), "W")


def judged(
    frame: Frame, ident: CameraIdentity, camera_id: str, place: Place, taken: float | None = None
) -> tuple[bytes, dict[str, Any]]:
    """The frame as the photo's JPEG (with EXIF) and its facts, or :class:`PhotoRefused` (R6).
    ``taken``: the frame's moment on the lane clock (the card's clock; default: the frame's wall
    time). CPU work: run it off the event loop."""
    rgb = frame.rgb()
    channels = rgb.shape[2] if rgb.ndim == 3 else 1
    fmt = "jpeg" if frame.encoded in ("", "jpeg") else frame.encoded
    problems = rules.problems(
        frame.width, frame.height, fmt, channels, 8, chroma(rgb) if channels == 3 else 0.0
    )
    if problems:
        code, params = problems[0]
        raise PhotoRefused(code, f"the frame of camera {camera_id} cannot be the photo: {code}", **params)
    if frame.encoded == "jpeg" and frame.data:
        jpeg = frame.data
    else:
        import cv2

        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise PhotoRefused("photo_format", "the frame cannot be encoded as JPEG", format="?")
        jpeg = buf.tobytes()
    jpeg = with_exif(jpeg, exif_block(ident, camera_id, frame.ts if taken is None else taken, place))
    facts = {
        "width": frame.width,
        "height": frame.height,
        "format": "jpeg",
        "sha256": hashlib.sha256(jpeg).hexdigest(),
        "latitude": place.latitude,
        "longitude": place.longitude,
        "position": place.source,
        "camera": {"id": camera_id} | ident.as_dict(),
    }
    return jpeg, facts


def _write_file(path: Path, data: bytes) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)  # the rename itself survives a power cut
    finally:
        os.close(dfd)


def _move_in(incoming: Path, final: Path) -> None:
    """A committed photo's file into the photos folder; the rename survives a power cut."""
    os.replace(incoming, final)
    dfd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class Photos:
    def __init__(self, folder: Path, keyring: Keyring, journal: Any, place: Place) -> None:
        self.folder = folder
        self.keyring = keyring
        self.journal = journal
        self.place = place
        self.writer = ChainWriter(Photo)

    def ensure_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        (self.folder / INCOMING).mkdir(mode=0o700, exist_ok=True)

    def _incoming(self, photo_id: str) -> Path:
        return self.folder / INCOMING / f"{photo_id}{SUFFIX}"

    def file(self, photo_id: str) -> Path:
        return self.folder / f"{photo_id}{SUFFIX}"

    async def store(
        self, jpeg: bytes, facts: dict[str, Any], taken: float, ids: dict[str, Any], step: str, actor: str
    ) -> dict[str, Any]:
        """Encrypt, write, chain and journal one photo (see the module's text); its record."""
        photo_id = str(uuid.uuid4())
        blob = self.keyring.seal(jpeg, f"photos:{photo_id}")
        path = self._incoming(photo_id)  # moved into the folder once its row is committed
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_file(path, blob)
        except OSError as exc:
            raise StorageFailed(f"the photo file cannot be written: {exc.strerror or exc}") from None
        record = facts | {"photo_id": photo_id, "step": step, "taken": taken}
        try:
            async with write_tx() as tx:
                await self.writer.append(
                    [
                        {
                            "photo_id": photo_id,
                            "inspection_id": ids["inspection_id"],
                            "step": step,
                            "camera_id": facts["camera"]["id"],
                            "taken": taken,
                            "file_sha256": hashlib.sha256(blob).hexdigest(),
                            "sealed": self.keyring.seal_json(record, f"photos:{photo_id}:row"),
                        }
                    ],
                    tx,
                )
                await self.journal.write(
                    actor,
                    "photo_taken",
                    tx,
                    **ids,
                    photo_id=photo_id,
                    step=step,
                    camera=facts["camera"]["id"],
                    serial=facts["camera"]["serial"],
                    sha256=facts["sha256"],
                    latitude=facts["latitude"],
                    longitude=facts["longitude"],
                )
        except Exception as exc:
            path.unlink(missing_ok=True)  # not chained: not a photo
            raise StorageFailed.wrap(exc) from exc
        _move_in(path, self.file(photo_id))
        return record

    async def sweep(self) -> int:
        """At start: a capture cut by the daemon's death left its file in the incoming folder. With
        its row committed the file goes into place; without, it was never acknowledged nor in a card
        and is removed, so nothing is kept twice. Only the incoming folder is read (a few files at
        most): the work does not grow with the lane's photos. Returns the files removed."""
        incoming = self.folder / INCOMING
        if not incoming.is_dir():
            return 0
        removed = 0
        for path in list(incoming.iterdir()):
            pid = path.name.removesuffix(SUFFIX)
            if path.name.endswith(SUFFIX) and await Photo.exists(photo_id=pid):
                _move_in(path, self.file(pid))
            else:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    async def of_inspection(self, inspection_id: str, step: str) -> list[dict[str, Any]]:
        """The newest photo of each camera taken in ``step``: its record, which names it by id and
        SHA-256 (a card refers to its photos; their images stay in their files, stored once). Each
        file is read back and checked against the chained hashes first."""
        newest: dict[str, Photo] = {}
        for row in await Photo.filter(inspection_id=inspection_id, step=step).order_by("seq"):
            newest[row.camera_id] = row
        return [self.load(row)[0] for row in newest.values()]

    async def image(self, photo_id: str, sha256: str) -> bytes:
        """The JPEG of the photo a card names, checked against its file's chained hashes and against
        the SHA-256 the card carries."""
        row = await Photo.get_or_none(photo_id=photo_id[:36])
        if row is None:
            raise OtolaneError(
                "photo_missing", "the card's photo is not in the photos chain", photo=photo_id[:36]
            )
        _, jpeg = self.load(row)
        if hashlib.sha256(jpeg).hexdigest() != sha256:
            raise OtolaneError("photo_changed", "the photo is not the one the card names", photo=photo_id)
        return jpeg

    async def with_images(self, card: dict[str, Any]) -> dict[str, Any]:
        """The card with each photo's image (base64 JPEG) beside its record, for paper and for a
        reader of the card. A card formed before photos were kept apart carries its images already."""
        if all("jpeg" in p for p in card.get("photos", [])):
            return card
        photos = [
            p
            if "jpeg" in p
            else p | {"jpeg": base64.b64encode(await self.image(p["photo_id"], p["sha256"])).decode()}
            for p in card["photos"]
        ]
        return card | {"photos": photos}

    def load(self, row: Photo) -> tuple[dict[str, Any], bytes]:
        """A photo's record and image; a missing or changed file is an OtolaneError naming it."""
        path = self.file(row.photo_id)
        try:
            blob = path.read_bytes()
        except OSError:
            raise OtolaneError(
                "photo_missing_file", "the photo's file is missing", photo=row.photo_id
            ) from None
        if hashlib.sha256(blob).hexdigest() != row.file_sha256:
            raise OtolaneError("photo_changed", "the photo's file was changed", photo=row.photo_id)
        record = self.keyring.open_json(row.sealed, f"photos:{row.photo_id}:row")
        jpeg = self.keyring.open(blob, f"photos:{row.photo_id}")
        if hashlib.sha256(jpeg).hexdigest() != record["sha256"]:
            raise OtolaneError("photo_changed", "the photo's file was changed", photo=row.photo_id)
        return record, jpeg

    def check_files(self, rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """(photo id, chained SHA-256 of its file) → [(photo id, problem)]: the file missing or not
        the one written at capture. The file's hash entered the chain when the photo was taken, so
        a file that hashes to it is the file as written, byte for byte (the integrity check, R3.10;
        readers open it with :meth:`load`). Reads and hashes outside the GIL: run it in a thread."""
        problems: list[tuple[str, str]] = []
        for photo_id, chained in rows:
            digest = hashlib.sha256()
            try:
                with self.file(photo_id).open("rb") as f:
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
            except OSError:
                problems.append((photo_id, "the photo's file is missing"))
                continue
            if digest.hexdigest() != chained:
                problems.append((photo_id, "the photo's file was changed"))
        return problems

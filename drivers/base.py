"""The device contract every driver fulfils, and the supervisor that runs it.

Duties of a driver (as gpsd's ``gps_type_t`` and NUT's ``upsdrv_*`` hooks state theirs):

* ``connect()`` opens the transport and detects nothing; it raises ``OSError`` on failure.
* ``identify()`` asks the device who it is and returns an :class:`Identity`; no other command is
  written to the device before it has answered.
* ``frames()`` is an async iterator of decoded frames; it never raises on bad bytes: the parser
  counts and reports every rejection (:class:`FrameLog`) and the stream goes on.
* ``command(name)`` sends a named command of the profile (zero, start test …), never a value.
* ``close()`` is idempotent.

The supervisor (:func:`supervise`) owns the loop: connect → identify → read, reconnect with back-off
forever, and sets the status (connected / stale / faulted, with a reason) in one place.
Drivers never import ``app`` or ``tui``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drivers.profile import Profile

log = logging.getLogger("otolane.drivers")


class DeviceStatus(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    STALE = "stale"
    STUCK = "stuck"  # frames come, but a live sensor's value has frozen
    FAULTED = "faulted"


@dataclass(frozen=True)
class Identity:
    model: str
    serial: str
    firmware: str


@dataclass(frozen=True)
class Reading:
    """One measured value as it left the device: immutable from here on (R3.10)."""

    device_id: str
    channel: str
    value: float
    unit: str
    ts: float
    raw: bytes
    final: bool = False


@dataclass(frozen=True)
class FrameRecord:
    """A frame as seen on the wire, for the technician's raw view."""

    ts: float
    raw: bytes
    ok: bool
    note: str  # for the log, in English
    #: what the parser read, as (name, value) — the screen says the names in the user's language:
    #: a channel's last part and its value, or ("model", …), ("serial", …) of an identity
    values: tuple[tuple[str, str], ...] = ()


@dataclass
class FrameLog:
    """Counters and the last frames of one device; rejections are counted, never raised."""

    frames_ok: int = 0
    frames_rejected: int = 0
    reconnects: int = 0
    recent: deque[FrameRecord] = field(default_factory=lambda: deque(maxlen=200))

    def ok(self, raw: bytes, note: str, values: tuple[tuple[str, str], ...] = ()) -> None:
        self.frames_ok += 1
        self.recent.append(FrameRecord(time.time(), raw, True, note, values))

    def readings(self, raw: bytes, readings: list[Any]) -> None:
        """A frame of readings: each by its channel's last part (``left``, ``co``) and value."""
        values = tuple((r.channel.rsplit(".", 1)[-1], f"{r.value:g}") for r in readings)
        self.ok(raw, " ".join(f"{k}={v}" for k, v in values), values)

    def identity(self, raw: bytes, model: str, serial: str) -> None:
        self.ok(raw, f"identity {model} s/n {serial}", (("model", model), ("serial", serial)))

    def rejected(self, raw: bytes, reason: str) -> None:
        self.frames_rejected += 1
        self.recent.append(FrameRecord(time.time(), raw, False, reason))
        log.warning("rejected frame (%s): %s", reason, raw.hex(" "))


@dataclass(frozen=True)
class Event:
    """Something the device said that is not a value: end of test, acknowledgement …"""

    device_id: str
    name: str
    ts: float


class DeviceError(Exception):
    """The device answered, but not as its profile says (no identity, refused command …)."""


class Device(ABC):
    """One stand on one line, described by its profile (``drivers/profile.py``)."""

    def __init__(self, device_id: str, port: str, profile: Profile) -> None:
        self.device_id = device_id
        self.port = port
        self.profile = profile
        self.kind = profile.kind
        #: live channel -> seconds without the least change that mean its sensor froze
        self.frozen_after = profile.frozen_rules()
        self.log = FrameLog()

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def identify(self) -> Identity: ...

    @abstractmethod
    def frames(self) -> AsyncIterator[Reading | Event]: ...

    @abstractmethod
    async def command(self, name: str) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...


#: Why a stand is not ready, as catalog codes (the lane screen says them in kk/ru/en: ``[reason]``);
#: the English form goes to the log and the journal.
REASONS = {
    "closed": "connection closed",
    "line_lost": "the line cannot be opened or was lost: {detail}",
    "device_error": "the stand does not answer as its profile says: {detail}",
    "no_answer": "no answer from the stand",
    "driver_error": "driver error: {error}",
    "no_data": "no data for {seconds} s",
    "frozen": "{channel} frozen at {value} {unit} for {seconds} s",
    "serial_mismatch": "serial {serial} is not the registered {registered}",
    "verification_expired": "verification expired on {date}",
}


@dataclass(frozen=True)
class Why:
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return REASONS[self.code].format(**self.params) if self.code else ""

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params}


@dataclass
class StatusChange:
    device_id: str
    status: DeviceStatus
    why: Why = field(default_factory=Why)
    identity: Identity | None = None

    @property
    def reason(self) -> str:
        return self.why.text


Sink = Callable[[Reading | Event | StatusChange], None]


class FreezeWatch:
    """A stuck sensor: a live channel that repeats the very same non-zero value for longer than its
    profile allows while frames keep arriving. An analogue sensor read at the stand's resolution
    always moves by a count now and then; a frozen one would otherwise pass the stability gate (D3)
    with a value that is no measurement at all. Zero is exempt: idle rollers and clean exhaust are
    steady at zero."""

    def __init__(self, rules: dict[str, float]) -> None:
        self.rules = rules
        self._since: dict[str, tuple[float, float]] = {}
        self.frozen: dict[str, Why] = {}

    def see(self, r: Reading, now: float) -> None:
        after = self.rules.get(r.channel)
        if after is None or r.final:
            return
        last = self._since.get(r.channel)
        if last is None or last[0] != r.value or r.value == 0:
            self._since[r.channel] = (r.value, now)
            self.frozen.pop(r.channel, None)
        elif now - last[1] >= after:
            seconds = round(now - last[1])
            params = {"channel": r.channel, "value": f"{r.value:g}", "unit": r.unit, "seconds": seconds}
            self.frozen[r.channel] = Why("frozen", params)

    def reset(self) -> None:
        self._since.clear()
        self.frozen.clear()


#: how many times a stand is asked who it is before it is called faulted: on a noisy line one
#: answer garbled in transit (a CRC error) is a line fault, not the stand's — as Network UPS Tools'
#: drivers ask again (MAXTRIES) before they give up on a UPS
IDENTIFY_TRIES = 3


def _stop_if_cancelled() -> None:
    """Raise the cancellation a library swallowed.

    On Python 3.11 ``asyncio.wait_for`` (pymodbus waits on every answer with it) returns the answer
    and drops a cancel that arrives as the answer does (CPython gh-86296): the supervisor went on
    streaming and whoever stopped it waited for ever. The task still counts the request
    (``cancelling()``), so the supervisor checks it after every step that awaits a driver.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _identify(device: Device) -> Identity:
    for _ in range(IDENTIFY_TRIES - 1):
        try:
            return await device.identify()
        except DeviceError as exc:
            log.info("device %s: identity not read (%s); asking again", device.device_id, exc)
    return await device.identify()  # the last try: its error is the stand's fault


async def supervise(
    device: Device,
    sink: Sink,
    *,
    stale_after: float = 2.0,
    backoff_max: float = 10.0,
) -> None:
    """Run one device forever: connect, identify, stream; on any loss, back off and reconnect."""
    backoff = 0.5
    first = True
    while True:
        if not first:
            device.log.reconnects += 1
        first = False
        sink(StatusChange(device.device_id, DeviceStatus.CONNECTING))
        try:
            await device.connect()
            _stop_if_cancelled()
            identity = await _identify(device)
            _stop_if_cancelled()
            sink(StatusChange(device.device_id, DeviceStatus.CONNECTED, identity=identity))
            backoff = 0.5
            await _stream(device, sink, stale_after)
            why = Why("closed")
        except asyncio.CancelledError:
            await device.close()
            raise
        except TimeoutError:
            why = Why("no_answer")
        except OSError as exc:
            why = Why("line_lost", {"detail": str(exc) or type(exc).__name__})
        except DeviceError as exc:
            why = Why("device_error", {"detail": str(exc)})
        except Exception as exc:  # a driver bug must not end the supervisor
            log.exception("driver %s failed", device.device_id)
            why = Why("driver_error", {"error": type(exc).__name__})
        with contextlib.suppress(Exception):
            await device.close()
        _stop_if_cancelled()
        sink(StatusChange(device.device_id, DeviceStatus.FAULTED, why))
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, backoff_max)


async def _stream(device: Device, sink: Sink, stale_after: float) -> None:
    it = device.frames().__aiter__()
    stale = False
    watch = FreezeWatch(device.frozen_after)
    while True:
        try:
            async with asyncio.timeout(stale_after):
                item = await it.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            _stop_if_cancelled()
            if not stale:
                stale = True
                why = Why("no_data", {"seconds": f"{stale_after:g}"})
                sink(StatusChange(device.device_id, DeviceStatus.STALE, why))
            # the timeout cancelled the pending read; start a fresh iterator on the same device.
            it = device.frames().__aiter__()
            watch.reset()
            continue
        _stop_if_cancelled()
        was_stuck = bool(watch.frozen)
        if isinstance(item, Reading):
            watch.see(item, time.monotonic())
        if stale and not watch.frozen:
            sink(StatusChange(device.device_id, DeviceStatus.CONNECTED))
        stale = False
        sink(item)
        if watch.frozen and not was_stuck:
            why = watch.frozen[min(watch.frozen)]
            log.warning("device %s: %s", device.device_id, why.text)
            sink(StatusChange(device.device_id, DeviceStatus.STUCK, why))
        elif was_stuck and not watch.frozen:
            sink(StatusChange(device.device_id, DeviceStatus.CONNECTED))

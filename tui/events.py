"""The lane stream's events as the screens take them: each JSON event of ``/v1/stream`` (the table
of ``docs/api.md``) parsed once into a dataclass, which knows how it changes the screen's copy of
the lane (``app.state``, shaped as ``GET /v1/state``). An event of a type this screen does not know
is passed over (a newer daemon may say more). Nothing here draws or
computes a rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

State = dict[str, Any]


def _replace(state: State, key: str, new: dict[str, Any]) -> None:
    """The entry of ``state[key]`` with ``new``'s id becomes ``new``."""
    state[key] = [new if old["id"] == new["id"] else old for old in state.get(key, [])]


@dataclass(frozen=True)
class Hello:
    api: int

    def apply(self, state: State) -> bool:
        """Change ``state``; True when the whole state should be read again."""
        return False


@dataclass(frozen=True)
class LiveValue:
    """A stand's live value, and the imbalance the daemon derived when it is a brake force."""

    device: str
    channel: str
    value: float
    unit: str
    ts: float
    final: bool
    imbalance: float | None

    def apply(self, state: State) -> bool:
        for d in state.get("devices", []):
            if d["id"] == self.device:
                d["live"][self.channel] = {"value": self.value, "unit": self.unit, "ts": self.ts}
                if self.imbalance is not None:
                    d["imbalance"] = self.imbalance
        return False


@dataclass(frozen=True)
class DeviceChanged:
    device: dict[str, Any]

    def apply(self, state: State) -> bool:
        _replace(state, "devices", self.device)
        return False


@dataclass(frozen=True)
class CameraChanged:
    camera: dict[str, Any]

    def apply(self, state: State) -> bool:
        _replace(state, "cameras", self.camera)
        return False


@dataclass(frozen=True)
class ArrivalChanged:
    """The car the plate camera sees, as read when it arrived; None: the lane is empty."""

    arrival: dict[str, Any] | None

    def apply(self, state: State) -> bool:
        state["arrival"] = self.arrival
        return False


@dataclass(frozen=True)
class InspectionChanged:
    """The open inspection as the daemon has it now; None: it closed (a card, an abort)."""

    inspection: dict[str, Any] | None

    def apply(self, state: State) -> bool:
        state["inspection"] = self.inspection
        return self.inspection is None  # the last card and the queue changed with it


@dataclass(frozen=True)
class OutboxChanged:
    counts: dict[str, int]

    def apply(self, state: State) -> bool:
        state["outbox"] = self.counts
        return True  # the last card's delivery is in the state too


@dataclass(frozen=True)
class StorageChanged:
    storage: dict[str, Any]
    alarms: list[str]

    def apply(self, state: State) -> bool:
        state["storage"], state["alarms"] = self.storage, self.alarms
        return False


Event = (
    Hello
    | LiveValue
    | DeviceChanged
    | CameraChanged
    | ArrivalChanged
    | InspectionChanged
    | OutboxChanged
    | StorageChanged
)


def parse(raw: dict[str, Any]) -> Event | None:
    """One stream event; None for a type this screen does not know. A known type missing a field it
    must have raises KeyError (the daemon's contract is broken: the stream is read again)."""
    kind = raw.get("type")
    if kind == "reading":
        imbalance = raw.get("imbalance")
        return LiveValue(
            raw["device"],
            raw["channel"],
            raw["value"],
            raw["unit"],
            raw["ts"],
            bool(raw.get("final")),
            None if imbalance is None else float(imbalance),
        )
    if kind == "device":
        return DeviceChanged(raw["device"])
    if kind == "camera":
        return CameraChanged(raw["camera"])
    if kind == "arrival":
        return ArrivalChanged(raw["arrival"])
    if kind == "inspection":
        return InspectionChanged(raw["inspection"])
    if kind == "outbox":
        return OutboxChanged(raw["outbox"])
    if kind == "storage":
        return StorageChanged(raw["storage"], list(raw["alarms"]))
    if kind == "hello":
        return Hello(int(raw.get("api", 0)))
    return None

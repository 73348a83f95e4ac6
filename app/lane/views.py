"""What the API returns and the stream carries of the lane: the open inspection with its holds and
timers, the snapshot of ``GET /v1/state``, a card's items as a screen shows them, the EIS queue's
counts and the storage status.

Owns the JSON shapes of ``docs/api.md`` and the values derived for screens (a brake step's
imbalance comes from ``app/domain/norms.py``, so no screen computes a rule). It reads the other
parts; it never changes a step, a stand or a card.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from app.config import Config
from app.domain.categories import min_duration_s
from app.domain.clock import LaneClock
from app.domain.norms import imbalance_percent, visual_checks
from app.eis.outbox import OutboxWorker
from app.lane import bus
from app.lane.cameras import Cameras
from app.lane.recorder import Recorder
from app.lane.stands import Stands
from app.lane.step_record import Step
from app.lane.steps import Steps
from app.storage.crypto import Keyring
from app.storage.models import Card, Inspection, Outbox

#: the final values of a brake step whose imbalance the step's view carries
BRAKE_MAXIMA = ("brake.force.left.max", "brake.force.right.max")


def screen_items(card: dict[str, Any]) -> list[dict[str, Any]]:
    """A card's items as the screen shows them (the norm as text, the names' parameters)."""
    return [
        {
            "id": i["id"],
            "value": i["value"],
            "unit": i["norm"]["unit"],
            "norm": i["norm"]["text"],
            "passed": i["passed"],
            "deviation": i["deviation"],
            # what the screen names it by: the norm's item and its axle, side or glass
            "item": i["norm"].get("item", i["id"]),
            "params": {k: i[k] for k in ("axle", "side", "glass") if k in i},
        }
        for i in card["items"]
    ]


def derived(results: dict[str, float]) -> dict[str, float]:
    """Values a step's results imply that a screen shows beside them (GOST 33997 A.2's imbalance)."""
    if all(ch in results for ch in BRAKE_MAXIMA):
        return {"imbalance": imbalance_percent(*(results[ch] for ch in BRAKE_MAXIMA))}
    return {}


class Views:
    def __init__(
        self,
        cfg: Config,
        clock: LaneClock,
        keyring: Keyring,
        recorder: Recorder,
        stands: Stands,
        cameras: Cameras,
        steps: Steps,
        outbox: OutboxWorker,
        streams: Callable[[], dict[str, int]],
        alarms: Callable[[], list[str]],
        publish: Callable[[bus.Event], None],
        arrival: Callable[[], dict[str, Any] | None],
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.keyring = keyring
        self.recorder = recorder
        self.stands = stands
        self.cameras = cameras
        self.steps = steps
        self.outbox = outbox
        self.streams = streams
        self.alarms = alarms
        self.publish = publish
        self.arrival = arrival
        self.outbox_counts: dict[str, int] = {}
        self._storage_shown: dict[str, Any] = {"ok": True}
        self._storage_published = 0.0

    # --- the open inspection ----------------------------------------------------------------
    def _step(self, step: Step, holds: list[Any]) -> dict[str, Any]:
        sd = step.plan
        results = self.steps.results(step.id)
        view: dict[str, Any] = {
            "id": sd.id,
            "axle": sd.axle,
            "mode": sd.mode,
            "devices": list(sd.devices),
            "status": step.status,
            "started": step.started,
            "finished": step.finished,
            "holds": [h.as_dict() for h in holds],
            "results": results,
            "derived": derived(results),
            "notice": step.notice,
            "photo": step.photo,  # this step's brake test takes it
            "photo_at": step.photo_at if step.photo_stored else None,
        }
        if sd.mode == "checklist":
            view["checks"] = (
                [n.id for n in visual_checks(self.steps.current.category)] if self.steps.current else []
            )
            view["defects"] = step.defects or []
        return view

    def inspection(self) -> dict[str, Any] | None:
        """The open inspection as screens show it (None when the lane is free)."""
        insp = self.steps.current
        if insp is None:
            return None
        now = self.clock.now()
        holds, card_holds = self.steps.holds(insp, now)
        steps = [self._step(s, holds[s.id]) for s in self.steps.steps.values()]
        card_holds += self.steps.storage_holds()
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

    def of(self, insp: Inspection) -> dict[str, Any]:
        """The view of ``insp`` as an answer to the act that changed it ({} once it is closed)."""
        return (self.inspection() or {}) if insp is self.steps.current else {}

    def publish_inspection(self) -> None:
        if self.steps.current is not None:
            self.publish(bus.inspection(self.inspection()))

    # --- the lane ------------------------------------------------------------------------------
    async def _last_card(self) -> dict[str, Any] | None:
        last = await Card.all().order_by("-seq").first()
        if last is None:
            return None
        ob = await Outbox.get_or_none(card_id=last.card_id)
        card = self.keyring.open_json(last.sealed, f"cards:{last.card_id}")
        return {
            "card_id": last.card_id,
            "number": card.get("number"),
            "plate": card["vehicle"]["plate"],
            "verdict": last.verdict,
            "eis": ob.status if ob else "",
            "eis_attempts": ob.attempts if ob else 0,
            "eis_error": ob.last_error if ob else "",
            "items": screen_items(card),
        }

    async def snapshot(self) -> dict[str, Any]:
        return {
            "lane": {
                "name": self.cfg.lane["name"],
                "centre": self.cfg.lane["centre"],
                "training": self.cfg.lane["training"],
                "clock_speed": self.clock.speed,
            },
            "clock": self.clock.now(),
            "devices": self.stands.as_list(),
            "cameras": self.cameras.as_list(),
            "arrival": self.arrival(),
            "inspection": self.inspection(),
            "outbox": self.outbox_counts,
            "eis_key": self.outbox.key_state(),
            "last_card": await self._last_card(),
            "storage": self.recorder.status(),
            "alarms": list(self.alarms()),
            # Open live streams and the live values slow ones lost (a frozen SSH screen).
            "streams": self.streams(),
        }

    async def refresh_outbox(self) -> None:
        self.outbox_counts = await self.outbox.counts()
        self.publish(bus.outbox(self.outbox_counts))

    def publish_storage(self) -> None:
        """Screens learn at once when storing starts or stops failing, and each second while it
        fails (how long, how much is kept)."""
        status = self.recorder.status()
        shown = self._storage_shown
        if status["ok"] != shown.get("ok") or (
            not status["ok"] and time.monotonic() - self._storage_published >= 1.0
        ):
            self._storage_shown, self._storage_published = status, time.monotonic()
            self.publish(bus.storage(status, self.alarms()))

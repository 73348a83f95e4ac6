"""A step as the lane keeps it: the typed record of the ``inspections.steps`` JSON column
(:class:`Step`, both ways) and what one run of it gathers in memory (:class:`StepRun`). Pure data:
the runner that moves steps is ``app/lane/steps.py``; it never stores, journals or decides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain import inspection as rules
from app.storage.models import Inspection


def inspection_ids(insp: Inspection) -> dict[str, Any]:
    """How journal entries name an inspection: its number for people, its id for the ledger."""
    return {"inspection": insp.number, "inspection_id": insp.id}


@dataclass
class Step:
    """One step of an inspection as it is stored: its plan (fixed when the inspection started) and
    where it stands. ``run`` counts its starts; readings carry it, so a card takes only the last run.
    ``photo``: its brake test takes the photo (R3.9), stored for run ``photo_run``; ``defects``: the
    visual checks that failed (the checklist step only)."""

    id: str
    plan: rules.StepDef
    status: str = "pending"
    run: int = 0
    started: float | None = None
    finished: float | None = None
    got: list[str] = field(default_factory=list)  # the final channels the stand gave in this run
    notice: str | None = None  # why it went back to waiting (a catalog code)
    photo: bool = False
    photo_run: int | None = None
    photo_at: float | None = None
    defects: list[str] | None = None

    @classmethod
    def from_json(cls, step_id: str, d: dict[str, Any]) -> Step:
        return cls(
            step_id,
            rules.StepDef.from_dict(step_id, d),
            str(d.get("status", "pending")),
            int(d.get("run") or 0),
            d.get("started"),
            d.get("finished"),
            list(d.get("got") or []),
            d.get("notice"),
            bool(d.get("photo")),
            d.get("photo_run"),
            d.get("photo_at"),
            list(d["defects"]) if d.get("defects") is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "run": self.run,
            **self.plan.as_dict(),
            "started": self.started,
            "finished": self.finished,
            "got": list(self.got),
            "notice": self.notice,
        }
        if self.photo:
            out["photo"] = True
        if self.photo_run is not None:
            out |= {"photo_run": self.photo_run, "photo_at": self.photo_at}
        if self.defects is not None:
            out["defects"] = list(self.defects)
        return out

    def back_to_pending(self, notice: str | None = None) -> None:
        self.status, self.started, self.got, self.notice = "pending", None, [], notice

    def uses(self, kind: str) -> bool:
        return kind in self.plan.devices

    @property
    def photo_stored(self) -> bool:
        return self.photo_run == self.run

    @property
    def waits_for_photo(self) -> bool:
        return self.photo and not self.photo_stored


@dataclass
class StepRun:
    """What a step's run gathered in memory (its readings themselves are stored by the recorder)."""

    results: dict[str, float] = field(default_factory=dict)  # channel -> final value
    recent: dict[str, list[float]] = field(default_factory=dict)  # channel -> recent live values
    asked_at: float = 0.0  # monotonic: when the stands were last asked for the result
    started_real: float | None = None  # monotonic: when it started (the result's time-out)


def steps_json(steps: dict[str, Step]) -> dict[str, Any]:
    return {sid: s.to_json() for sid, s in steps.items()}

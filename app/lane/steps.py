"""The steps of the open inspection: their records, their runs, and the gates that move them.

Owns the open inspection's step records (:class:`Step`, stored as the ``inspections.steps`` JSON
column) and what each run gathers in memory (:class:`StepRun`: final values, recent live values,
when the stand was asked for its result). Starts, records, sends back, interrupts, ticks and
finishes steps and takes the visual checklist; every change of a step is stored with its journal
entry in one transaction before anyone is told, except a step sent back (safe to lose: a step
found running at start runs again). The gates are the pure functions of
``app/domain/inspection.py``.

It never opens or closes an inspection (``app/lane/intake.py`` and ``app/lane/forming.py`` do, by
:meth:`Steps.open` and :meth:`Steps.close`), never forms a card and never publishes the inspection
itself: it says that it changed (``changed``), and the lane publishes it.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from app.domain import inspection as rules
from app.domain.clock import LaneClock
from app.domain.norms import visual_checks
from app.errors import OtolaneError, Refused
from app.journal import Journal
from app.lane.cameras import Cameras
from app.lane.recorder import Recorder, StorageFailed
from app.lane.stands import Slot, Stands
from app.lane.step_record import Step, StepRun, inspection_ids, steps_json
from app.storage.db import write_tx
from app.storage.models import Inspection
from drivers.base import Reading as DeviceReading

log = logging.getLogger("otolane.lane")
#: A stand that sends no result this long (real seconds) after its test started has lost it (a garbled
#: frame, a vehicle that did not pass): the step goes back to waiting, and the screen says to run it again.
STEP_RESULT_TIMEOUT_S = 20.0
#: A step whose readings the database has not taken for this long (real seconds) goes back to waiting,
#: with a notice; its readings stay queued and are stored when the database takes them again.
STORE_TIMEOUT_S = 10.0
#: recent live values kept per channel of a running step (its stability and window gates)
RECENT = 50


class Steps:
    def __init__(
        self,
        clock: LaneClock,
        journal: Journal,
        recorder: Recorder,
        stands: Stands,
        cameras: Cameras,
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
        checkpoint: Callable[[str], Awaitable[None]],
        changed: Callable[[], None],
    ) -> None:
        self.clock = clock
        self.journal = journal
        self.recorder = recorder
        self.stands = stands
        self.cameras = cameras
        self.spawn = spawn
        self.checkpoint = checkpoint
        self.changed = changed
        self.current: Inspection | None = None
        self.steps: dict[str, Step] = {}
        self.runs: dict[str, StepRun] = {}
        self._last_publish = 0.0

    # --- the open inspection --------------------------------------------------------------
    def open(self, insp: Inspection) -> None:
        self.current = insp
        self.steps = {sid: Step.from_json(sid, d) for sid, d in insp.steps.items()}
        self.runs = {}

    def close(self) -> None:
        self.current = None
        self.steps, self.runs = {}, {}

    def require(self, insp_id: str) -> Inspection:
        if self.current is None or self.current.id != insp_id:
            raise OtolaneError("inspection_unknown", "no such open inspection", status=404)
        return self.current

    def run_of(self, step_id: str) -> StepRun:
        return self.runs.setdefault(step_id, StepRun())

    def running(self, kind: str | None = None) -> Step | None:
        """The running step (on a stand of ``kind``, when given)."""
        return next(
            (s for s in self.steps.values() if s.status == "running" and (kind is None or s.uses(kind))),
            None,
        )

    def busy(self, kind: str) -> bool:
        return self.running(kind) is not None

    @property
    def photo_armed(self) -> bool:
        """A step that takes the photo runs: the photo cameras decode every frame."""
        return any(s.photo and s.status == "running" for s in self.steps.values())

    async def recover(self) -> None:
        """After a crash a step may be left running with no stand test behind it: it runs again.
        Its readings already committed stay in the chain; nothing is lost, nothing is reused."""
        insp = self.current
        if insp is None:
            return
        for step in self.steps.values():
            if step.status == "running":
                step.back_to_pending()
                self.recorder.add_event(
                    "laned",
                    "step_interrupted",
                    **inspection_ids(insp),
                    step=step.id,
                    run=step.run,
                    reason="restart",
                )
        insp.steps = steps_json(self.steps)
        await insp.save(update_fields=["steps"])

    def restore_results(self, readings: list[dict[str, Any]]) -> None:
        """The final values of each step's last run, from its stored readings (shown on screen)."""
        for r in readings:
            step = self.steps.get(r["step"])
            run = step.run if step is not None else None
            if r["final"] and r.get("run", run) == run:
                self.run_of(r["step"]).results[r["channel"]] = r["value"]

    # --- gates --------------------------------------------------------------------------
    def plan(self) -> list[rules.StepDef]:
        return [s.plan for s in self.steps.values()]

    def results_in(self, step: Step) -> bool:
        """Has the stand given what this step needs? (by the step's mode, see StepDef)"""
        if step.waits_for_photo:
            return False  # its photo is not stored yet (R3.9)
        sd = step.plan
        if sd.mode == "test":
            return set(sd.finals) <= set(step.got)
        recent = self.runs[step.id].recent if step.id in self.runs else {}
        if sd.mode == "stable":
            return rules.stable(recent.get(sd.stable_channel, []), sd.tolerance)
        if sd.mode == "window":
            return rules.window_complete(sd, recent)
        return True

    def states(self) -> list[rules.StepState]:
        return [
            rules.StepState(s.id, s.status, s.started, s.finished, self.results_in(s))
            for s in self.steps.values()
        ]

    def device_views(self) -> list[rules.DeviceView]:
        return self.stands.views() + self.cameras.views()

    def storage_holds(self) -> list[rules.Hold]:
        if self.recorder.failing_since is None:
            return []
        return [rules.Hold("storage_failing", {"error": self.recorder.last_error[:200]})]

    def holds(self, insp: Inspection, now: float) -> tuple[dict[str, list[rules.Hold]], list[rules.Hold]]:
        """Each step's holds (why a waiting one cannot start, why a running one cannot finish) and
        the card's, from one look at the steps and the equipment."""
        states, views = self.states(), self.device_views()
        out: dict[str, list[rules.Hold]] = {}
        for st in states:
            sd = self.steps[st.id].plan
            if st.status == "pending":
                out[st.id] = rules.step_start_holds(sd, states, views)
            elif st.status == "running":
                out[st.id] = rules.step_finish_holds(sd, st, now) + self.storage_holds()
            else:
                out[st.id] = []
        return out, self._card_holds(insp, now, states, views)

    def card_holds(self, insp: Inspection, now: float) -> list[rules.Hold]:
        """Why the card cannot be formed now (R3.7, R12): the one question the review and forming ask."""
        return self._card_holds(insp, now, self.states(), self.device_views())

    def _card_holds(
        self, insp: Inspection, now: float, states: list[rules.StepState], views: list[rules.DeviceView]
    ) -> list[rules.Hold]:
        return rules.card_holds(insp.category, insp.started, now, self.plan(), states, views)

    def results(self, step_id: str) -> dict[str, float]:
        """The final values of the step's last run (shown on screen)."""
        run = self.runs.get(step_id)
        return run.results if run is not None else {}

    # --- changing steps -------------------------------------------------------------------
    async def save(
        self,
        insp: Inspection,
        change: Callable[[dict[str, Step]], None],
        actor: str,
        action: str,
        **details: Any,
    ) -> None:
        """Change the steps and journal why, in one transaction; if it does not commit, memory is as it
        was (readings arriving meanwhile already see the change, as a step started must record them)."""
        steps = copy.deepcopy(self.steps)
        change(steps)
        old, old_json = self.steps, insp.steps
        self.steps, insp.steps = steps, steps_json(steps)
        try:
            async with write_tx() as tx:
                await insp.save(update_fields=["steps"], using_db=tx)
                await self.journal.write(actor, action, tx, **inspection_ids(insp), **details)
        except Exception as exc:
            self.steps, insp.steps = old, old_json
            raise StorageFailed.wrap(exc) from exc

    def _save_later(self, insp: Inspection) -> None:
        insp.steps = steps_json(self.steps)
        self.spawn(self._save_quietly(insp))

    @staticmethod
    async def _save_quietly(insp: Inspection) -> None:
        try:
            await insp.save(update_fields=["steps"])
        except Exception as exc:  # the next save writes the whole steps; a restart recovers them
            log.warning("saving steps of inspection %d failed: %s", insp.number, exc)

    def send_back(self, step_id: str, notice: str | None, action: str, **details: Any) -> None:
        """A running step goes back to waiting. Safe to lose on a crash (a running step found at start
        runs again), so it is saved in the background; the journal entry is queued, never lost."""
        insp = self.current
        assert insp is not None
        step = self.steps[step_id]
        run = step.run
        step.back_to_pending(notice)
        self.recorder.add_event("laned", action, **inspection_ids(insp), step=step.id, run=run, **details)
        self._save_later(insp)

    async def start(self, operator: str, insp_id: str, step_id: str) -> None:
        insp = self.require(insp_id)
        step = self.steps.get(step_id)
        if step is None:
            raise OtolaneError("step_unknown", "no such step", step=step_id[:40], status=404)
        sd = step.plan
        if step.status == "done":
            raise Refused("step_done", "the step is already done")
        if sd.mode == "checklist":
            raise OtolaneError(
                "step_checklist",
                "this step is the visual checklist: send its defects",
                step=step_id,
                status=409,
            )
        holds = rules.step_start_holds(sd, self.states(), self.device_views()) + self.storage_holds()
        if holds:
            raise Refused("step_held", "the step cannot start", [h.as_dict() for h in holds])
        run = step.run + 1
        now = self.clock.now()

        def change(steps: dict[str, Step]) -> None:
            s = steps[step_id]
            s.status, s.started, s.got, s.notice, s.run = "running", now, [], None, run

        await self.save(insp, change, operator, "step_started", step=step_id, run=run)
        self.runs[step_id] = StepRun(started_real=time.monotonic())
        if sd.mode == "test":
            for slot in self.stands.of_kinds(sd.devices):
                await self.stands.send(slot, sd.start or slot.driver.profile.start or "start")
        self.changed()

    async def record_visual(self, operator: str, insp_id: str, defects: list[str]) -> None:
        """The visual checklist: every check of the vehicle's category is looked at; the ones in
        ``defects`` failed. Marked once per run, journalled with the defects (the card and the
        integrity check both read them from there)."""
        insp = self.require(insp_id)
        if "visual" not in self.steps:
            raise OtolaneError("step_unknown", "no such step", step="visual", status=404)
        known = {n.id for n in visual_checks(insp.category)}
        unknown = sorted(set(defects) - known)
        if unknown:
            raise OtolaneError(
                "visual_unknown", "no such visual check for this category", check=unknown[0][:40]
            )
        running = self.running()
        if running is not None:
            raise Refused(
                "step_held", "a step is running", [{"code": "step_running", "params": {"step": running.id}}]
            )
        now = self.clock.now()
        run = self.steps["visual"].run + 1
        marked = sorted(set(defects))

        def change(steps: dict[str, Step]) -> None:
            s = steps["visual"]
            s.status, s.started, s.finished, s.run, s.defects, s.notice = "done", now, now, run, marked, None

        await self.save(insp, change, operator, "step_finished", step="visual", run=run, defects=marked)
        self.changed()

    def reopen(self, step_ids: list[str], notice: str) -> Callable[[dict[str, Step]], None]:
        """The change that sends done steps back to waiting (their readings are not all stored)."""

        def change(steps: dict[str, Step]) -> None:
            for sid in step_ids:
                if sid in steps and sid != "identification":
                    steps[sid].back_to_pending(notice)

        return change

    # --- what the stands and cameras say --------------------------------------------------
    def on_reading(self, slot: Slot, r: DeviceReading) -> None:
        """A reading of a stand whose step runs is recorded (sealed, chained) with the step's run."""
        insp = self.current
        step = self.running(slot.cfg.kind)
        if step is None or insp is None:
            return
        self.recorder.add_reading(
            {
                "inspection_id": insp.id,
                "step": step.id,
                "device_id": r.device_id,
                "device_serial": slot.serial,
                "channel": r.channel,
                "ts": r.ts,
            },
            {"value": r.value, "unit": r.unit, "raw": r.raw.hex(), "final": r.final, "run": step.run},
            urgent=r.final,
        )
        gathered = self.run_of(step.id)
        if r.final:
            gathered.results[r.channel] = r.value
            if r.channel not in step.got:
                step.got.append(r.channel)
        else:
            recent = gathered.recent.setdefault(r.channel, [])
            recent.append(r.value)
            del recent[:-RECENT]
        if step.photo:  # the brake test of this step takes the photo (R3.9)
            taking = self.cameras.on_brake(
                inspection_ids(insp),
                step.id,
                (step.run, step.photo_stored),
                (r.channel, r.value, r.final),
                lambda record, why: self._photo_taken(insp, step.id, record, why),
                started=step.started,
            )
            if taking is not None:
                self.spawn(taking)

    def on_test_end(self, slot: Slot) -> None:
        """A stand ended its test without sending all its results: ask for them."""
        step = self.running(slot.cfg.kind)
        if step is None or self.current is None:
            return
        if slot.result_command and not set(step.plan.finals) <= set(step.got):
            self.spawn(self.stands.send(slot, slot.result_command))

    def interrupt(self, kind: str, reason: str, notice: str | None = None) -> None:
        """A stand was lost or froze: its running step goes back."""
        if self.current is None:
            return
        for step in list(self.steps.values()):
            if step.status == "running" and step.uses(kind):
                self.send_back(step.id, notice, "step_interrupted", reason=reason)

    def camera_lost(self, camera_id: str, reason: str) -> None:
        """A photo camera lost while its step waits for the photo: the step goes back (R3.7)."""
        for step in list(self.steps.values()):
            if step.status == "running" and step.waits_for_photo:
                self.send_back(step.id, "photo_failed", "photo_failed", reason=f"{camera_id}: {reason}"[:300])
        self.changed()

    def _photo_taken(self, insp: Inspection, step_id: str, record: dict[str, Any] | None, why: str) -> None:
        step = self.steps.get(step_id)
        if insp is not self.current or step is None or record is None and step.status != "running":
            return
        if record is None:
            self.send_back(step_id, "photo_failed", "photo_failed", reason=why[:300])
        elif record["run"] == step.run:
            step.photo_run, step.photo_at = record["run"], record["taken"]
            self._save_later(insp)
        self.changed()

    # --- the gates, five times a second -----------------------------------------------------
    async def tick(self) -> None:
        """Finish running steps whose results are in and whose own minimum time has run."""
        insp = self.current
        if insp is None:
            return
        now = self.clock.now()
        changed = False
        for state in self.states():
            if state.status != "running":
                continue
            step = self.steps[state.id]
            if rules.step_finish_holds(step.plan, state, now):
                if not state.results_in and state.started is not None:
                    await self._ask_results(step, state.started, now)
                    started_real = self.run_of(step.id).started_real
                    waited = 0.0 if started_real is None else time.monotonic() - started_real
                    if waited > STEP_RESULT_TIMEOUT_S:
                        self.send_back(step.id, "step_no_result", "step_no_result", waited_s=int(waited))
                        changed = True
                continue
            changed |= await self._finish(insp, step, now)
        if changed or time.monotonic() - self._last_publish >= 1.0:
            self._last_publish = time.monotonic()
            self.changed()

    async def _ask_results(self, step: Step, started: float, now: float) -> None:
        """Stands that give their result on request are asked once the test has had its time."""
        sd = step.plan
        if sd.mode != "test" or now - started < sd.min_s:
            return
        gathered = self.run_of(step.id)
        if time.monotonic() - gathered.asked_at < 1.0:
            return
        gathered.asked_at = time.monotonic()
        for slot in self.stands.of_kinds(sd.devices):
            if slot.result_command:
                await self.stands.send(slot, slot.result_command)

    async def _finish(self, insp: Inspection, step: Step, now: float) -> bool:
        """Report a step done only once its readings and its own record are stored."""
        try:
            await self.recorder.flush()  # everything that arrived up to now, the step's results with it
            sid = step.id

            def change(steps: dict[str, Step]) -> None:
                steps[sid].status, steps[sid].finished = "done", now

            await self.save(insp, change, insp.operator, "step_finished", step=sid, run=step.run)
        except StorageFailed:
            if self.recorder.failing_for > STORE_TIMEOUT_S:
                self.send_back(
                    step.id, "step_not_stored", "step_not_stored", error=self.recorder.last_error[:200]
                )
                return True
            return False
        self.spawn(self.checkpoint("step_finished"))
        return True


class StandsToSteps:
    """The stands' listener (:class:`~app.lane.stands.StandListener`): what the stands say goes to
    the lane's steps. The steps are made after the stands (they command them), so they are reached
    through ``steps``, a function that returns them; ``changed`` publishes the inspection."""

    def __init__(self, steps: Callable[[], Steps], changed: Callable[[], None]) -> None:
        self.steps = steps
        self.changed = changed

    def on_reading(self, slot: Slot, reading: DeviceReading) -> None:
        self.steps().on_reading(slot, reading)

    def on_test_end(self, slot: Slot) -> None:
        self.steps().on_test_end(slot)

    def on_lost(self, kind: str, reason: str, notice: str | None) -> None:
        self.steps().interrupt(kind, reason, notice)

    def busy(self, kind: str) -> bool:
        return self.steps().busy(kind)

    def on_change(self) -> None:
        self.changed()

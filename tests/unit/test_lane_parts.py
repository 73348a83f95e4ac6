"""The lane's parts alone (issue #19): the stands with fake devices, and the step runner on a fake
lane clock — gates, timers, send-back, interrupt, recovery — on a real SQLite database, without
stands on lines or a daemon. Each test quotes the requirement it holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app import config as config_mod
from app.demo_config import write_config
from app.domain.inspection import DeviceView
from app.errors import OtolaneError, Refused
from app.lane import steps as steps_mod
from app.lane.bus import Bus
from app.lane.clock import ClockStart
from app.lane.intake import Intake
from app.lane.recorder import Recorder
from app.lane.stands import Stands
from app.lane.step_record import Step, steps_json
from app.lane.steps import StandsToSteps, Steps
from app.storage.models import Inspection, JournalEntry, Reading
from app.storage.store import Store, close_store, open_store
from drivers.base import DeviceStatus, Event, Identity, StatusChange, Why
from drivers.base import Reading as DeviceReading
from tests.lane_fakes import FakeStand, StoppedClock

SERIAL = "2231-0457"  # the demo brake tester's registered serial
FINALS = {
    "brake.force.left.max": 3.1,
    "brake.force.right.max": 2.9,
    "brake.wheel_load.left": 4.0,
    "brake.wheel_load.right": 4.1,
}


class NoCameras:
    """A lane without cameras: no photo step, no camera equipment."""

    def views(self) -> list[DeviceView]:
        return []

    def trigger_step(self, category: str, axles: int) -> None:
        return None


@dataclass
class Lane:
    store: Store
    clock: StoppedClock
    device: FakeStand
    stands: Stands
    steps: Steps
    intake: Intake
    recorder: Recorder
    bus: Bus
    background: list[Coroutine[Any, Any, Any]]
    changes: list[int]

    async def run_background(self) -> None:
        while self.background:
            await self.background.pop(0)

    def say(self, item: DeviceReading | Event | StatusChange) -> None:
        self.stands.on_device(item)

    def connect(self, serial: str = SERIAL) -> None:
        self.say(StatusChange("brake", DeviceStatus.CONNECTED, identity=Identity("BT-4000", serial, "3.2.1")))

    def final(self, channel: str, value: float) -> None:
        self.say(DeviceReading("brake", channel, value, "kN", self.clock.at, b"\x01", final=True))

    async def journal(self, action: str) -> list[dict[str, Any]]:
        await self.recorder.flush()
        return [e.details for e in await JournalEntry.filter(action=action).order_by("seq")]


@pytest.fixture
async def lane(tmp_path: Path) -> AsyncIterator[Lane]:
    cfg = config_mod.load(write_config(tmp_path, 1.0, 9))
    store = await open_store(cfg)
    try:
        clock = StoppedClock(1_800_000_000.0)
        device = FakeStand()
        bus = Bus()
        recorder = Recorder(store.keyring, store.journal)
        background: list[Coroutine[Any, Any, Any]] = []
        changes: list[int] = []
        holder: list[Steps] = []
        listener = StandsToSteps(lambda: holder[0], lambda: changes.append(1))
        stands = Stands(
            cfg.devices, {"brake": device}, store.journal, recorder.add_event, bus.publish, listener
        )  # type: ignore[dict-item]
        cameras: Any = NoCameras()

        async def checkpoint(reason: str) -> None:
            pass

        steps = Steps(
            clock,
            store.journal,
            recorder,
            stands,
            cameras,
            background.append,
            checkpoint,
            lambda: changes.append(1),
        )
        holder.append(steps)
        intake = Intake(
            cfg,
            ClockStart(clock, "training", False, ""),
            store.keyring,
            store.journal,
            steps,
            cameras,
            bus.publish,
        )
        yield Lane(store, clock, device, stands, steps, intake, recorder, bus, background, changes)
        for left in background:  # what a test did not run
            left.close()
    finally:
        await close_store()


async def _open(lane: Lane) -> Inspection:
    return await lane.intake.start("operator", "123ABC02", "M1", "petrol", 2)


# --- stands -----------------------------------------------------------------------------------
async def test_a_stand_is_admitted_only_with_its_registered_serial(lane: Lane) -> None:
    """R3.7, R3.15: the serial it reports against the registered one; every connect journalled."""
    lane.connect("9999-0000")
    slot = lane.stands.get("brake")
    assert not slot.admitted and slot.why == Why(
        "serial_mismatch", {"serial": "9999-0000", "registered": SERIAL}
    )
    lane.say(StatusChange("brake", DeviceStatus.FAULTED, Why("no_answer")))
    lane.connect()
    assert slot.admitted and slot.view().admitted
    refused = Why("serial_mismatch", {"serial": "9999-0000", "registered": SERIAL}).text
    said = [(d["serial"], d["reason"]) for d in await lane.journal("device_refused")]
    assert said == [("9999-0000", refused)]
    assert [d["serial"] for d in await lane.journal("device_connected")] == [SERIAL]


async def test_a_service_command_is_refused_while_a_step_runs_on_the_stand(lane: Lane) -> None:
    """R3.10: a zero or reset during a measurement would change what the stand measures."""
    lane.connect()
    await lane.stands.service_command("tech", "brake", "zero")
    assert lane.device.sent == ["zero"]
    with pytest.raises(OtolaneError) as err:
        await lane.stands.service_command("tech", "brake", "calibrate")
    assert err.value.code == "command_not_allowed"
    insp = await _open(lane)
    await lane.steps.start("operator", insp.id, "brakes_axle_1")
    with pytest.raises(OtolaneError) as err:
        await lane.stands.service_command("tech", "brake", "zero")
    assert (err.value.code, err.value.status) == ("device_busy", 409)
    assert [d["command"] for d in await lane.journal("device_command")] == ["zero"]


async def test_a_replaced_stand_is_admitted_under_its_new_registration(lane: Lane) -> None:
    """R3.15: the stand on the line is registered by the administrator, journalled with both serials."""
    lane.connect("7777-0001")
    slot = lane.stands.get("brake")
    assert not slot.admitted
    until = (dt.date.today() + dt.timedelta(days=200)).isoformat()
    view = await lane.stands.replace("admin", "brake", " C-17 ", until)
    assert view["admitted"] and view["serial"] == "7777-0001" and slot.cfg.certificate == "C-17"
    (entry,) = await lane.journal("device_replaced")
    assert (entry["old_serial"], entry["new_serial"], entry["verified_until"]) == (SERIAL, "7777-0001", until)


async def test_the_live_imbalance_comes_with_each_brake_force(lane: Lane) -> None:
    """The screen shows the imbalance the lane derives (GOST 33997 A.2), never its own; idle rollers
    (below 0.3 kN) are no imbalance."""
    sub = lane.bus.subscribe()
    lane.connect()
    for channel, value in (("brake.force.left", 0.2), ("brake.force.right", 0.1), ("brake.force.left", 4.0)):
        lane.say(DeviceReading("brake", channel, value, "kN", lane.clock.at, b"\x00"))
    events = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    said = [e["imbalance"] for e in events if e["type"] == "reading"]
    assert said == [0.0, 0.0, pytest.approx(97.5)]
    assert lane.stands.get("brake").as_dict()["imbalance"] == pytest.approx(97.5)


# --- steps ------------------------------------------------------------------------------------
async def test_a_step_waits_for_its_stand_then_starts_it(lane: Lane) -> None:
    """R3.7: no step starts on a stand that is not connected and admitted; the start is journalled
    with its run and the stand is told to start its test."""
    insp = await _open(lane)
    with pytest.raises(Refused) as err:
        await lane.steps.start("operator", insp.id, "brakes_axle_1")
    assert [h["code"] for h in err.value.params["holds"]] == ["device_not_connected"]
    lane.connect()
    await lane.steps.start("operator", insp.id, "brakes_axle_1")
    step = lane.steps.steps["brakes_axle_1"]
    assert (step.status, step.run, step.started) == ("running", 1, lane.clock.at)
    assert lane.device.sent == ["start"]
    assert [(d["step"], d["run"]) for d in await lane.journal("step_started")] == [("brakes_axle_1", 1)]
    row = await Inspection.get(id=insp.id)
    assert row.steps["brakes_axle_1"]["status"] == "running"  # stored before it is said
    with pytest.raises(Refused) as err:  # one step at a time
        await lane.steps.start("operator", insp.id, "brakes_axle_2")
    assert {"code": "step_running", "params": {"step": "brakes_axle_1"}} in err.value.params["holds"]


async def test_a_step_finishes_with_its_results_and_its_own_minimum_time(lane: Lane) -> None:
    """R12 per step: the results alone do not finish it before its minimum lane time has run;
    it is done only once its readings and its record are stored."""
    insp = await _open(lane)
    lane.connect()
    await lane.steps.start("operator", insp.id, "brakes_axle_1")
    for channel, value in FINALS.items():
        lane.final(channel, value)
    lane.clock.at += 4.0  # the step's minimum is 5 s
    await lane.steps.tick()
    assert lane.steps.steps["brakes_axle_1"].status == "running"
    assert [h["code"] for h in _holds(lane, "brakes_axle_1")] == ["step_min_time"]
    lane.clock.at += 1.0
    await lane.steps.tick()
    step = lane.steps.steps["brakes_axle_1"]
    assert (step.status, step.finished) == ("done", lane.clock.at)
    stored = await Reading.filter(inspection_id=insp.id, step="brakes_axle_1").count()
    assert stored == len(FINALS)
    assert lane.steps.runs["brakes_axle_1"].results == FINALS
    assert [(d["step"], d["run"]) for d in await lane.journal("step_finished")] == [("brakes_axle_1", 1)]


async def test_a_stand_that_gives_no_result_is_asked_then_its_step_goes_back(
    lane: Lane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand that ends its test without all results is asked for them; with none in time the step
    goes back with a notice that says so (never judged from what is missing)."""
    insp = await _open(lane)
    lane.connect()
    await lane.steps.start("operator", insp.id, "brakes_axle_1")
    lane.final("brake.force.left.max", 3.0)
    lane.say(Event("brake", "test_end", lane.clock.at))
    await lane.run_background()
    assert lane.device.sent == ["start", "result"]
    monkeypatch.setattr(steps_mod, "STEP_RESULT_TIMEOUT_S", 0.0)
    lane.clock.at += 5.0
    await lane.steps.tick()
    step = lane.steps.steps["brakes_axle_1"]
    assert (step.status, step.notice, step.got) == ("pending", "step_no_result", [])
    assert lane.device.sent[-1] == "result"  # asked once more when its time had run
    await lane.run_background()  # the step's record is saved in the background
    assert (await Inspection.get(id=insp.id)).steps["brakes_axle_1"]["notice"] == "step_no_result"
    assert [d["step"] for d in await lane.journal("step_no_result")] == ["brakes_axle_1"]


async def test_a_stand_lost_mid_test_sends_its_step_back_and_a_frozen_one_says_why(lane: Lane) -> None:
    """R3.7: a step whose stand is lost or whose sensor froze goes back; its next run is a new run."""
    insp = await _open(lane)
    lane.connect()
    await lane.steps.start("operator", insp.id, "brakes_axle_1")
    lane.say(StatusChange("brake", DeviceStatus.FAULTED, Why("no_answer")))
    step = lane.steps.steps["brakes_axle_1"]
    assert (step.status, step.notice) == ("pending", None)
    lane.connect()
    await lane.steps.start("operator", insp.id, "brakes_axle_1")
    lane.say(
        StatusChange(
            "brake",
            DeviceStatus.STUCK,
            Why("frozen", {"channel": "brake.force.left", "value": 3.0, "unit": "kN", "seconds": 5}),
        )
    )
    step = lane.steps.steps["brakes_axle_1"]
    assert (step.status, step.notice, step.run) == ("pending", "step_sensor_stuck", 2)
    assert [(d["run"], bool(d["reason"])) for d in await lane.journal("step_interrupted")] == [
        (1, True),
        (2, True),
    ]


async def test_a_step_left_running_by_a_crash_runs_again(lane: Lane) -> None:
    """Recovery at start: a running step has no stand test behind it after a restart; it goes back
    to waiting, journalled, and its stored readings of that run stay as they are."""
    insp = await _open(lane)
    lane.connect()
    await lane.steps.start("operator", insp.id, "brakes_axle_1")
    lane.final("brake.force.left.max", 3.0)
    await lane.recorder.flush()
    lane.steps.close()  # the daemon dies here
    row = await Inspection.get(id=insp.id)
    lane.steps.open(row)
    await lane.steps.recover()
    step = lane.steps.steps["brakes_axle_1"]
    assert (step.status, step.run) == ("pending", 1)
    assert (await Inspection.get(id=insp.id)).steps["brakes_axle_1"]["status"] == "pending"
    assert [(d["step"], d["reason"]) for d in await lane.journal("step_interrupted")] == [
        ("brakes_axle_1", "restart")
    ]
    assert await Reading.filter(inspection_id=insp.id).count() == 1


async def test_a_failed_save_leaves_the_steps_as_they_were(
    lane: Lane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is said before it is stored: a step whose start the database refuses is not running."""
    insp = await _open(lane)
    lane.connect()

    async def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(lane.store.journal, "write", refuse)
    with pytest.raises(OtolaneError) as err:
        await lane.steps.start("operator", insp.id, "brakes_axle_1")
    assert err.value.code == "storage_failed"
    assert lane.steps.steps["brakes_axle_1"].status == "pending" and lane.device.sent == []
    assert insp.steps["brakes_axle_1"]["status"] == "pending"


def test_a_step_record_reads_back_what_it_wrote() -> None:
    """The stored form of a step (``inspections.steps``) is the record's, both ways, and an old row
    without the keys a newer lane writes reads as a fresh step."""
    from app.domain.inspection import plan

    sd = plan("M1", 2, "petrol", ("brake",))[1]
    step = Step(sd.id, sd, "done", 2, 10.0, 15.0, ["brake.force.left.max"], None, True, 2, 12.0)
    assert Step.from_json(sd.id, step.to_json()) == step
    old = {"status": "pending", "run": 0, **sd.as_dict()}
    assert Step.from_json(sd.id, old) == Step(sd.id, sd)
    assert steps_json({sd.id: Step(sd.id, sd)})[sd.id]["devices"] == ["brake"]


def _holds(lane: Lane, step_id: str) -> list[dict[str, Any]]:
    assert lane.steps.current is not None
    return [h.as_dict() for h in lane.steps.holds(lane.steps.current, lane.clock.now())[0][step_id]]

"""The screen takes each stream event once, as a dataclass that knows how it changes the screen's
copy of the lane (issue #19; D2: live values, device and camera state, the EIS queue always on
screen)."""

from __future__ import annotations

import pytest

from tui.events import InspectionChanged, LiveValue, OutboxChanged, StorageChanged, parse


def _state() -> dict:
    return {
        "devices": [{"id": "brake", "live": {}}, {"id": "gas", "live": {}}],
        "cameras": [{"id": "front", "status": "connecting"}],
        "inspection": {"id": "i"},
        "outbox": {"pending": 1},
    }


def test_every_event_of_the_stream_changes_what_it_names_and_nothing_else() -> None:
    st = _state()
    reading = parse(
        {
            "type": "reading",
            "device": "brake",
            "channel": "brake.force.left",
            "value": 2.5,
            "unit": "kN",
            "ts": 1.0,
            "final": False,
            "imbalance": 12.5,
        }
    )
    assert isinstance(reading, LiveValue) and reading.apply(st) is False
    assert st["devices"][0]["live"] == {"brake.force.left": {"value": 2.5, "unit": "kN", "ts": 1.0}}
    assert st["devices"][0]["imbalance"] == 12.5 and st["devices"][1] == {"id": "gas", "live": {}}
    assert (
        parse({"type": "device", "device": {"id": "gas", "live": {}, "status": "stale"}}).apply(st) is False
    )  # type: ignore[union-attr]
    assert st["devices"][1]["status"] == "stale" and "imbalance" in st["devices"][0]
    parse({"type": "camera", "camera": {"id": "front", "status": "connected"}}).apply(st)  # type: ignore[union-attr]
    assert st["cameras"] == [{"id": "front", "status": "connected"}]
    storage = parse({"type": "storage", "storage": {"ok": False}, "alarms": ["x"]})
    assert isinstance(storage, StorageChanged) and storage.apply(st) is False
    assert (st["storage"], st["alarms"]) == ({"ok": False}, ["x"])


def test_a_closed_inspection_or_a_queue_change_reads_the_lane_again() -> None:
    """The last card and its delivery are not in those events: the screen asks for the state."""
    st = _state()
    assert parse({"type": "inspection", "inspection": {"id": "i", "steps": []}}).apply(st) is False  # type: ignore[union-attr]
    closed = parse({"type": "inspection", "inspection": None})
    assert isinstance(closed, InspectionChanged) and closed.apply(st) is True and st["inspection"] is None
    queue = parse({"type": "outbox", "outbox": {"pending": 0, "accepted": 3}})
    assert isinstance(queue, OutboxChanged) and queue.apply(st) is True and st["outbox"]["accepted"] == 3


def test_an_unknown_event_is_passed_over_and_a_broken_one_is_refused() -> None:
    assert parse({"type": "burst", "n": 1}) is None and parse({}) is None
    with pytest.raises(KeyError):
        parse({"type": "reading", "device": "brake"})

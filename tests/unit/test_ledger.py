"""The ledger's cross-checks as pure functions (issue #7 item 3, issue #8 visual checks; R3.10)."""

from __future__ import annotations

from typing import Any

from app.ledger import inspection_problems

FACTS = {"number": 1, "started": 100.0, "category": "M1", "fuel": "petrol", "axles": 2}
FACTS |= {"training": True, "operator": "operator"}


def _row(defects: list[str]) -> dict[str, Any]:
    steps = {"visual": {"status": "done", "run": 1, "defects": defects}}
    return FACTS | {"status": "open", "steps": steps}


ENTRIES = [
    ("inspection_started", FACTS | {"inspection_id": "i"}),
    ("step_finished", {"inspection_id": "i", "step": "visual", "run": 1, "defects": ["visual.leaks"]}),
]


def test_visual_defects_as_journalled_pass() -> None:
    assert inspection_problems(_row(["visual.leaks"]), ENTRIES) == []


def test_a_defect_removed_behind_the_software_is_named() -> None:
    """An insider who clears a defect in the inspections table (so the card would pass) is found."""
    problems = inspection_problems(_row([]), ENTRIES)
    assert problems == ["inspection 1: visual defects are [], the journal says ['visual.leaks']"]


def test_a_checklist_never_journalled_is_named() -> None:
    problems = inspection_problems(_row([]), ENTRIES[:1])
    assert problems == ["inspection 1: step visual is done, the journal never saw it finish (run 1)"]

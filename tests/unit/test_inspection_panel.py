"""Issue #23 item 5: a lane's 14 steps did not fit the operator's panel at 80×24 — the last ones were
never seen. The first finished steps fold into one line; every step still to come stays listed."""

from __future__ import annotations

from typing import Any

from textual.geometry import Size

from tui.i18n import translate
from tui.widgets.lane.inspection import InspectionPanel


class _App:
    def t(self, key: str, **params: Any) -> str:
        return translate("ru", key, **params)

    def step_name(self, step_id: str) -> str:
        return step_id


class _Panel(InspectionPanel):
    room = 15

    @property
    def size(self) -> Size:  # type: ignore[override]
        return Size(38, self.room)

    @property
    def app_(self) -> Any:  # type: ignore[override]
        return _App()


def _steps(done: int, total: int = 14) -> list[dict[str, Any]]:
    return [
        {"id": f"s{i}", "status": "done" if i <= done else ("running" if i == done + 1 else "pending")}
        for i in range(1, total + 1)
    ]


def test_the_steps_still_to_come_are_on_screen_and_the_first_done_fold() -> None:
    panel = _Panel()
    steps = _steps(done=9)
    lines = panel._fit(steps, [[f"step {s['id']}"] for s in steps], above=2)  # noqa: SLF001
    assert len(lines) <= _Panel.room - 2
    assert lines[-1] == "step s14" and "step s10" in lines  # the running one and all after it
    assert "1–" in lines[0] and "выполнены" in lines[0]
    roomy = _Panel()
    roomy.room = 40
    assert roomy._fit(steps, [[f"step {s['id']}"] for s in steps], above=2) == [  # noqa: SLF001
        f"step s{i}" for i in range(1, 15)
    ]

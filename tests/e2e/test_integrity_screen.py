"""The integrity check from the administrator's screen (R3.13, issue #20 item 3): started from the
journal's screen (I, then F or N), run by the daemon as a process of its own, its progress and
result shown in the admin's language at 80×24; stopped (S) it keeps its position, resumed (R) it
finishes; only an administrator may start or see it."""

from __future__ import annotations

from typing import Any

import pytest

from app.api.client import ApiError, LaneClient
from tests.e2e.test_tui_pilot import SIZE, open_journal, text, until_shown
from tests.rig import Rig, append_readings, wait_for
from tui.app import make_app
from tui.screens.integrity import IntegrityScreen


async def _status_until(admin: LaneClient, want: Any, what: str, timeout: float = 60.0) -> dict[str, Any]:
    async def seen() -> dict[str, Any] | None:
        st = await admin.call("GET", "/v1/integrity")
        return st if want(st) else None

    return await wait_for(seen, what, timeout)


async def test_the_admin_runs_a_full_then_a_new_check_from_the_screen_in_kazakh(rig: Rig) -> None:
    app = make_app(rig.sock, "kk")
    async with app.run_test(size=SIZE) as pilot:
        await open_journal(pilot, app)
        await pilot.press("i")
        await pilot.pause(0.3)
        assert isinstance(app.screen, IntegrityScreen)
        assert "Тұтастықты тексеру" in text(app, "#i-title")
        assert "Толық" in text(app, "#keys") and "Жалғастыру" in text(app, "#keys")
        await pilot.press("f")
        await until_shown(pilot, app, "#i-last", "бұзушылық жоқ", timeout=60)
        assert "толық тексеру" in text(app, "#i-last")
        assert "Соңғы сәтті тексеру" in text(app, "#i-good")
        await pilot.press("n")
        await until_shown(pilot, app, "#i-last", "соңғы сәттіден кейінгі жаңасы", timeout=60)
        assert "бұзушылық жоқ" in text(app, "#i-last")
        await pilot.press("f10")  # Russian now: the title and the keys too, not only the lines
        await pilot.pause(0.3)
        assert "Проверка целостности" in text(app, "#i-title"), text(app, "#i-title")
        assert "Полная" in text(app, "#keys") and "нарушений нет" in text(app, "#i-last")
    admin = await rig.client("admin")
    done = await admin.call("GET", "/v1/journal?action=integrity_checked")
    assert [e["details"]["mode"] for e in done[:2]] == ["new", "full"] and all(
        e["details"]["ok"] for e in done[:2]
    )
    assert done[0]["actor"] == "integrity"


async def test_a_check_stopped_from_the_daemon_keeps_its_place_and_resumes(rig: Rig) -> None:
    admin = await rig.client("admin")
    assert rig.daemon.lane is not None
    sealed = rig.daemon.lane.keyring.seal_json({"value": 1}, "r")
    await append_readings(250_000, lambda k: sealed)
    started = await admin.call("POST", "/v1/integrity/check", {"mode": "full"})
    assert started["running"]
    with pytest.raises(ApiError) as again:
        await admin.call("POST", "/v1/integrity/check", {"mode": "full"})
    assert again.value.code == "integrity_running"
    await _status_until(admin, lambda st: (st["progress"] or {}).get("done", 0) > 0, "progress")
    stopped = await admin.call("POST", "/v1/integrity/stop")
    assert not stopped["running"] and stopped["last"]["interrupted"] and stopped["resumable"], stopped
    await admin.call("POST", "/v1/integrity/check", {"mode": "full", "resume": True})
    st = await _status_until(admin, lambda st: not st["running"], "the resumed check's end", 120)
    assert st["last"]["ok"] and not st["last"]["interrupted"] and not st["resumable"], st


async def test_only_an_administrator_sees_or_starts_the_check(rig: Rig) -> None:
    for role in ("operator", "technician"):
        client = await rig.client(role)
        for method, path in (
            ("GET", "/v1/integrity"),
            ("POST", "/v1/integrity/check"),
            ("POST", "/v1/integrity/stop"),
        ):
            with pytest.raises(ApiError) as refused:
                await client.call(method, path, {} if method == "POST" else None)
            assert refused.value.status == 403, (role, path)
    admin = await rig.client("admin")
    with pytest.raises(ApiError) as bad:
        await admin.call("POST", "/v1/integrity/check", {"mode": "everything; rm -rf /"})
    assert bad.value.code == "integrity_mode"

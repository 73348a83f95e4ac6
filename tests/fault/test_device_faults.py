"""Faults of a stand, each with the status it gives, the journal entry and what the screen says:
a stand swapped for another (another serial after reconnecting), a slow line, a pulled cable."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from textual.widgets import Static

from drivers.sim.pty import PtyPort
from tests.e2e.test_tui_pilot import login, text
from tests.rig import Rig, admitted, brake_sim, wait_for
from tui.app import make_app

#: verification dates relative to today: no fixed date in a test (issue #7 item 10)
UNTIL = (dt.date.today() + dt.timedelta(days=300)).isoformat()
YESTERDAY = (dt.date.today() - dt.timedelta(days=1)).isoformat()


async def screen(rig: Rig, role: str, lang: str = "en") -> dict[str, str]:
    """What the lane screen (80×24) shows a user who logs in now: the stands pane and the message line."""
    app = make_app(rig.sock, lang)
    async with app.run_test(size=(80, 24)) as pilot:
        await login(pilot, app, role)
        await pilot.pause(0.3)
        return {"stands": text(app, "#stands"), "msg": text(app, "#msg")}


async def _device(rig: Rig, c) -> dict:  # type: ignore[no-untyped-def]
    st = await c.call("GET", "/v1/state")
    return next(d for d in st["devices"] if d["id"] == "brake")


async def test_another_serial_after_reconnect_is_refused_and_journalled(rig: Rig) -> None:
    op = await rig.client("operator")
    await wait_for(lambda: admitted(op), "the brake tester")
    await rig.stop_sim()  # the stand is unplugged …

    async def faulted() -> bool:
        return (await _device(rig, op))["status"] == "faulted"

    await wait_for(faulted, "faulted")
    # … and another one is plugged in on the same line.
    port = PtyPort(rig.home / "dev" / "brake")
    rig.ports.append(port)
    stop = asyncio.Event()
    task = asyncio.create_task(brake_sim(port, serial="9999-0002").run(stop))
    try:

        async def refused() -> bool:
            d = await _device(rig, op)
            return d["status"] == "connected" and not d["admitted"]

        await wait_for(refused, "the refusal", timeout=30)
        d = await _device(rig, op)
        assert d["serial"] == "9999-0002" and "not the registered 2231-0457" in d["reason"]
        admin = await rig.client("admin")
        actions = [r["action"] for r in await admin.call("GET", "/v1/journal?limit=20")]
        assert actions.index("device_refused") < actions.index("device_disconnected")  # newest first
        seen = await screen(rig, "operator", "en")
        shown = seen["stands"]
        assert "✗ Brake tester" in shown and "not admitted" in shown
        assert "serial 9999-0002 is not the registered 2231-0457" in " ".join(shown.split())
        seen = await screen(rig, "operator", "ru")  # the reason is a code: each language says it
        shown = seen["stands"]
        assert "серийный номер 9999-0002 не совпадает" in " ".join(shown.split())
    finally:
        stop.set()
        await task


async def test_a_slow_line_makes_the_stand_stale_and_it_recovers(rig: Rig) -> None:
    op = await rig.client("operator")
    await wait_for(lambda: admitted(op), "the brake tester")
    rig.sim.rate = 0.25  # one frame every 4 s: slower than stale_after (3 s)

    async def stale() -> bool:
        d = await _device(rig, op)
        return d["status"] == "stale" and d["reason"].startswith("no data for")

    await wait_for(stale, "stale", timeout=20)
    rig.sim.rate = 10.0

    async def back() -> bool:
        return (await _device(rig, op))["status"] == "connected"

    await wait_for(back, "connected again", timeout=20)


async def test_an_admin_adopts_the_new_stand_and_the_journal_keeps_both(rig: Rig) -> None:
    """Replacing a stand is a logged admin act: the identity is read from the hardware (R3.15)."""
    op = await rig.client("operator")
    admin = await rig.client("admin")
    await wait_for(lambda: admitted(op), "the brake tester")
    await rig.stop_sim()
    port = PtyPort(rig.home / "dev" / "brake")
    rig.ports.append(port)
    stop = asyncio.Event()
    task = asyncio.create_task(brake_sim(port, serial="3300-0101", model="BT-5000").run(stop))
    try:

        async def refused() -> bool:
            d = await _device(rig, op)
            return d["status"] == "connected" and d["serial"] == "3300-0101" and not d["admitted"]

        await wait_for(refused, "the new stand, refused", timeout=30)
        from app.api.client import ApiError

        for body, code in (
            ({"certificate": "KZ-1", "verified_until": YESTERDAY}, "verification_expired"),
            ({"certificate": "KZ-1", "verified_until": "soon"}, "date_bad"),
            ({"certificate": " ", "verified_until": UNTIL}, "certificate_bad"),
        ):
            try:
                await admin.call("POST", "/v1/devices/brake/replace", body)
            except ApiError as exc:
                assert exc.code == code
            else:
                raise AssertionError(code)
        # In the lane screen: F6, A, the identity read from the stand, then certificate and expiry.
        app = make_app(rig.sock, "en")
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot, app, "admin")
            await pilot.press("f6")

            async def frames() -> bool:
                await pilot.pause(0.05)
                return bool(app.screen.query("#f-head"))

            await wait_for(frames, "the frames screen")
            await pilot.press("a")

            async def shown() -> bool:  # shown for confirmation, read from the hardware
                await pilot.pause(0.05)
                return "BT-5000, s/n 3300-0101" in " ".join(str(w.content) for w in app.screen.query(Static))

            await wait_for(shown, "the new stand's identity")
            await pilot.press(*"KZ-VER-77", "tab", *UNTIL, "enter")

            async def registered() -> bool:
                await pilot.pause(0.05)
                return bool(app.screen.query("#msg")) and "Stand s/n 3300-0101 registered" in text(
                    app, "#msg"
                )

            await wait_for(registered, "the registration message")
        d = await _device(rig, op)
        assert d["admitted"] and d["serial"] == "3300-0101" and d["certificate"] == "KZ-VER-77"
        entry = (await admin.call("GET", "/v1/journal?action=device_replaced"))[0]
        assert entry["actor"] == "admin"
        expected = {
            "device": "brake", "old_serial": "2231-0457", "new_serial": "3300-0101",
            "new_model": "BT-5000", "certificate": "KZ-VER-77", "verified_until": UNTIL,
        }  # fmt: skip
        assert {k: entry["details"][k] for k in expected} == expected
    finally:
        stop.set()
        await task


async def test_a_lost_result_sends_the_step_back_with_a_notice(rig: Rig, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A stand whose result never comes (a garbled result frame, a vehicle that did not pass): the
    step goes back to waiting, the journal says so, and the screen tells the operator to run it again."""
    from app.lane import steps

    monkeypatch.setattr(steps, "STEP_RESULT_TIMEOUT_S", 1.0)
    rig.sim.test_s = 1e9  # this stand's test never ends
    op = await rig.client("operator")
    await wait_for(lambda: admitted(op), "the brake tester")
    insp = await op.call("POST", "/v1/inspections", {"plate": "123ABC02", "category": "M1", "axles": 1})
    await op.call("POST", f"/v1/inspections/{insp['id']}/steps/brakes_axle_1")

    async def back() -> bool:
        st = await op.call("GET", "/v1/state")
        step = st["inspection"]["steps"][1]
        return step["status"] == "pending" and step["notice"] == "step_no_result"

    await wait_for(back, "the step back to waiting", timeout=15)
    admin = await rig.client("admin")
    entry = (await admin.call("GET", "/v1/journal?action=step_no_result"))[0]
    assert entry["details"]["step"] == "brakes_axle_1"
    seen = await screen(rig, "operator", "en")
    msg = seen["msg"]
    assert "No result came from the stand for Brakes, axle 1: run the step again (F5)." in msg


async def test_a_stuck_sensor_is_told_from_a_steady_one_holds_the_step_and_is_journalled(rig: Rig) -> None:
    """Issue #4 "a stuck value", R3.15, D3: a frozen force sensor would pass the stability gate with a
    value that measures nothing. Broken on command through the simulator's control socket, as a
    technician would (`otolane sim fault`): status "stuck" with the channel and value, the running step
    goes back with a notice, the journal records it, no step starts; unfrozen, the stand is back."""
    import subprocess
    import sys

    from app.api.client import ApiError
    from drivers.sim.control import serve_control

    control = rig.home / "dev" / "brake.ctl"
    server = await serve_control(control, rig.sim)
    rig.sim.test_s = 20_000  # a slow ramp: forces climb for the whole test
    op = await rig.client("operator")
    admin = await rig.client("admin")
    await wait_for(lambda: admitted(op), "the brake tester")
    insp = await op.call("POST", "/v1/inspections", {"plate": "123ABC02", "category": "M1", "axles": 1})
    await op.call("POST", f"/v1/inspections/{insp['id']}/steps/brakes_axle_1")

    async def loaded() -> bool:
        live = (await _device(rig, op))["live"]
        return live.get("brake.force.left", {}).get("value", 0) >= 0.1

    await wait_for(loaded, "a force on the rollers")

    def order(*words: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "app.cli", "sim", "fault", str(control), *words],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        return out.stdout

    try:
        assert "stuck=on" in await asyncio.to_thread(order, "stuck", "on")

        async def stuck() -> dict | None:  # type: ignore[type-arg]
            d = await _device(rig, op)
            return d if d["status"] == "stuck" else None

        d = await wait_for(stuck, "the stuck status", timeout=20)
        # Both force channels freeze together; the reason names the one the watch caught first.
        assert re.search(r"brake\.force\.(left|right) frozen at", d["reason"]) and "kN" in d["reason"]
        st = await op.call("GET", "/v1/state")
        step = st["inspection"]["steps"][1]
        assert step["status"] == "pending" and step["notice"] == "step_sensor_stuck"
        assert [h["code"] for h in step["holds"]] == ["device_stuck"]
        try:
            await op.call("POST", f"/v1/inspections/{insp['id']}/steps/brakes_axle_1")
        except ApiError as exc:
            assert [h["code"] for h in exc.params["holds"]] == ["device_stuck"]
        else:
            raise AssertionError("a step started on a stuck stand")
        entry = (await admin.call("GET", "/v1/journal?action=device_stuck"))[0]
        assert entry["details"]["device"] == "brake" and "frozen at" in entry["details"]["reason"]
        interrupted = (await admin.call("GET", "/v1/journal?action=step_interrupted"))[0]
        assert interrupted["details"]["step"] == "brakes_axle_1"
        seen = await screen(rig, "operator", "en")
        shown = seen["stands"]
        assert "≡ Brake tester" in shown and "sensor stuck" in shown
        msg = seen["msg"]
        assert "A sensor of the stand froze during Brakes, axle 1" in msg

        assert "stuck=off" in await asyncio.to_thread(order, "stuck", "off")

        async def back() -> bool:
            return (await _device(rig, op))["status"] == "connected"

        await wait_for(back, "connected again", timeout=20)
        recovered = await admin.call("GET", "/v1/journal?action=device_recovered")
        assert recovered[0]["details"]["device"] == "brake"
    finally:
        server.close()


async def test_a_stuck_stand_that_goes_quiet_and_comes_back_moving_is_journalled_recovered(rig: Rig) -> None:
    """R3.15: stuck → no data → moving again: the journal closes the episode with device_recovered."""
    op = await rig.client("operator")
    admin = await rig.client("admin")
    await wait_for(lambda: admitted(op), "the brake tester")
    rig.sim.stuck = True

    async def status(want: str) -> bool:
        return (await _device(rig, op))["status"] == want

    await wait_for(lambda: status("stuck"), "stuck", timeout=20)
    rig.sim.rate = 0.25  # slower than stale_after (3 s)
    await wait_for(lambda: status("stale"), "no data", timeout=20)
    rig.sim.stuck, rig.sim.rate = False, 10.0
    await wait_for(lambda: status("connected"), "moving again", timeout=20)

    async def recovered() -> bool:
        return bool(await admin.call("GET", "/v1/journal?action=device_recovered"))

    await wait_for(recovered, "device_recovered in the journal")
    assert len(await admin.call("GET", "/v1/journal?action=device_stuck")) == 1

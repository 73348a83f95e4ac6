"""The cameras on the TUI, driven by Textual's Pilot against a real daemon (in-process), at 80×24:
the dashboard's camera lines and the plate read into the new-car form (D2, R3.2), the camera
registered (R3.7), a camera refusing its account said in the operator's language, the plate region
marked (issue #26), the arrival watch as the technician sees it."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.e2e.test_tui_pilot import SIZE, drawn, login, text, until_shown
from tests.rig import wait_for
from tui.app import make_app


async def test_cameras_on_the_dashboard_and_the_plate_read_into_the_new_car_form(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """D2: every camera's state, fps, size and the age of its last frame on the operator's screen at
    80×24; R3.2: the plate read when the car arrived is on the lane screen, the new-car form starts
    from that reading (issue #26 item 4) with its confidence and a picture, the operator confirms it
    with Enter; R3.9: the brake bars say when the photo was taken."""
    from tests.rig import start_rig

    rig = await start_rig(tmp_path / "lane", cameras=("mjpeg",))
    try:
        app = make_app(rig.sock, "en")
        async with app.run_test(size=SIZE) as pilot:
            await login(pilot, app, "operator")

            await until_shown(pilot, app, "#stands", "fps 1280×720")
            stands = text(app, "#stands")
            assert "Cameras" in stands and "● mjpeg0 MJPG" in stands
            await until_shown(pilot, app, "#msg", "At the stand: 123ABC02", 60)
            # the car is gone from the picture as F2 is pressed: a reading made now would read
            # nothing, so the plate the form shows is the one read when the car arrived
            rig.cameras[0].set_scene("", "clean")
            await pilot.press("f2")
            await until_shown(pilot, app, "#plate-read", "123ABC02", 2)
            rig.cameras[0].set_scene("123ABC02", "clean")
            assert "mjpeg0: 123ABC02 ·" in text(app, "#plate-read")
            assert len(text(app, "#plate-pic").splitlines()) == 3  # the plate in half blocks
            # issue #23 item 2: with the plate's picture the form is taller than 80×24; a refusal is
            # still drawn where the eye is, whatever the form's scroll
            from textual.widgets import Input

            app.screen.query_one("#axles", Input).value = "9"
            await pilot.press("enter")
            for scroll in ("scroll_home", "scroll_end"):
                getattr(app.screen.query_one("#new-box"), scroll)(animate=False)
                await pilot.pause(0.1)
                assert "1" in text(app, "#new-msg") and text(app, "#new-msg") in drawn(app), scroll
            app.screen.query_one("#axles", Input).value = "2"
            app.screen.query_one("#plate", Input).focus()
            await pilot.press("enter")  # the plate field holds the reading: Enter confirms it

            await until_shown(pilot, app, "#insp", "123ABC02 · M1 · petrol")
            await pilot.press("f5")

            async def photo() -> bool:
                await pilot.pause(0.1)
                return "photo taken" in text(app, "#live") or "✓ 2 Brakes, axle 1" in text(app, "#insp")

            await wait_for(photo, "the photo of the front axle")
        assert not await (await rig.client("admin")).call("GET", "/v1/journal?action=plate_corrected")
    finally:
        await rig.close()


async def test_a_plate_typed_over_the_reading_replaces_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """R3.2: the plate read when the car arrived stands in the field selected — the operator who sees
    it is wrong types the plate over it (not after it: the demo in a real terminal made 123ABC02777A
    of it and refused it), and the correction is journalled."""
    from textual.widgets import Input

    from tests.rig import start_rig

    rig = await start_rig(tmp_path / "lane", cameras=("mjpeg",))
    try:
        app = make_app(rig.sock, "en")
        async with app.run_test(size=SIZE) as pilot:
            await login(pilot, app, "operator")
            await until_shown(pilot, app, "#msg", "At the stand: 123ABC02", 60)
            await pilot.press("f2")
            await until_shown(pilot, app, "#plate-read", "123ABC02", 2)
            box = app.screen.query_one("#plate", Input)
            assert box.value == "123ABC02"
            # the reading that lands while the field has the focus (F6, or a reading made as the form
            # opened): the field's own select-on-focus has passed, the form selects it
            await pilot.press("backspace", "f6")

            async def read_again() -> bool:
                await pilot.pause(0.1)
                return box.value == "123ABC02"

            await wait_for(read_again, "the plate read again into the emptied field")
            await pilot.press(*"777ABC01")
            assert app.screen.query_one("#plate", Input).value == "777ABC01"
            await pilot.press("enter")
            await until_shown(pilot, app, "#insp", "777ABC01 · M1 · petrol")
        corrected = await (await rig.client("admin")).call("GET", "/v1/journal?action=plate_corrected")
        assert len(corrected) == 1, corrected
    finally:
        await rig.close()


async def test_the_administrator_registers_the_camera_now_on_the_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """R3.7: a camera that reports another serial shows as not admitted with both serials; A shows
    what will be registered, A again registers it; the technician sees the list but cannot — and
    sees the arrival watch look at the camera once it is admitted (R3.2)."""
    from tests.rig import start_rig

    rig = await start_rig(tmp_path / "lane", cameras=("mjpeg",), camera_serials=("OLD-SERIAL",))
    try:
        app = make_app(rig.sock, "en")
        async with app.run_test(size=SIZE) as pilot:
            await login(pilot, app, "admin")
            # the lane screen says why, under the camera's line, whole at 80 columns
            await until_shown(pilot, app, "#stands", "not admitted")
            assert "DS-MJPEG-0000" in text(app, "#stands") and "OLD-SERIAL" in text(app, "#stands")
            await pilot.press("f6")  # the equipment: stands, and F11 their cameras
            await pilot.pause(0.3)
            assert "F11 Cameras" in text(app, "#keys")
            await pilot.press("f11")

            async def listed() -> bool:
                await pilot.pause(0.2)
                return "not admitted" in str(app.screen.query_one("#c-table", DataTable).get_row_at(0))

            await wait_for(listed, "the refused camera listed")
            headers = [str(c.label) for c in app.screen.query_one("#c-table", DataTable).columns.values()]
            assert headers == ["Camera", "Kind", "State", "Serial number"]  # was "Camera {camera} …"
            row = [str(c) for c in app.screen.query_one("#c-table", DataTable).get_row_at(0)]
            assert row[3] == "✗ not the registered one", row
            # issue #23 (5): the two serials whole, one under the other, at 80 columns
            detail = text(app, "#c-detail").splitlines()
            assert any("serial DS-MJPEG-0000" in line for line in detail), detail
            assert any(line.startswith("Registered:") and "OLD-SERIAL" in line for line in detail), detail
            assert all(len(line) <= SIZE[0] for line in detail)
            await pilot.press("a")
            await pilot.pause(0.1)
            assert "Press A again to confirm" in text(app, "#c-msg")
            await pilot.press("a")

            await until_shown(pilot, app, "#c-msg", "registered with serial DS-MJPEG-0000")

            async def picture() -> bool:  # D2: a live look at the camera now that it is admitted
                await pilot.pause(0.2)
                return len(text(app, "#c-pic").splitlines()) >= 4

            await wait_for(picture, "the camera's picture")
        (entry,) = await (await rig.client("admin")).call("GET", "/v1/journal?action=camera_registered")
        assert entry["details"]["serial"] == "DS-MJPEG-0000" and entry["actor"] == "admin"
        app = make_app(rig.sock, "ru")
        async with app.run_test(size=SIZE) as pilot:
            await login(pilot, app, "technician")
            await pilot.press("f11")
            # R3.2: the arrival watch on the plate camera, as a technician checks it, in their language
            await until_shown(pilot, app, "#c-detail", "Наблюдение за въездом: картинка неподвижна", 30)
            assert "номеров считано: 1" in text(app, "#c-detail")
            long = [line for line in text(app, "#c-detail").splitlines() if len(line) > SIZE[0]]
            assert not long, long
            await pilot.press("a", "a")
            await pilot.pause(0.5)
            assert "✗" in text(app, "#c-msg")  # refused by the daemon, said in words
    finally:
        await rig.close()


async def test_a_camera_refusing_its_account_is_said_in_the_operators_language(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every string on screen from a catalog (R3.7, D2): a camera that refuses the lane's account is
    shown on the operator's 80×24 lane screen with its reason in Russian and Kazakh — from its code,
    not the driver's English words — and the photo step's hold says it too."""
    from tests.rig import admitted, start_rig

    rig = await start_rig(tmp_path / "lane", cameras=("mjpeg",), camera_account=("lane", "Other-pass-1"))
    try:
        op = await rig.client("operator")

        async def refused() -> dict | None:  # type: ignore[type-arg]
            cams = (await op.call("GET", "/v1/state"))["cameras"]
            return cams[0] if cams and cams[0]["reason_why"].get("code") else None

        cam = await wait_for(refused, "the camera refusing the account")
        assert cam["status"] == "faulted" and cam["reason_why"]["code"] == "onvif_account_refused"
        await wait_for(lambda: admitted(op), "the brake tester")
        vehicle = {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2}
        insp = await op.call("POST", "/v1/inspections", vehicle)
        step = next(s for s in insp["steps"] if s["id"] == "brakes_axle_1")
        hold = next(h for h in step["holds"] if h["params"].get("device") == "mjpeg0")
        assert hold["code"] == "device_not_connected"
        assert hold["params"]["why"]["code"] == "onvif_account_refused"
        for lang, words in (("ru", "камера не приняла учётную"), ("kk", "камера есептік жазбаны")):
            app = make_app(rig.sock, lang)
            async with app.run_test(size=SIZE) as pilot:
                await login(pilot, app, "operator")
                await until_shown(pilot, app, "#stands", words)
                shown = text(app, "#stands")
                assert "ONVIF refused" not in shown and "Other-pass-1" not in shown
                assert all(len(line) <= SIZE[0] for line in shown.splitlines())
                said = app.hold_text(hold)  # the brake step's hold, as the lane screen says it
                assert words in said and "ONVIF refused" not in said
    finally:
        await rig.close()


async def test_the_administrator_marks_where_the_plate_camera_sees_the_plate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """R3.2 (issue #26): on the cameras screen R marks the plate region over the live picture —
    arrows move it, Shift+arrows and + − size it, Enter keeps it (journalled), Del gives back the
    whole frame, Esc leaves the marking and not the screen; each line fits 80 columns."""
    from tests.rig import start_rig
    from tui.screens.cameras import CamerasScreen

    rig = await start_rig(tmp_path / "lane", cameras=("mjpeg",))
    try:
        app = make_app(rig.sock, "en")
        async with app.run_test(size=SIZE) as pilot:
            await login(pilot, app, "admin")
            await pilot.press("f6")
            await pilot.pause(0.3)
            await pilot.press("f11")
            await until_shown(pilot, app, "#c-detail", "Plate region: the whole frame")
            assert "R Plate region" in text(app, "#keys")
            await pilot.press("r")
            await until_shown(pilot, app, "#c-detail", "from 25 % across, 50 % down; 50 % × 40 %")
            assert "Arrows: move" in text(app, "#c-msg")
            await pilot.press("right", "right", "up", "shift+right", "minus")
            await until_shown(pilot, app, "#c-detail", "from 35 % across, 45 % down; 50 % × 35 %")
            await pilot.press("escape")  # leaves the marking, not the screen
            await pilot.pause(0.2)
            assert isinstance(app.screen, CamerasScreen)
            await until_shown(pilot, app, "#c-detail", "Plate region: the whole frame")
            await pilot.press("r", "down", "enter")
            await until_shown(pilot, app, "#c-msg", "is kept (journalled)")
            await until_shown(pilot, app, "#c-detail", "from 25 % across, 55 % down; 50 % × 40 %")
            assert all(len(line) <= SIZE[0] for line in text(app, "#c-detail").splitlines())
            await pilot.press("r", "delete")
            await until_shown(pilot, app, "#c-msg", "whole frame again")
        marks = await (await rig.client("admin")).call("GET", "/v1/journal?action=camera_roi_set")
        assert [m["details"]["roi"] for m in reversed(marks)] == [[0.25, 0.55, 0.5, 0.4], None]
    finally:
        await rig.close()

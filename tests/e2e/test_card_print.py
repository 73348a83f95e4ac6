"""Printing the card through a real CUPS (issue #8): a private cupsd started by the test, one raw
queue to a socket printer (AppSocket, port-9100 style) that keeps the bytes it receives."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.api.client import ApiError
from tests.cups import cups_missing, private_cups
from tests.rig import Rig, run_to_card, start_rig, wait_for

VEHICLE = {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2}

pytestmark = pytest.mark.skipif(cups_missing() is not None, reason=str(cups_missing()))


async def test_the_card_is_printed_byte_for_byte_and_the_job_journalled(tmp_path: Path) -> None:
    with private_cups() as cups:
        rig = await start_rig(tmp_path / "lane", printer=(cups.queue, cups.server))
        try:
            op = await rig.client("operator")
            formed = await run_to_card(op, VEHICLE)
            job = await op.call("POST", f"/v1/cards/{formed['card_id']}/print")
            assert job["queue"] == cups.queue and job["job"].startswith(cups.queue + "-") and not job["copy"]
            printed = cups.printer.wait_jobs(1)
            assert len(printed) == 1 and printed[0].startswith(b"%PDF")

            async def done() -> bool:
                return bool((await op.call("GET", f"/v1/print-jobs/{job['job']}"))["done"])

            await wait_for(done, "CUPS to report the job completed")
            # What reached the printer is the card as issued: the journal holds its hash.
            admin = await rig.client("admin")
            issued = (await admin.call("GET", "/v1/journal?action=card_issued"))[0]["details"]
            assert issued["job"] == job["job"] and issued["sha256"] == hashlib.sha256(printed[0]).hexdigest()
            # A second print is a copy, and says so on paper.
            again = await op.call("POST", f"/v1/cards/{formed['card_id']}/print")
            assert set(again) == {"job", "queue", "location", "copy"} and again["copy"] is True
            assert len(cups.printer.wait_jobs(2)) == 2
            # the certificate on request goes to the same printer; the answer says which job (R3.8)
            cert = await op.call("POST", f"/v1/cards/{formed['card_id']}/certificate", {"print": True})
            assert set(cert) == {"number", "copy", "job", "queue", "location"}
            assert cert["queue"] == cups.queue and cert["copy"] is False and cert["number"]
            assert cert["job"].startswith(cups.queue + "-")
            assert cups.printer.wait_jobs(3)[2].startswith(b"%PDF")
        finally:
            await rig.close()


async def test_a_printer_problem_is_said_and_journalled_not_hidden(tmp_path: Path) -> None:
    with private_cups() as cups:
        rig = await start_rig(tmp_path / "lane", printer=("no-such-queue", cups.server))
        try:
            op = await rig.client("operator")
            formed = await run_to_card(op, VEHICLE)
            with pytest.raises(ApiError) as err:
                await op.call("POST", f"/v1/cards/{formed['card_id']}/print")
            assert err.value.code == "printer_failed" and err.value.params["queue"] == "no-such-queue"
            assert err.value.params["reason"]  # CUPS's own words
            admin = await rig.client("admin")
            failed = await admin.call("GET", "/v1/journal?action=card_print_failed")
            assert failed and failed[0]["details"]["code"] == "printer_failed"
            assert await admin.call("GET", "/v1/journal?action=card_issued") == []
        finally:
            await rig.close()


async def test_a_lane_without_a_printer_says_so(tmp_path: Path) -> None:
    rig = await start_rig(tmp_path / "lane")
    try:
        op = await rig.client("operator")
        formed = await run_to_card(op, VEHICLE)
        with pytest.raises(ApiError) as err:
            await op.call("POST", f"/v1/cards/{formed['card_id']}/print")
        assert err.value.code == "printer_none"
    finally:
        await rig.close()


async def _press(rig: Rig, lang: str, role: str, key: str, said: str, card: bool = True) -> str:
    """With a card formed (unless not ``card``): ``role`` logs in on an 80×24 screen in ``lang``,
    finds ``key`` on a key bar that fits, presses it and waits for the message containing ``said``."""
    from tests.e2e.test_tui_pilot import SIZE, login, text
    from tui.app import make_app

    if card:
        await run_to_card(await rig.client("operator"), VEHICLE)
    app = make_app(rig.sock, lang)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot, app, role)
        keys = text(app, "#keys")
        assert all(len(line) <= SIZE[0] for line in keys.splitlines())
        if key == "f4":  # the certificate is offered in the administrator's settings (F2), not the bar
            await pilot.press("f2")
            await pilot.pause(0.2)
            assert "(F4)" in text(app, "#admin-items")
            await pilot.press("escape")
            await pilot.pause(0.2)
        else:
            assert key.upper() in keys
        await pilot.press(key)

        async def shown() -> bool:
            await pilot.pause(0.1)
            return said in text(app, "#msg")

        await wait_for(shown, f"the message after {key}")
        return text(app, "#msg")


async def test_f7_prints_the_last_card_and_says_where(tmp_path: Path) -> None:
    """The operator prints from the lane screen, in Kazakh on an 80×24 console; the key bar fits;
    the message names the queue, the job and where the printer stands (its CUPS location)."""
    with private_cups(location="Ресепшн, 1-қабат") as cups:
        rig = await start_rig(tmp_path / "lane", printer=(cups.queue, cups.server))
        try:
            message = await _press(rig, "kk", "operator", "f7", "принтеріне жіберілді")
            assert cups.queue in message and "Принтердің орны: Ресепшн, 1-қабат." in message, message
            assert len(cups.printer.wait_jobs(1)) == 1
        finally:
            await rig.close()


async def test_f7_and_f4_without_a_card_say_what_is_missing(tmp_path: Path) -> None:
    """Issue #23 (6): a key that cannot act says why, instead of doing nothing."""
    with private_cups() as cups:
        rig = await start_rig(tmp_path / "lane", printer=(cups.queue, cups.server))
        try:
            said = await _press(rig, "ru", "operator", "f7", "Карты ещё нет", card=False)
            assert "F7" in said
            said = await _press(rig, "en", "admin", "f4", "There is no card yet", card=False)
            assert "F4" in said and not cups.printer.jobs
        finally:
            await rig.close()


async def test_f4_prints_the_international_certificate_for_the_admin(tmp_path: Path) -> None:
    """Issue #8: the certificate on request, from the screen, onto the lane's printer; journalled."""
    with private_cups() as cups:
        rig = await start_rig(tmp_path / "lane", printer=(cups.queue, cups.server))
        try:
            message = await _press(rig, "ru", "admin", "f4", "Международный сертификат")
            printed = cups.printer.wait_jobs(1)
            assert len(printed) == 1 and printed[0].startswith(b"%PDF")
            admin = await rig.client("admin")
            issued = (await admin.call("GET", "/v1/journal?action=certificate_issued"))[0]["details"]
            assert issued["queue"] == cups.queue and issued["number"] in message
        finally:
            await rig.close()

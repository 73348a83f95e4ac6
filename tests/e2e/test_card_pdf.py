"""The card on paper (issue #8; R3.6 every item with value, norm and verdict; R3.8 the failures sheet).

The PDF comes from the daemon over the API, is read back with pdftotext (poppler-utils) and each
page is rendered to PNG with pdftoppm (kept as test artefacts in the test's directory). Values on
the paper are checked against the readings as the daemon stored them, not against the card JSON.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from app.api.client import ApiError, LaneClient
from app.documents.card_pdf import card_hash, deviation_unit, time_of_day, unit_text
from app.domain.reinspection import reinspection_until
from app.lane.forming import stored_readings
from tests.rig import Rig, run_to_card, start_rig, wait_for

VEHICLE = {
    "plate": "123ABC02",
    "category": "M1",
    "fuel": "petrol",
    "axles": 2,
    "year": 2012,
    "vin": "XTA210990Y1234567",
    "make_model": "LADA Granta",
}
KAZAKH_LETTERS = "әғқңөұүһі"
#: A centre whose name has every letter of the Kazakh alphabet that Russian lacks.
CENTRE = "ТКО «Шаһар Әуежай Ғұмыр Ақсұңқар Өңір» (оқу)"

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


def pdf_text(pdf: Path, page: int | None = None) -> str:
    args = ["pdftotext", "-raw", "-enc", "UTF-8"]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    return subprocess.run([*args, str(pdf), "-"], check=True, capture_output=True, text=True).stdout


def pages(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[1] for line in out.splitlines() if line.startswith("Pages:")))


def render_png(pdf: Path) -> list[Path]:
    """Every page as PNG next to the PDF: the artefact a person looks at when a test fails."""
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(pdf.with_suffix(""))], check=True)
    pngs = sorted(pdf.parent.glob(pdf.stem + "-*.png"))
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    return pngs


async def _fetch(c: LaneClient, card: dict[str, Any], where: Path) -> Path:
    where.write_bytes(await c.download(f"/v1/cards/{card['card_id']}/pdf"))
    return where


def _num(v: float) -> str:
    return f"{v:g}"


async def test_the_card_reads_back_in_kazakh_and_russian_with_the_stored_values(tmp_path: Path) -> None:
    rig = await start_rig(tmp_path / "lane", centre=CENTRE)
    try:
        op = await rig.client("operator")
        formed = await run_to_card(op, VEHICLE)
        card = await op.call("GET", f"/v1/cards/{formed['card_id']}")
        assert card["verdict"] == formed["verdict"] == "admitted"
        pdf = await _fetch(op, card, tmp_path / "card.pdf")
        text = pdf_text(pdf)
        # Both languages, every Kazakh letter intact (upper and lower case came through the font).
        for heading in (
            "ДИАГНОСТИКАЛЫҚ КАРТА",
            "ДИАГНОСТИЧЕСКАЯ КАРТА",
            "ӨЛШЕУ ХАТТАМАСЫ",
            "ПРОТОКОЛ ИЗМЕРЕНИЙ",
        ):
            assert heading in text
        assert CENTRE in text
        for letter in KAZAKH_LETTERS:
            assert letter in text, letter
        assert "ПАЙДАЛАНУҒА ЖАРАМДЫ" in text and "СООТВЕТСТВУЕТ" in text
        assert "123ABC02" in text and "XTA210990Y1234567" in text and "LADA Granta" in text
        # A good car: no failures sheet; the card and the protocol only.
        assert "СӘЙКЕССІЗДІКТЕР ПАРАҒЫ" not in text and "ЛИСТ НЕСООТВЕТСТВИЙ" not in text
        # Every value on paper is the one the daemon stored (finals of the brake tester).
        stored = await stored_readings(rig.daemon.lane.keyring, card["inspection_id"])
        finals = [r for r in stored if r.get("final") and r["channel"].startswith("brake.")]
        assert len(finals) >= 8
        for r in finals:
            assert _num(float(r["value"])) in text, r
        for item in card["items"]:
            assert f"{_num(item['value'])} {unit_text(item['norm']['unit'])}" in text, item["id"]
        # issue #22 item 6: every value of the protocol with its unit and the time it was measured —
        # the brake tester's too (they were printed apart, after the others, with no time)
        brakes = [e for e in card["protocol"] if e["step"].startswith("brakes_axle_")]
        assert [e["step"] for e in brakes] == ["brakes_axle_1", "brakes_axle_2"]
        for e in card["protocol"]:
            assert set(e["times"]) == set(e["units"]) == set(e["values"]), e["step"]
        for e in brakes:
            assert {e["units"][ch] for ch in e["values"]} == {"kN", "kg"}, e["units"]
            for ch, iso in e["times"].items():
                assert f"{_num(e['values'][ch])} {unit_text(e['units'][ch])}" in text, ch
                assert time_of_day(iso) in text, ch
        # Times as people in Kazakhstan read them (the card's JSON keeps ISO UTC).
        import datetime as dt

        started = dt.datetime.fromisoformat(card["started"]).astimezone(dt.timezone(dt.timedelta(hours=5)))
        assert started.strftime("%Y-%m-%d %H:%M") + " (UTC+5)" in text
        # R3.4: the next date, from the rules, on the card (a 2012 private car: the yearly row).
        due = card["next_inspection"]
        assert due["rule"] == "cars" and due["due"] in text
        # Training lane: TRAINING on every page, in both languages.
        for page in range(1, pages(pdf) + 1):
            assert "ОҚУ ҮЛГІСІ" in pdf_text(pdf, page) and "УЧЕБНЫЙ ОБРАЗЕЦ" in pdf_text(pdf, page)
        # The QR payload's hash is printed in words as well; it is the stored card's (read in full:
        # a reader's copy masks the VIN, R11)
        admin = await rig.client("admin")
        stored_card = await admin.call("GET", f"/v1/cards/{card['card_id']}?full=1")
        assert stored_card.pop("masked") == [] and card["masked"] == ["vehicle.vin"]
        assert card_hash(stored_card) in text.replace("\n", "")
        assert len(render_png(pdf)) == pages(pdf)
    finally:
        await rig.close()


async def test_a_reprint_is_marked_copy_and_every_issue_is_journalled(tmp_path: Path) -> None:
    rig = await start_rig(tmp_path / "lane")
    try:
        op = await rig.client("operator")
        card = await run_to_card(op, VEHICLE)
        first = await _fetch(op, card, tmp_path / "first.pdf")
        again = await _fetch(await rig.client("admin"), card, tmp_path / "again.pdf")
        assert "КӨШІРМЕ" not in pdf_text(first) and "КОПИЯ" not in pdf_text(first)
        for page in range(1, pages(again) + 1):
            assert "КӨШІРМЕ" in pdf_text(again, page) and "КОПИЯ" in pdf_text(again, page)
        journal = await (await rig.client("admin")).call("GET", "/v1/journal?action=card_issued")
        assert [(e["actor"], e["details"]["copy"]) for e in reversed(journal)] == [
            ("operator", False),
            ("admin", True),
        ]
        # An unknown card is a clear 404, not a blank page.
        with pytest.raises(ApiError) as err:
            await op.download("/v1/cards/nope/pdf")
        assert err.value.code == "card_unknown" and err.value.status == 404
        # The technician may not print cards (personal data).
        with pytest.raises(ApiError) as err:
            await (await rig.client("technician")).download(f"/v1/cards/{card['card_id']}/pdf")
        assert err.value.status == 403
    finally:
        await rig.close()


async def test_weak_brakes_add_a_failures_sheet_with_each_deviation(tmp_path: Path) -> None:
    rig: Rig = await start_rig(tmp_path / "lane", scenario="weak-rear")
    try:
        op = await rig.client("operator")
        formed = await run_to_card(op, VEHICLE)
        card = await op.call("GET", f"/v1/cards/{formed['card_id']}")
        assert card["verdict"] == "not_admitted"
        pdf = await _fetch(op, card, tmp_path / "weak.pdf")
        # Order 532 p. 3(8): the card, then the failures on its second sheet, then the protocol
        sheet = pdf_text(pdf, 2)
        assert "ЛИСТ НЕСООТВЕТСТВИЙ" not in pdf_text(pdf, 1) and "ПРОТОКОЛ ИЗМЕРЕНИЙ" not in sheet
        assert "ПРОТОКОЛ ИЗМЕРЕНИЙ" in pdf_text(pdf, 3)
        assert "СӘЙКЕССІЗДІКТЕР ПАРАҒЫ" in sheet and "ЛИСТ НЕСООТВЕТСТВИЙ" in sheet
        assert card["failures"]
        for item in card["failures"]:
            assert f"{item['deviation']:+g} {deviation_unit(item['norm']['unit'])}" in sheet, item["id"]
            if item["norm"]["unit"] == "%":  # issue #22 (7): percentage points, said so
                assert f"{item['deviation']:+g} п.т./п.п." in sheet
        assert "2-білік" in sheet and "Ось 2" in sheet  # the rear axle, named in both languages
        everything = pdf_text(pdf)
        assert "<br" not in everything and "&lt;" not in everything and "&amp;" not in everything  # no markup
        assert "ПАЙДАЛАНУҒА ЖАРАМСЫЗ" in pdf_text(pdf)
        # Not admitted: no next date, the vehicle comes back (R3.4) — by when, printed (issue #22 (9))
        assert card["next_inspection"]["due"] is None
        until = reinspection_until(card["finished"]).isoformat()
        said = " ".join(pdf_text(pdf, 1).split())
        assert f"повторный осмотр до {until}" in said and f"қайта тексеру {until} дейін" in said
        render_png(pdf)
    finally:
        await rig.close()


async def test_the_international_certificate_is_issued_for_a_passing_card_only(tmp_path: Path) -> None:
    """Issue #8 (seed 003): on request, in the state language and Russian, its own number, journalled;
    a reprint keeps the number and says COPY; a failed card gets none."""
    rig = await start_rig(tmp_path / "lane")
    try:
        op = await rig.client("operator")
        formed = await run_to_card(op, VEHICLE)
        card = await op.call("GET", f"/v1/cards/{formed['card_id']}")
        pdf = tmp_path / "cert.pdf"
        pdf.write_bytes(await op.download(f"/v1/cards/{formed['card_id']}/certificate", method="POST"))
        text = " ".join(pdf_text(pdf).split())  # a long title wraps
        assert "ТЕХНИКАЛЫҚ ҚАРАП-ТЕКСЕРУДІҢ ХАЛЫҚАРАЛЫҚ СЕРТИФИКАТЫ" in text
        assert "МЕЖДУНАРОДНЫЙ СЕРТИФИКАТ ТЕХНИЧЕСКОГО ОСМОТРА" in text
        assert "123ABC02" in text and "XTA210990Y1234567" in text
        assert card["next_inspection"]["due"] in text  # valid until the next inspection
        admin = await rig.client("admin")
        issued = (await admin.call("GET", "/v1/journal?action=certificate_issued"))[0]["details"]
        assert issued["number"] in text and issued["card_id"] == card["card_id"] and not issued["copy"]
        again = tmp_path / "again.pdf"
        again.write_bytes(await op.download(f"/v1/cards/{formed['card_id']}/certificate", method="POST"))
        assert issued["number"] in pdf_text(again) and "КОПИЯ" in pdf_text(again)
        render_png(pdf)
    finally:
        await rig.close()
    rig = await start_rig(tmp_path / "weak", scenario="weak-rear")
    try:
        op = await rig.client("operator")
        failed = await run_to_card(op, VEHICLE)
        with pytest.raises(ApiError) as err:
            await op.download(f"/v1/cards/{failed['card_id']}/certificate", method="POST")
        assert err.value.code == "certificate_not_admitted" and err.value.status == 409
    finally:
        await rig.close()


async def test_the_card_shows_the_photo_of_the_brake_test_with_camera_time_and_position(
    tmp_path: Path,
) -> None:
    """R3.18: the photo is fixed in the diagnostic card — the image itself (pdfimages lists it at the
    camera's size), with its camera, time and the lane's position under it (pdftotext)."""
    from tests.rig import start_rig

    rig = await start_rig(tmp_path / "lane", cameras=("mjpeg",))
    try:
        op = await rig.client("operator")

        async def camera_ready() -> bool:
            st = await op.call("GET", "/v1/state")
            return all(c["admitted"] and c["status"] == "connected" for c in st["cameras"])

        await wait_for(camera_ready, "the camera")
        card = await run_to_card(op, {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2})
        pdf = await _fetch(op, card, tmp_path / "card.pdf")
    finally:
        await rig.close()
    first = pdf_text(pdf, 1)
    assert "Фото ТС при проверке тормозов" in first
    assert "DS-MJPEG-0000" in first and f"{rig.cfg.lane['latitude']:.6f}" in first
    # the protocol names the instruments that measured: the brake step's camera is not one (it
    # was printed "2231-0457, ?")
    protocol = pdf_text(pdf, pages(pdf) - 1) + pdf_text(pdf, pages(pdf))
    assert "2231-0457" in protocol and "?" not in protocol
    listed = subprocess.run(
        ["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True
    ).stdout
    assert any(line.split()[3:5] == ["1280", "720"] for line in listed.splitlines()[2:]), listed
    render_png(pdf)

"""Issue #22 (9), R3.6, T2: anyone can verify a printed card. ``otolane card verify`` accepts a
genuine card and names what was changed in a forged one: an edited value, a swapped photo, a card
re-signed with another key, the card inside the PDF changed — from the PDF, from a photo of the
paper, or from the QR code's text; and, given the lane's checkpoint file, that a checkpoint covers
the card. Real tools throughout: the PDF drawn by reportlab, read by poppler, the QR code by OpenCV."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from app.documents import card_pdf
from app.documents import seal as seal_mod
from app.documents.card_pdf import render_card
from app.documents.seal import make_seal, parse_seal
from app.documents.verify import verify_file
from app.storage.anchor import LaneKey, sign_heads
from tests.rig import Rig, run_to_card

FIXTURE = Path(__file__).parent.parent / "data" / "cards" / "weak-brakes-m1.json"


def _photo(shade: int) -> bytes:
    img = np.full((720, 1280, 3), (shade, 120, 200), np.uint8)
    cv2.putText(img, "123 ABC 02", (400, 380), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 6)
    return cv2.imencode(".jpg", img)[1].tobytes()


def _card(key: LaneKey) -> dict[str, Any]:
    """The weak-brakes card of a demo, its photos' bytes made here, its heads signed by ``key``."""
    card = json.loads(FIXTURE.read_text())
    for i, p in enumerate(card["photos"]):
        jpeg = _photo(40 + 80 * i)
        p |= {"jpeg": base64.b64encode(jpeg).decode(), "sha256": hashlib.sha256(jpeg).hexdigest()}
    heads = {t: tuple(h) for t, h in card["anchor"]["heads"].items()}
    card["anchor"] = sign_heads(key, heads, card["card_id"])
    return card


def _pdf(where: Path, card: dict[str, Any], key: LaneKey, carried: dict[str, Any] | None = None) -> Path:
    """The card's PDF sealed by ``key``; ``carried``: the card the PDF carries (a forger's
    printed-but-not-signed change keeps the genuine card inside)."""
    signed = carried or card
    seal = make_seal(signed, "", key.fingerprint, key.sign)
    original = card_pdf.subject
    card_pdf.subject = lambda _card, copy: original(signed, copy)  # type: ignore[assignment]
    try:
        where.write_bytes(render_card(card, seal=seal))
    finally:
        card_pdf.subject = original  # type: ignore[assignment]
    return where


def _checks(report: Any) -> dict[str, bool | None]:
    return {c.name: c.ok for c in report.checks}


@pytest.fixture
def lane_key(tmp_path: Path) -> LaneKey:
    return LaneKey.create(tmp_path / "lane-sign.key")


def test_a_genuine_card_passes_every_check(tmp_path: Path, lane_key: LaneKey) -> None:
    pdf = _pdf(tmp_path / "card.pdf", _card(lane_key), lane_key)
    report = verify_file(pdf, lane_key.public, lane_key.fingerprint)
    assert report.ok and _checks(report) == dict.fromkeys(
        ("qr", "signature", "card", "printed", "photos", "anchor"), True
    ), report.as_dict()


def test_an_edited_value_is_named_with_what_is_printed_and_what_was_signed(
    tmp_path: Path, lane_key: LaneKey
) -> None:
    genuine = _card(lane_key)
    edited = copy.deepcopy(genuine)
    item = next(i for i in edited["items"] if i["norm"]["item"] == "brake.service.specific_force")
    before = item["value"]
    item["value"] = 61.5  # the failing rear axle printed as passing
    report = verify_file(
        _pdf(tmp_path / "c.pdf", edited, lane_key, carried=genuine), lane_key.public, lane_key.fingerprint
    )
    checks = _checks(report)
    assert checks["signature"] and checks["card"] and checks["printed"] is False and not report.ok
    said = next(c.said for c in report.checks if c.name == "printed")
    assert "61.5" in said and f"{before:g}".replace(".", ",") in said.replace(".", ","), said


def test_a_swapped_photo_is_named(tmp_path: Path, lane_key: LaneKey) -> None:
    genuine = _card(lane_key)
    swapped = copy.deepcopy(genuine)
    swapped["photos"][0]["jpeg"] = base64.b64encode(_photo(200)).decode()  # another car, same record
    report = verify_file(
        _pdf(tmp_path / "c.pdf", swapped, lane_key, carried=genuine), lane_key.public, lane_key.fingerprint
    )
    assert _checks(report)["photos"] is False and _checks(report)["printed"] is True
    assert "front" in next(c.said for c in report.checks if c.name == "photos")


def test_a_card_re_signed_with_another_key_is_named(tmp_path: Path, lane_key: LaneKey) -> None:
    other = LaneKey.create(tmp_path / "other.key")
    forged = _card(other)
    forged["verdict"] = "admitted"
    report = verify_file(_pdf(tmp_path / "c.pdf", forged, other), lane_key.public, lane_key.fingerprint)
    said = next(c.said for c in report.checks if c.name == "signature")
    assert _checks(report)["signature"] is False and other.fingerprint[:16] in said, said
    # the forger claims the lane's fingerprint: the signature itself does not hold
    unsigned = seal_mod.Seal(
        forged["card_id"], str(forged["number"]), "", seal_mod.card_hash(forged), lane_key.fingerprint, ""
    )
    claimed = unsigned.signed_part() + "|" + make_seal(forged, "", lane_key.fingerprint, other.sign).signature
    claim = parse_seal(claimed)
    assert claim.key == lane_key.fingerprint and not claim.verifies(lane_key.public)


def test_the_card_inside_changed_is_named(tmp_path: Path, lane_key: LaneKey) -> None:
    genuine = _card(lane_key)
    changed = copy.deepcopy(genuine)
    changed["verdict"] = "admitted"
    seal = make_seal(genuine, "", lane_key.fingerprint, lane_key.sign)
    (tmp_path / "c.pdf").write_bytes(render_card(changed, seal=seal))  # carries the changed card
    report = verify_file(tmp_path / "c.pdf", lane_key.public, lane_key.fingerprint)
    assert _checks(report)["card"] is False and not report.ok


def _cli(*args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "card", "verify", *args, "--json"], capture_output=True, text=True
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {"stderr": done.stderr}


def test_a_photo_of_the_paper_and_the_qr_text_verify_from_the_command_line(
    tmp_path: Path, lane_key: LaneKey
) -> None:
    """A phone's photo of the printed card (here page 1 scanned at 300 dpi) and the QR code's text."""
    pdf = _pdf(tmp_path / "card.pdf", _card(lane_key), lane_key)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "300",
            "-f",
            "1",
            "-l",
            "1",
            "-png",
            "-singlefile",
            str(pdf),
            str(tmp_path / "scan"),
        ],
        check=True,
    )
    pub = str(tmp_path / "lane-sign.key.pub")
    code, said = _cli(str(tmp_path / "scan.png"), "--public-key", pub)
    assert code == 0 and said["ok"] and [c["check"] for c in said["checks"]] == ["qr", "signature"], said
    code, said = _cli("--qr", parse_seal_text(pdf), "--public-key", pub)
    assert code == 0 and said["number"] == "1"
    tampered = parse_seal_text(pdf).replace("|1|", "|2|", 1)  # another number on the same signature
    code, said = _cli("--qr", tampered, "--public-key", pub)
    assert code == 1 and not said["ok"]
    code, said = _cli(str(pdf))  # no key: nothing failed, but nothing proves who made it
    assert code == 3 and said["ok"]
    code, said = _cli(str(tmp_path / "lane-sign.key.pub"), "--public-key", pub)  # no card at all
    assert code == 2 and "not a PDF, nor a JPEG or PNG image" in said["stderr"], said


def parse_seal_text(pdf: Path) -> str:
    from app.documents.verify import qr_of_file

    text = qr_of_file(pdf)
    assert text is not None
    return text


async def test_a_card_the_lane_printed_verifies_and_a_cut_checkpoint_file_is_named(
    rig: Rig, tmp_path: Path
) -> None:
    """End to end: the daemon's PDF of a formed card, the lane's public key and its anchors.log."""
    op = await rig.client("operator")
    formed = await run_to_card(op, {"plate": "123ABC02", "category": "M1", "fuel": "petrol"})
    pdf = tmp_path / "card.pdf"
    pdf.write_bytes(await op.download(f"/v1/cards/{formed['card_id']}/pdf"))
    pub = rig.home / "keys" / "lane-sign.key.pub"
    anchors = rig.home / "anchors.log"
    code, said = _cli(str(pdf), "--public-key", str(pub), "--anchors", str(anchors))
    assert code == 0 and said["ok"] and said["card_id"] == formed["card_id"], said
    lines = anchors.read_bytes().splitlines(keepends=True)
    cut = tmp_path / "anchors-cut.log"
    cut.write_bytes(b"".join(lines[:1]))  # the file ends before the card was formed
    code, said = _cli(str(pdf), "--public-key", str(pub), "--anchors", str(cut))
    anchor = next(c for c in said["checks"] if c["check"] == "anchor")
    assert code == 1 and anchor["ok"] is False and "ends before" in anchor["said"], said


async def test_the_employees_signature_beside_the_pdf_is_checked_against_the_card(tmp_path: Path) -> None:
    """Issue #22 (3), G3: the employee's detached CMS of the card, as EIS received it, is served beside
    the PDF; `otolane card verify --cms` holds it to the printed card and to the certificate the card
    names; a CMS changed, or one of another card, is named; a card no employee signed has none."""
    from app.api.client import ApiError
    from tests.rig import KEY_PASSWORD, start_key_rig

    rig = await start_key_rig(tmp_path / "lane")
    try:
        c = await rig.client()
        await c.login_eds(str(rig.home / "usb" / "operator.p12"), KEY_PASSWORD)
        car = {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2}
        first = await run_to_card(c, car)
        second = await run_to_card(c, car | {"plate": "777ABC01"})
        pdf, cms, other = tmp_path / "card.pdf", tmp_path / "card.p7s", tmp_path / "other.p7s"
        pdf.write_bytes(await c.download(f"/v1/cards/{first['card_id']}/pdf"))
        cms.write_bytes(await c.download(f"/v1/cards/{first['card_id']}/signature"))
        other.write_bytes(await c.download(f"/v1/cards/{second['card_id']}/signature"))
        pub = str(rig.home / "keys" / "lane-sign.key.pub")
        code, said = _cli(str(pdf), "--public-key", pub, "--cms", str(cms))
        assert "checks" in said, said
        employee = next(ch for ch in said["checks"] if ch["check"] == "employee")
        assert code == 0 and employee["ok"] and "900101300123" in employee["said"], said
        code, said = _cli(str(pdf), "--public-key", pub, "--cms", str(other))
        assert (
            code == 1
            and "not over this card" in next(ch for ch in said["checks"] if ch["check"] == "employee")["said"]
        )
        broken = bytearray(cms.read_bytes())
        broken[-10] ^= 0x01
        cms.write_bytes(bytes(broken))
        code, said = _cli(str(pdf), "--public-key", pub, "--cms", str(cms))
        assert code == 1 and not said["ok"]
        op = await rig.client("operator")  # a password session: the centre's key, not an employee's
        unsigned = await run_to_card(op, car | {"plate": "555KZZ01"})
        with pytest.raises(ApiError) as err:
            await op.download(f"/v1/cards/{unsigned['card_id']}/signature")
        assert (err.value.status, err.value.code) == (404, "card_unsigned")
    finally:
        await rig.close()

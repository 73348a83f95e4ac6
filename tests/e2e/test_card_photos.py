"""A card refers to its photos by id and SHA-256; their images stay in their encrypted, chained files
and are stored once (issue #20 item 1: the photos were 94 % of every card). The photo store serves
them to paper, to a reader of the card and to EIS; a card formed before, which carries its images,
keeps working as it is. R3.9, R3.18, R3.10."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest

from app.integrity import check
from app.storage.models import Card
from tests.rig import Rig, run_to_card, start_rig, wait_for

VEHICLE = {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2}


async def _cameras_admitted(rig: Rig) -> bool:
    st = await (await rig.client("operator")).call("GET", "/v1/state")
    return bool(st["cameras"]) and all(c["admitted"] and c["status"] == "connected" for c in st["cameras"])


def _sealed(rig: Rig, row: Card) -> dict[str, Any]:
    assert rig.daemon.lane is not None
    return rig.daemon.lane.keyring.open_json(row.sealed, f"cards:{row.card_id}")


async def _at_eis(rig: Rig, card_id: str) -> bool:
    return bool(rig.eis.db.execute("SELECT COUNT(*) FROM cards WHERE card_id=?", (card_id,)).fetchone()[0])


def _pdf_has_an_image(pdf: bytes, tmp: Path) -> bool:
    (tmp / "card.pdf").write_bytes(pdf)
    out = subprocess.run(
        ["pdfimages", "-list", str(tmp / "card.pdf")], capture_output=True, text=True, check=True
    )
    return any(" image " in line for line in out.stdout.splitlines()[2:])


async def test_a_card_names_its_photos_and_every_reader_gets_their_images(tmp_path: Path) -> None:
    rig = await start_rig(tmp_path / "lane", cameras=("mjpeg",))
    try:
        await wait_for(lambda: _cameras_admitted(rig), "the camera admitted")
        op = await rig.client("operator")
        card = await run_to_card(op, VEHICLE)
        row = await Card.get(card_id=card["card_id"])
        stored = _sealed(rig, row)
        (photo,) = stored["photos"]
        assert "jpeg" not in photo and photo["photo_id"] and len(photo["sha256"]) == 64
        assert len(row.sealed) < 40_000  # the card alone: its photos are not copied into it
        # a reader of the card gets the image, the one the card names
        read = await op.call("GET", f"/v1/cards/{card['card_id']}")
        jpeg = base64.b64decode(read["photos"][0]["jpeg"])
        assert hashlib.sha256(jpeg).hexdigest() == photo["sha256"]
        # on paper, with the photo
        pdf = await op.download(f"/v1/cards/{card['card_id']}/pdf")
        assert _pdf_has_an_image(pdf, tmp_path)
        # EIS gets the image before the card, from the photo's file
        await wait_for(lambda: _at_eis(rig, card["card_id"]), "the card at EIS")
        (got,) = rig.eis.db.execute(
            "SELECT jpeg FROM photos WHERE photo_id=?", (photo["photo_id"],)
        ).fetchone()
        assert hashlib.sha256(got).hexdigest() == photo["sha256"]
        assert rig.daemon.lane is not None
        report = await check(rig.cfg, rig.daemon.lane.store)
        assert report["ok"], report["problems"]
    finally:
        await rig.close()


async def test_a_card_formed_with_its_images_inside_keeps_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lane upgraded from the code that copied the images into each card: its cards are never
    rewritten (they are chained and signed); each still renders, reaches EIS from its own copy, and
    passes the integrity check."""
    rig = await start_rig(tmp_path / "lane", cameras=("mjpeg",))
    try:
        await wait_for(lambda: _cameras_admitted(rig), "the camera admitted")
        lane = rig.daemon.lane
        assert lane is not None
        store = lane.cameras.photos
        copy_in = lane.cameras.photos_for_card

        async def as_formed_before(inspection_id: str, trigger: str | None) -> list[dict[str, Any]]:
            refs = await copy_in(inspection_id, trigger)
            return (await store.with_images({"photos": refs}))["photos"]

        async def no_store(photo_id: str, sha256: str) -> bytes:
            raise AssertionError("an old card's images come from the card")

        monkeypatch.setattr(lane.cameras, "photos_for_card", as_formed_before)
        monkeypatch.setattr(lane.outbox, "photo_image", no_store)
        op = await rig.client("operator")
        card = await run_to_card(op, VEHICLE)
        old = _sealed(rig, await Card.get(card_id=card["card_id"]))
        assert "jpeg" in old["photos"][0]
        pdf = await op.download(f"/v1/cards/{card['card_id']}/pdf")
        assert _pdf_has_an_image(pdf, tmp_path)
        await wait_for(lambda: _at_eis(rig, card["card_id"]), "the old card at EIS")
        report = await check(rig.cfg, lane.store)
        assert report["ok"], report["problems"]
    finally:
        await rig.close()

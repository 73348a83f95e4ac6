"""The card's document catalogs and renderer (issue #8; R3.6 the card in Kazakh and Russian)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.documents import card_pdf, paper
from app.domain.norms import ITEMS
from app.errors import OtolaneError
from tests.rig import sample_card


def _keys(d: dict, prefix: str = "") -> set[str]:  # type: ignore[type-arg]
    out: set[str] = set()
    for k, v in d.items():
        out |= _keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k}
    return out


def test_kazakh_and_russian_documents_have_the_same_keys() -> None:
    assert _keys(card_pdf.catalog("kk")) == _keys(card_pdf.catalog("ru"))


def test_every_norm_item_is_named_in_both_languages() -> None:
    for lang in card_pdf.LANGS:
        assert set(ITEMS) <= set(card_pdf.catalog(lang)["item"]), lang


def _card(**over: object) -> dict:  # type: ignore[type-arg]
    item = {
        "id": "brake.imbalance.axle1",
        "axle": 1,
        "value": 31.0,
        "passed": False,
        "deviation": 11.0,
        "norm": {"item": "brake.service.imbalance", "unit": "%", "text": "≤ 20 %", "status": "UNVERIFIED: x"},
    }
    return sample_card(
        items=[item],
        failures=[item],
        verdict="not_admitted",
        number=5,
        lane={"name": "lane-1", "centre": "ТКО"},
        vehicle={"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2},
    ) | dict(over)


def test_the_same_card_gives_the_same_bytes() -> None:
    """A reprint differs from the first print only by its COPY mark: nothing in the PDF is the time
    of printing, so the journal's hash of an issued PDF can be checked again."""
    card = _card()
    assert card_pdf.render_card(card) == card_pdf.render_card(card)
    assert card_pdf.render_card(card) != card_pdf.render_card(card, copy=True)


def test_an_item_is_named_with_its_axle_in_each_language() -> None:
    item = _card()["items"][0]
    assert card_pdf.item_title(item, "kk").startswith("1-білік")
    assert card_pdf.item_title(item, "ru").startswith("Ось 1")


def test_a_missing_font_is_a_clear_error_naming_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    card_pdf.fonts.cache_clear()
    monkeypatch.setattr(paper, "FONT_DIRS", (Path("/nonexistent"),))
    try:
        with pytest.raises(OtolaneError) as exc:
            card_pdf.render_card(_card())
        assert exc.value.code == "font_missing" and exc.value.params["package"] == "fonts-dejavu-core"
    finally:
        card_pdf.fonts.cache_clear()

"""The international certificate of technical inspection (the state service's rules: issued on request,
in the state language and Russian, on paper). Drawn from a stored passing card and the number the
daemon gave it — nothing here decides whether one may be issued."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer

from app.documents.paper import (
    LANGS,
    _esc,
    _grid,
    _p,
    _styles,
    _two,
    _when,
    both,
    document,
    fonts,
    marks_painter,
    text,
)


def render_certificate(card: dict[str, Any], number: str, valid_until: str, *, copy: bool = False) -> bytes:
    fonts()
    st = _styles()
    v = card["vehicle"]
    story: list[Any] = [
        _p(
            f"{_esc(text('kk', 'certificate:title'))}<br/>{_esc(text('ru', 'certificate:title'))}",
            st["title"],
        ),
        Spacer(1, 3 * mm),
        _p(f"{_esc(both('certificate:number'))} <b>{_esc(number)}</b>", st["h"]),
        Spacer(1, 3 * mm),
    ]
    rows: list[list[Paragraph]] = [
        [_two("vehicle:plate", st["small"]), _p(_esc(v["plate"]), st["bold"])],
        [_two("vehicle:vin", st["small"]), _p(_esc(v.get("vin") or "—"), st["base"])],
        [_two("vehicle:make_model", st["small"]), _p(_esc(v.get("make_model") or "—"), st["base"])],
        [_two("vehicle:category", st["small"]), _p(_esc(v["category"]), st["base"])],
        [_two("vehicle:year", st["small"]), _p(_esc(v.get("year") or "—"), st["base"])],
        [_two("certificate:inspected", st["small"]), _p(_esc(_when(card["finished"])[:10]), st["base"])],
        [_two("certificate:valid", st["small"]), _p(f"<b>{_esc(valid_until)}</b>", st["base"])],
        [
            _two("certificate:card", st["small"]),
            _p(_esc(f"№ {card['number']} · {card['card_id']}"), st["base"]),
        ],
        [_two("card:centre", st["small"]), _p(_esc(card["lane"]["centre"]), st["base"])],
    ]
    story += [_grid(rows, [60 * mm, 120 * mm], header=False), Spacer(1, 5 * mm)]
    story.append(_p("<br/>".join(_esc(text(lang, "certificate:result")) for lang in LANGS), st["h"]))
    story.append(Spacer(1, 3 * mm))
    story.append(_p("<br/>".join(_esc(text(lang, "certificate:basis")) for lang in LANGS), st["small"]))
    story.append(Spacer(1, 15 * mm))
    story.append(_p(f"{_esc(both('certificate:issued'))}: ______________________   "
                    f"{_esc(both('certificate:signature'))}: ______________", st["base"]))  # fmt: skip
    buf = io.BytesIO()
    doc = document(buf, f"{text('ru', 'certificate:title')} {number}")
    page = marks_painter(card, copy, f"{number} · {card['card_id']}")
    doc.build(story, onFirstPage=page, onLaterPages=page)
    return buf.getvalue()

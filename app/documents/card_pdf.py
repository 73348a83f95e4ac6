"""The diagnostic card as PDF (R3.6, R3.8): Kazakh and Russian side by side, drawn from the stored
card only — nothing here computes a verdict or a value, it prints what the card holds.

Sheets: (1) the card — centre and lane, vehicle, every item with value, norm and verdict, the
overall verdict, next inspection, operator, a QR code with the card number and the card's hash;
(2) the measurement protocol — every value each step stored and the instruments (model, serial,
verification); (3) the failures sheet — every failed item with its deviation, present exactly when
something failed. A training card says so across every page; a reprint says COPY.

The font is DejaVu Sans (Debian ``fonts-dejavu-core``): it has every Kazakh letter
(ә ғ қ ң ө ұ ү һ і). Output is reproducible: the same card gives the same bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import tomllib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Image, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from app.domain.periodicity import KZ_TIME
from app.errors import OtolaneError

LANGS = ("kk", "ru")
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
_CATALOG_DIR = Path(__file__).with_name("i18n")


@cache
def catalog(lang: str) -> dict[str, Any]:
    return tomllib.loads((_CATALOG_DIR / f"{lang}.toml").read_text(encoding="utf-8"))


def text(lang: str, key: str, **params: Any) -> str:
    section, _, name = key.partition(":")
    value = catalog(lang)[section][name]
    return str(value).format(**params) if params else str(value)


def both(key: str, sep: str = " / ", **params: Any) -> str:
    """The Kazakh and the Russian text of one key, state language first."""
    return sep.join(text(lang, key, **params) for lang in LANGS)


@cache
def fonts() -> None:
    for d in FONT_DIRS:
        regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdfmetrics.registerFont(TTFont(FONT, str(regular)))
            pdfmetrics.registerFont(TTFont(FONT_BOLD, str(bold)))
            return
    raise OtolaneError(
        "font_missing",
        "the card font DejaVu Sans is not installed (Debian package fonts-dejavu-core)",
        package="fonts-dejavu-core",
    )


def card_hash(card: dict[str, Any]) -> str:
    """SHA-256 of the card as stored (canonical JSON): what the QR code and the footer carry."""
    canon = json.dumps(card, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=8.5, leading=10.5)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7, leading=8.5),
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=13, leading=16),
        "h": ParagraphStyle("h", parent=base, fontName=FONT_BOLD, fontSize=10, leading=13, spaceBefore=4),
        "bold": ParagraphStyle("bold", parent=base, fontName=FONT_BOLD),
        "fail": ParagraphStyle("fail", parent=base, fontName=FONT_BOLD, textColor=colors.HexColor("#b00020")),
    }


def _esc(s: Any) -> str:
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _when(iso: str) -> str:
    """A card's time (ISO, UTC) as people in Kazakhstan read it: their day and minute, UTC+5."""
    try:
        moment = dt.datetime.fromisoformat(iso).astimezone(KZ_TIME)
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M") + " (UTC+5)"


def _lines(key: str) -> str:
    """Kazakh over Russian in one paragraph, each escaped (the line break is markup, the text is not)."""
    return "<br/>".join(_esc(text(lang, key)) for lang in LANGS)


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return _esc(v)


def item_title(item: dict[str, Any], lang: str) -> str:
    """The item's name in one language, with its axle, side or glass."""
    params = {"axle": item.get("axle", "")}
    if "side" in item:
        params["side"] = text(lang, f"side:{item['side']}")
    if "glass" in item:
        params["glass"] = catalog(lang)["glass"].get(item["glass"], item["glass"])
    template = catalog(lang)["item"].get(item["norm"]["item"], item["id"])
    return str(template).format(**params)


def _visual(item: dict[str, Any]) -> bool:
    return item["norm"].get("kind") == "visual"


def _norm_text(item: dict[str, Any]) -> str:
    norm = item["norm"]
    star = "" if not str(norm.get("status", "")).startswith("UNVERIFIED") else " *"
    text_ = _lines("items:no_defect") if _visual(item) else _esc(norm["text"])
    return text_ + star


def _value_cell(item: dict[str, Any], st: dict[str, ParagraphStyle]) -> Paragraph:
    """A measured value with its unit, or — for a visual check — what the operator found."""
    if _visual(item):
        return _two("items:defect" if item["value"] else "items:no_defect", st["base"])
    return _p(f"{_num(item['value'])} {_esc(item['norm']['unit'])}", st["base"])


def _grid(data: list[list[Any]], widths: list[float], header: bool = True) -> Table:
    t = Table(data, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")))
    t.setStyle(TableStyle(style))
    return t


def _head(st: dict[str, ParagraphStyle], *keys: str) -> list[Paragraph]:
    """A table's header row: each column named in both languages."""
    return [_two(k, st["bold"]) for k in keys]


def _p(s: str, st: ParagraphStyle) -> Paragraph:
    return Paragraph(s, st)


def _two(key: str, st: ParagraphStyle, **params: Any) -> Paragraph:
    """kk over ru in one cell."""
    return _p("<br/>".join(_esc(text(lang, key, **params)) for lang in LANGS), st)


def _qr(payload: str, size: float) -> Drawing:
    w = QrCodeWidget(payload, barLevel="M")
    x0, y0, x1, y1 = w.getBounds()
    d = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    d.add(w)
    return d


def _next_text(nxt: dict[str, Any] | None) -> str:
    if not nxt:
        return _esc(both("card:next_none"))
    if not nxt.get("due"):
        return _esc(both("card:next_reinspection"))
    star = " *" if str(nxt.get("status", "")).startswith("UNVERIFIED") else ""
    return f"<b>{_esc(nxt['due'])}</b>{star}"


def _card_sheet(card: dict[str, Any], st: dict[str, ParagraphStyle], digest: str) -> list[Any]:
    v = card["vehicle"]
    out: list[Any] = []
    head = [
        _p(f"{_esc(text('kk', 'card:title'))}<br/>{_esc(text('ru', 'card:title'))}", st["title"]),
        _p(_esc(text("kk", "card:number", number=card["number"])), st["title"]),
        _qr(f"{card['number']}|{card['card_id']}|sha256:{digest}", 26 * mm),
    ]
    t = Table([head], colWidths=[105 * mm, 45 * mm, 30 * mm])
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    out += [t, Spacer(1, 3 * mm)]
    lane = card["lane"]
    rows = [
        [_two("card:centre", st["small"]), _p(_esc(lane["centre"]), st["base"])],
        [_two("card:lane", st["small"]), _p(_esc(lane["name"]), st["base"])],
        [_two("card:started", st["small"]), _p(_esc(_when(card["started"])), st["base"])],
        [_two("card:finished", st["small"]), _p(_esc(_when(card["finished"])), st["base"])],
        [_two("card:duration", st["small"]), _p(f"{round(card['duration_s'] / 60, 1):g} min", st["base"])],
        [_two("card:operator", st["small"]), _p(_esc(card["inspector"]["username"]), st["base"])],
    ]
    first = card.get("reinspection_of")
    if first:
        rows.append(
            [
                _two("card:reinspection", st["small"]),
                _p(_esc(f"№ {first['number']} · {first['card_id']}"), st["bold"]),
            ]
        )
    out += [_grid(rows, [50 * mm, 130 * mm], header=False), Spacer(1, 2 * mm)]
    out.append(_p(_esc(both("vehicle:heading")), st["h"]))
    use = str(v.get("use", "private"))
    fuel = " / ".join(str(catalog(lang)["fuel"].get(v["fuel"], v["fuel"])) for lang in LANGS)
    vrows = [
        [_two("vehicle:plate", st["small"]), _p(_esc(v["plate"]), st["bold"])],
        [_two("vehicle:vin", st["small"]), _p(_esc(v.get("vin") or "—"), st["base"])],
        [_two("vehicle:make_model", st["small"]), _p(_esc(v.get("make_model") or "—"), st["base"])],
        [_two("vehicle:category", st["small"]), _p(_esc(v["category"]), st["base"])],
        [_two("vehicle:year", st["small"]), _p(_esc(v.get("year") or "—"), st["base"])],
        [_two("vehicle:fuel", st["small"]), _p(_esc(fuel), st["base"])],
        [_two("vehicle:axles", st["small"]), _p(_esc(v["axles"]), st["base"])],
        [
            _two("vehicle:use", st["small"]),
            _p(_esc(" / ".join(str(catalog(lang)["use"].get(use, use)) for lang in LANGS)), st["base"]),
        ],
    ]
    out += [_grid(vrows, [50 * mm, 130 * mm], header=False), Spacer(1, 2 * mm)]
    out += _photos(card.get("photos", []), st)
    out.append(_p(_esc(both("items:heading")), st["h"]))
    rows = [_head(st, "items:item", "items:value", "items:norm", "items:result")]
    for item in card["items"]:
        title = "<br/>".join(_esc(item_title(item, lang)) for lang in LANGS)
        if item.get("carried"):  # not measured again: as the first card found it
            title += "<br/>" + _esc(both("card:carried"))
        verdict = _two(
            "items:pass" if item["passed"] else "items:fail", st["base" if item["passed"] else "fail"]
        )
        rows.append([_p(title, st["base"]), _value_cell(item, st), _p(_norm_text(item), st["base"]), verdict])
    out += [_grid(rows, [92 * mm, 28 * mm, 32 * mm, 28 * mm]), Spacer(1, 3 * mm)]
    verdict_st = (
        st["title"]
        if card["verdict"] == "admitted"
        else ParagraphStyle("vf", parent=st["title"], textColor=colors.HexColor("#b00020"))
    )
    out.append(_two("card:verdict", st["h"]))
    out.append(_two(f"card:{card['verdict']}", verdict_st))
    nxt = card.get("next_inspection")
    out.append(Spacer(1, 2 * mm))
    out.append(
        _grid(
            [
                [
                    _two("card:next", st["small"]),
                    _p(_next_text(nxt), st["base"]),
                ],
                [_two("card:norms", st["small"]), _p(_esc(card.get("norms_version", "")), st["base"])],
                [_two("card:hash", st["small"]), _p(_esc(digest), st["small"])],
            ],
            [50 * mm, 130 * mm],
            header=False,
        )
    )
    nxt_status = str((nxt or {}).get("status", ""))
    if nxt_status.startswith("UNVERIFIED") or any(
        str(i["norm"].get("status", "")).startswith("UNVERIFIED") for i in card["items"]
    ):
        out += [Spacer(1, 1 * mm), _p(_lines("card:unverified"), st["small"])]
    return out


def _photos(photos: list[dict[str, Any]], st: dict[str, ParagraphStyle]) -> list[Any]:
    """The vehicle's photos of the brake test (R3.18: fixed in the card), side by side, each with its
    camera, time and position."""
    if not photos:
        return []
    width = 88 * mm
    cells, captions = [], []
    for ph in photos[:2]:
        img = Image(io.BytesIO(base64.b64decode(ph["jpeg"])), width, width * ph["height"] / ph["width"])
        cells.append(img)
        when = dt.datetime.fromtimestamp(ph["taken"], KZ_TIME).strftime("%Y-%m-%d %H:%M:%S") + " (UTC+5)"
        cam = ph["camera"]
        captions.append(
            _p(
                _esc(f"{cam.get('id', '')} · {cam.get('make', '')} {cam.get('model', '')} · {cam['serial']}")
                + "<br/>"
                + _esc(f"{when} · {ph['latitude']:.6f}, {ph['longitude']:.6f}"),
                st["small"],
            )
        )
    t = Table([cells, captions], colWidths=[width + 2 * mm] * len(cells))
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return [_p(_esc(both("vehicle:photo")), st["h"]), t, Spacer(1, 2 * mm)]


def _sheet_head(card: dict[str, Any], st: dict[str, ParagraphStyle], title: str) -> list[Paragraph]:
    """A later sheet's head: its title in both languages, the card's number and the plate."""
    return [
        _p(f"{_esc(text('kk', title))}<br/>{_esc(text('ru', title))}", st["title"]),
        _p(
            _esc(text("kk", "card:number", number=card["number"])) + f" · {_esc(card['vehicle']['plate'])}",
            st["bold"],
        ),
    ]


def _protocol_sheet(card: dict[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    out: list[Any] = [
        *_sheet_head(card, st, "protocol:title"),
        Spacer(1, 2 * mm),
    ]
    serials: dict[str, str] = {}
    for d in card.get("devices", []):
        serials.setdefault(d["kind"], d["serial"])
    rows = [_head(st, "protocol:step", "protocol:channel", "protocol:value", "protocol:serial")]
    for entry in card.get("protocol", []):
        serial = ", ".join(serials.get(k, "?") for k in entry.get("devices", ()))
        for ch, value in entry["values"].items():
            rows.append(
                [
                    _p(_esc(entry["step"]), st["base"]),
                    _p(_esc(ch), st["base"]),
                    _p(_num(value), st["base"]),
                    _p(_esc(serial), st["small"]),
                ]
            )
    brake = serials.get("brake", "?")
    for m in card.get("measurements", []):
        for key in ("force_left_kn", "force_right_kn", "wheel_load_left_kg", "wheel_load_right_kg"):
            rows.append(
                [
                    _p(f"brakes_axle_{m['axle']}", st["base"]),
                    _p(key, st["base"]),
                    _p(_num(m[key]), st["base"]),
                    _p(_esc(brake), st["small"]),
                ]
            )
    out += [_grid(rows, [45 * mm, 70 * mm, 30 * mm, 35 * mm]), Spacer(1, 2 * mm)]
    if card.get("unjudged"):
        rows = [[_two("items:item", st["bold"]), _two("protocol:value", st["bold"])]]
        for u in card["unjudged"]:
            rows.append(
                [
                    _p(f"{_esc(u['id'])} — {_esc(both('protocol:no_norm'))}", st["base"]),
                    _p(_num(u["value"]), st["base"]),
                ]
            )
        out += [_grid(rows, [135 * mm, 45 * mm]), Spacer(1, 2 * mm)]
    out.append(_p(_esc(both("protocol:devices")), st["h"]))
    rows = [_head(st, "protocol:device", "protocol:model", "protocol:serial", "protocol:verified")]
    for d in card.get("devices", []):
        rows.append(
            [
                _p(_esc(f"{d['id']} ({d['kind']})"), st["base"]),
                _p(_esc(d["model"]), st["base"]),
                _p(_esc(d["serial"]), st["base"]),
                _p(_esc(d["verified_until"]), st["base"]),
            ]
        )
    out += [_grid(rows, [45 * mm, 60 * mm, 40 * mm, 35 * mm]), Spacer(1, 2 * mm)]
    out.append(_p(_esc(both("protocol:readings", n=card.get("readings", 0))), st["small"]))
    return out


def _failures_sheet(card: dict[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    out: list[Any] = [
        *_sheet_head(card, st, "failures:title"),
        _p(_lines("failures:intro"), st["small"]),
        Spacer(1, 2 * mm),
    ]
    rows = [_head(st, "items:item", "items:value", "items:norm", "failures:deviation")]
    for item in card["failures"]:
        title = "<br/>".join(_esc(item_title(item, lang)) for lang in LANGS)
        unit = _esc(item["norm"]["unit"])
        dev = (
            _two("items:defect", st["fail"])
            if _visual(item)
            else _p(f"{item['deviation']:+g} {unit}", st["fail"])
        )
        rows.append([_p(title, st["base"]), _value_cell(item, st), _p(_norm_text(item), st["base"]), dev])
    out.append(_grid(rows, [92 * mm, 28 * mm, 32 * mm, 28 * mm]))
    return out


def document(buf: io.BytesIO, title: str) -> SimpleDocTemplate:
    """An A4 document of the lane; reproducible (no creation time inside: same input, same bytes)."""
    return SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=title,
        author="otolane",
        invariant=True,
    )


def marks_painter(card: dict[str, Any], copy: bool, footer: str) -> Callable[[Canvas, Any], None]:
    """What every page of a document carries: the footer (what it is, the page), and TRAINING and
    COPY in words at the top and across the page, where no one can cut them off."""
    marks = [both("card:training")] if card.get("training") else []
    if copy:
        marks.append(both("card:copy"))

    def page(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawString(15 * mm, 8 * mm, f"otolane · {footer} · {both('card:page', page=doc.page)}")
        red = colors.Color(0.7, 0.05, 0.1)
        for i, mark in enumerate(marks):
            canvas.setFillColor(red)
            canvas.setFont(FONT_BOLD, 9)
            canvas.drawCentredString(A4[0] / 2, A4[1] - 7 * mm - i * 4 * mm, mark)
            size = min(28.0, 170 * mm / pdfmetrics.stringWidth(mark, FONT_BOLD, 1))
            canvas.setFillColor(colors.Color(0.7, 0.05, 0.1, alpha=0.25))
            canvas.setFont(FONT_BOLD, size)
            canvas.saveState()
            canvas.translate(A4[0] / 2, A4[1] / 2 - i * 45 * mm)
            canvas.rotate(35)
            canvas.drawCentredString(0, 0, mark)
            canvas.restoreState()
        canvas.restoreState()

    return page


def render_card(card: dict[str, Any], *, copy: bool = False) -> bytes:
    """The card's PDF. ``copy``: a reprint, marked as such on every page."""
    fonts()
    st = _styles()
    digest = card_hash(card)
    page = marks_painter(card, copy, str(card["card_id"]))

    buf = io.BytesIO()
    doc = document(buf, f"{text('kk', 'card:title')} / {text('ru', 'card:title')} {card['number']}")
    story = _card_sheet(card, st, digest)
    story += [PageBreak(), *_protocol_sheet(card, st)]
    if card.get("failures"):
        story += [PageBreak(), *_failures_sheet(card, st)]
    doc.build(story, onFirstPage=page, onLaterPages=page)
    return buf.getvalue()

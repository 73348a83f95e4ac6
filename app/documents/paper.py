"""What every document of the lane shares (the card, its sheets, the international certificate):
the Kazakh and Russian catalogs, the font, the paragraph styles, small table and text helpers, the A4
document and the marks every page carries (TRAINING, COPY, the footer). Reproducible output."""

from __future__ import annotations

import datetime as dt
import io
import tomllib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from reportlab.graphics.barcode.qr import QrCode
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

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


#: what failed, on every sheet
RED = "#b00020"


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=8.5, leading=10.5)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7, leading=8.5),
        "tiny": ParagraphStyle("tiny", parent=base, fontSize=6, leading=7),
        "cell": ParagraphStyle("cell", parent=base, fontSize=6.4, leading=7.0),
        "tiny_bold": ParagraphStyle("tiny_bold", parent=base, fontName=FONT_BOLD, fontSize=6.5, leading=7.5),
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=13, leading=16),
        "h": ParagraphStyle("h", parent=base, fontName=FONT_BOLD, fontSize=9, leading=11, spaceBefore=2),
        "bold": ParagraphStyle("bold", parent=base, fontName=FONT_BOLD),
        "fail": ParagraphStyle(
            "fail",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=7,
            leading=8.5,
            textColor=colors.HexColor("#b00020"),
        ),
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


def _qr(payload: str, size: float) -> QrCode:
    """The QR code drawn straight on the page, each row's dark run one rectangle: the widget way
    encoded the payload twice and built a shape object per run — 45 % of a card's rendering."""
    return QrCode(payload, width=size, height=size, qrLevel="M")


def document(buf: io.BytesIO, title: str, subject: str = "") -> SimpleDocTemplate:
    """An A4 document of the lane; reproducible (no creation time inside: same input, same bytes).
    ``subject``: the PDF's Subject (a card's carries the signed card, ``app/documents/seal.py``)."""
    return SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=11 * mm,
        bottomMargin=12 * mm,
        title=title,
        subject=subject,
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

"""The diagnostic card as PDF (R3.6, R3.8): Kazakh and Russian side by side, drawn from the stored
card only — nothing here computes a verdict or a value, it prints what the card holds.

Sheets, in the order of Order 532 p. 3(8): (1) the card, on one sheet for a car — centre and lane,
vehicle, the brake test's photos, every item with value, norm and verdict (the visual checks found
without defect in one row), the overall verdict, next inspection, operator, a QR code with the card
number and the card's hash; (2) the failures sheet — every failed item with its deviation, present
exactly when something failed; (3) the measurement protocol — every value each step stored and the
instruments (model, serial, verification). A training card says so across every page; a reprint says COPY.

The font is DejaVu Sans (Debian ``fonts-dejavu-core``): it has every Kazakh letter
(ә ғ қ ң ө ұ ү һ і). Output is reproducible: the same card gives the same bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Callable
from typing import Any

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Image,
    KeepInFrame,
    PageBreak,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from app.documents.paper import (
    LANGS,
    RED,
    _esc,
    _grid,
    _head,
    _lines,
    _num,
    _p,
    _qr,
    _styles,
    _two,
    _when,
    both,
    catalog,
    document,
    fonts,
    marks_painter,
    text,
)
from app.documents.seal import Seal, card_hash, subject
from app.domain.periodicity import KZ_TIME
from app.domain.reinspection import REINSPECTION_DAYS, reinspection_until
from drivers.brake.profiles import LOAD_LEFT, LOAD_RIGHT, MAX_LEFT, MAX_RIGHT


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
    said, unit = str(norm["text"]), str(norm.get("unit", ""))
    if unit and said.endswith(unit):  # the norm's unit as written here
        said = said[: -len(unit)] + unit_text(unit)
    text_ = _lines("items:no_defect") if _visual(item) else _esc(said)
    return text_ + star


def _value_cell(
    item: dict[str, Any], st: dict[str, ParagraphStyle], style: ParagraphStyle | None = None
) -> Paragraph:
    """A measured value with its unit, or — for a visual check — what the operator found."""
    style = style or st["base"]
    if _visual(item):
        return _two("items:defect" if item["value"] else "items:no_defect", style)
    return _p(f"{_num(item['value'])} {_esc(unit_text(item['norm']['unit']))}", style)


def _next_text(card: dict[str, Any]) -> str:
    nxt = card.get("next_inspection")
    if not nxt:
        return _esc(both("card:next_none"))
    if not nxt.get("due"):  # a failed card: by when the vehicle may come back for its failures
        until = reinspection_until(str(card["finished"])).isoformat()
        return _esc(both("card:next_reinspection", until=until, days=REINSPECTION_DAYS))
    star = " *" if str(nxt.get("status", "")).startswith("UNVERIFIED") else ""
    return f"<b>{_esc(nxt['due'])}</b>{star}"


def _pairs(rows: list[tuple[str, Any, Any, Any]], st: dict[str, ParagraphStyle]) -> Table:
    """Facts two to a row (label, value, label, value): the card's head in a few lines."""
    data = [[_two(k1, st["tiny"]), v1, _two(k2, st["tiny"]) if k2 else "", v2] for k1, v1, k2, v2 in rows]
    t = Table(data, colWidths=[38 * mm, 52 * mm, 38 * mm, 52 * mm])
    t.setStyle(TableStyle([*_TIGHT, ("GRID", (0, 0), (-1, -1), 0.4, colors.grey)]))
    return t


_PADS = ("LEFTPADDING", "RIGHTPADDING", "TOPPADDING", "BOTTOMPADDING")
#: the card's own tables: one sheet holds a car's card (Order 532 p. 3(8): the failures on the next)
_TIGHT = [
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 2),
    ("RIGHTPADDING", (0, 0), (-1, -1), 2),
    ("TOPPADDING", (0, 0), (-1, -1), 0.5),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2),
]


def _card_sheet(card: dict[str, Any], st: dict[str, ParagraphStyle], seal: Seal) -> list[Any]:
    v = card["vehicle"]
    out: list[Any] = []
    head = [
        _p(f"{_esc(text('kk', 'card:title'))}<br/>{_esc(text('ru', 'card:title'))}", st["title"]),
        _p(_esc(text("kk", "card:number", number=card["number"])), st["title"]),
        _qr(seal.payload(), 20 * mm),
    ]
    t = Table([head], colWidths=[110 * mm, 44 * mm, 26 * mm])
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 0), (-1, -1), 0)]))
    out += [t, Spacer(1, 1 * mm)]
    lane, val = card["lane"], st["base"]
    rows: list[tuple[str, Any, Any, Any]] = [
        ("card:centre", _p(_esc(lane["centre"]), val), "", ""),  # across the row: its name is long
        (
            "card:lane",
            _p(_esc(lane["name"]), val),
            "card:duration",
            _p(f"{round(card['duration_s'] / 60, 1):g} {unit_text('min')}", val),
        ),
        (
            "card:started",
            _p(_esc(_when(card["started"])), val),
            "card:finished",
            _p(_esc(_when(card["finished"])), val),
        ),
    ]
    first = card.get("reinspection_of")
    if first:
        rows.append(
            ("card:reinspection", _p(_esc(f"№ {first['number']} · {first['card_id']}"), st["bold"]), "", "")
        )
    t = _pairs(rows, st)
    t.setStyle(TableStyle([("SPAN", (1, 0), (3, 0))]))
    out.append(t)
    use = str(v.get("use", "private"))
    fuel = " / ".join(str(catalog(lang)["fuel"].get(v["fuel"], v["fuel"])) for lang in LANGS)
    uses = " / ".join(str(catalog(lang)["use"].get(use, use)) for lang in LANGS)
    facts = [
        ("vehicle:plate", _p(_esc(v["plate"]), st["bold"])),
        ("vehicle:vin", _p(_esc(v.get("vin") or "—"), val)),
        ("vehicle:make_model", _p(_esc(v.get("make_model") or "—"), val)),
        ("vehicle:category", _p(_esc(v["category"]), val)),
        ("vehicle:year", _p(_esc(v.get("year") or "—"), val)),
        ("vehicle:fuel", _p(_esc(fuel), val)),
        ("vehicle:axles", _p(_esc(v["axles"]), val)),
        ("vehicle:use", _p(_esc(uses), val)),
    ]
    vt = Table([[_two(k, st["tiny"]), value] for k, value in facts], colWidths=[30 * mm, 52 * mm])
    vt.setStyle(TableStyle([*_TIGHT, ("GRID", (0, 0), (-1, -1), 0.4, colors.grey)]))
    # the vehicle's facts and, beside them, its photos of the brake test
    side = Table([[vt, _photos(card.get("photos", []), st)]], colWidths=[84 * mm, 96 * mm])
    side.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), *((k, (0, 0), (-1, -1), 0) for k in _PADS)])
    )
    out += [Spacer(1, 1 * mm), side]
    out += _items(card, st)
    verdict_st = ParagraphStyle(
        "verdict", parent=st["bold"], fontSize=9, leading=11, textColor=colors.HexColor(RED)
    )
    if card["verdict"] == "admitted":
        verdict_st.textColor = colors.black
    rows = [
        ("card:verdict", _p(_esc(both(f"card:{card['verdict']}")), verdict_st), "", ""),
        (
            "card:next",
            _p(_next_text(card), st["small"]),
            "card:norms",
            _p(_esc(card.get("norms_version", "")), val),
        ),
        ("card:hash", _p(_esc(seal.sha256), st["tiny"]), "", ""),
        *_signatory(card["inspector"], st),
    ]
    t = _pairs(rows, st)
    t.setStyle(TableStyle([("SPAN", (1, r), (3, r)) for r in (0, 2, 4)]))
    ending = [Spacer(1, 1 * mm), t]
    nxt_status = str((card.get("next_inspection") or {}).get("status", ""))
    if nxt_status.startswith("UNVERIFIED") or any(
        str(i["norm"].get("status", "")).startswith("UNVERIFIED") for i in card["items"]
    ):
        ending.append(_p(_esc(both("card:unverified", sep=" · ")), st["tiny"]))
    return [*out, *ending]  # one frame (render_card): the verdict never apart from its hash


def _signatory(who: dict[str, Any], st: dict[str, ParagraphStyle]) -> list[tuple[str, Any, Any, Any]]:
    """Who carried the inspection out, by name, the line for their hand, and the EDS the card was
    signed with — its owner, IIN, serial and validity — or that there was none (R3.1)."""
    name = who.get("full_name") or who["username"]
    shown = f"<b>{_esc(name)}</b>" + (f" ({_esc(who['username'])})" if who.get("full_name") else "")
    cert = who.get("certificate")
    if cert:
        facts = {
            "name": cert["common_name"],
            "iin": cert.get("iin") or "—",
            "serial": cert["serial"],
            "since": cert["not_before"][:10],
            "until": cert["not_after"][:10],
        }
        eds = "<br/>".join(_esc(text(lang, "card:eds_cert", **facts)) for lang in LANGS)
    else:
        eds = _lines("card:eds_none")
    line = _p("_" * 28, st["base"])
    return [
        ("card:signatory", _p(shown, st["base"]), "card:signature", line),
        ("card:eds", _p(eds, st["tiny"]), "", ""),
    ]


def _items(card: dict[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    """Every item with value, norm and verdict (R3.6); the visual checks found without defect in one
    row of their names — each failed one has a row of its own, as every measured item."""
    cell = st["cell"]
    rows = [[_two(k, st["tiny_bold"]) for k in ("items:item", "items:value", "items:norm", "items:result")]]
    clean_visual = [i for i in card["items"] if _visual(i) and i["passed"] and not i.get("carried")]
    for item in card["items"]:
        if item in clean_visual:
            continue
        title = "<br/>".join(_esc(item_title(item, lang)) for lang in LANGS)
        if item.get("carried"):  # not measured again: as the first card found it
            title += "<br/>" + _esc(both("card:carried"))
        verdict = _two(
            "items:pass" if item["passed"] else "items:fail", cell if item["passed"] else st["fail"]
        )
        rows.append([_p(title, cell), _value_cell(item, st, cell), _p(_norm_text(item), cell), verdict])
    if clean_visual:
        names = "<br/>".join(
            _esc(
                text(lang, "items:visual_clean") + " " + "; ".join(item_title(i, lang) for i in clean_visual)
            )
            for lang in LANGS
        )
        unverified = any(str(i["norm"].get("status", "")).startswith("UNVERIFIED") for i in clean_visual)
        # their names across the row, the verdict after them
        rows.append([_p(names + (" *" if unverified else ""), st["tiny"]), "", "", _two("items:pass", cell)])
    t = Table(rows, colWidths=[104 * mm, 26 * mm, 30 * mm, 20 * mm], repeatRows=1)
    # the items are most of the sheet: their rows tighter still, so a car's card keeps to one sheet
    style = [*_TIGHT, ("TOPPADDING", (0, 0), (-1, -1), 0.2), ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5)]
    style.append(("GRID", (0, 0), (-1, -1), 0.4, colors.grey))
    style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")))
    if clean_visual:
        style.append(("SPAN", (0, len(rows) - 1), (2, len(rows) - 1)))
    t.setStyle(TableStyle(style))
    return [Spacer(1, 1 * mm), _p(_esc(both("items:heading")), st["bold"]), t]


def _photos(photos: list[dict[str, Any]], st: dict[str, ParagraphStyle]) -> list[Any]:
    """The vehicle's photos of the brake test (R3.18: fixed in the card), side by side, each with its
    camera, time and position."""
    if not photos:
        return []
    width = 46 * mm  # two side by side, beside the vehicle's facts: the card stays on one sheet
    cells, captions = [], []
    for ph in photos[:2]:
        img = Image(io.BytesIO(base64.b64decode(ph["jpeg"])), width, width * ph["height"] / ph["width"])
        cells.append(img)
        when = dt.datetime.fromtimestamp(ph["taken"], KZ_TIME).strftime("%Y-%m-%d %H:%M:%S") + " (UTC+5)"
        cam = ph["camera"]
        captions.append(
            _p(
                _esc(f"{cam.get('id', '')} · {cam['serial']}")
                + "<br/>"
                + _esc(f"{when} · {ph['latitude']:.6f}, {ph['longitude']:.6f}"),
                st["tiny"],
            )
        )
    t = Table([cells, captions], colWidths=[width + 2 * mm] * len(cells))
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return [_p(_esc(both("vehicle:photo")), st["tiny"]), t]


def _sheet_head(card: dict[str, Any], st: dict[str, ParagraphStyle], title: str) -> list[Paragraph]:
    """A later sheet's head: its title in both languages, the card's number and the plate."""
    return [
        _p(f"{_esc(text('kk', title))}<br/>{_esc(text('ru', title))}", st["title"]),
        _p(
            _esc(text("kk", "card:number", number=card["number"])) + f" · {_esc(card['vehicle']['plate'])}",
            st["bold"],
        ),
    ]


def step_name(step: str, lang: str) -> str:
    """A step in words: "Тормоза, ось 2" for ``brakes_axle_2``; an unknown one as it is."""
    names = catalog(lang)["step"]
    for prefix in ("brakes_axle", "suspension_axle"):
        if step.startswith(prefix + "_"):
            return str(names[prefix]).format(axle=step.rsplit("_", 1)[1])
    return str(names.get(step, step))


def channel_name(channel: str, lang: str) -> str:
    """A channel in words; a lamp's from its side, beam and quantity; an unknown one as it is."""
    names = catalog(lang)["channel"]
    parts = channel.split(".")
    if len(parts) == 4 and parts[0] == "headlight":
        _, side, beam, quantity = parts
        pieces = {"side": f"side.{side}", "beam": f"beam.{beam}", "quantity": f"q.{quantity}"}
        if all(v in names for v in pieces.values()):
            return str(names["headlight"]).format(**{k: names[v] for k, v in pieces.items()})
    return str(names.get(channel, channel))


def deviation_unit(unit: str) -> str:
    """The unit of a deviation from the norm: the norm's, but percentage points for a norm in %
    (57.09 % against ≥ 59 % is 1.91 points short, not 1.91 % of 59) — issue #22 (7)."""
    return both("failures:points", sep="/") if unit == "%" else unit_text(unit)


def unit_text(unit: str) -> str:
    """A unit as written here (kk and ru write them alike): "кН", "м/км"."""
    return str(catalog("ru")["unit"].get(unit, unit))


def _lines_of(say: Callable[[str], str]) -> str:
    """Kazakh over Russian in one paragraph, from a function of the language; one line when alike."""
    said = [say(lang) for lang in LANGS]
    return _esc(said[0]) if len(set(said)) == 1 else "<br/>".join(_esc(x) for x in said)


def time_of_day(iso: str) -> str:
    """A measurement's time of day in Kazakhstan (its date is the card's)."""
    try:
        return dt.datetime.fromisoformat(iso).astimezone(KZ_TIME).strftime("%H:%M:%S")
    except ValueError:
        return ""


#: an axle's measurements (the EIS contract's field) as the brake tester's channels, with their units
_AXLE = {
    MAX_LEFT: ("force_left_kn", "kN"),
    MAX_RIGHT: ("force_right_kn", "kN"),
    LOAD_LEFT: ("wheel_load_left_kg", "kg"),
    LOAD_RIGHT: ("wheel_load_right_kg", "kg"),
}


def _protocol_entries(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's protocol. A card formed before the brake tester's values were in it has them only
    as its axles' measurements: they are given here as the brake steps' entries (with no times)."""
    entries = list(card.get("protocol", []))
    listed = {e["step"] for e in entries}
    for m in card.get("measurements", []):
        step = f"brakes_axle_{m['axle']}"
        if step not in listed:
            values = {ch: m[key] for ch, (key, _) in _AXLE.items()}
            units = {ch: unit for ch, (_, unit) in _AXLE.items()}
            entries.append({"step": step, "values": values, "units": units, "devices": ["brake"]})
    return entries


def _protocol_sheet(card: dict[str, Any], st: dict[str, ParagraphStyle]) -> list[Any]:
    out: list[Any] = [
        *_sheet_head(card, st, "protocol:title"),
        Spacer(1, 2 * mm),
    ]
    serials: dict[str, str] = {}
    for d in card.get("devices", []):
        serials.setdefault(d["kind"], d["serial"])
    cell = st["small"]
    rows = [
        [_two(k, st["bold"]) for k in ("protocol:step", "protocol:channel", "protocol:value")]
        + [_two("protocol_more:time", st["bold"]), _two("protocol:serial", st["bold"])]
    ]
    for entry in _protocol_entries(card):
        # the instruments that measured (a step's camera takes its photo, it measures nothing)
        serial = ", ".join(serials[k] for k in entry.get("devices", ()) if k in serials) or "—"
        step = _p(_lines_of(lambda lang, s=entry["step"]: step_name(s, lang)), cell)
        units, times = entry.get("units", {}), entry.get("times", {})
        for n, (ch, value) in enumerate(entry["values"].items()):
            rows.append(
                [
                    step if n == 0 else "",  # the step named once, over its values
                    _p(_lines_of(lambda lang, c=ch: channel_name(c, lang)), cell),
                    _p(f"{_num(value)} {_esc(unit_text(units.get(ch, '')))}".strip(), cell),
                    _p(_esc(time_of_day(times.get(ch, ""))), cell),
                    _p(_esc(serial), st["tiny"]),
                ]
            )
    out += [_grid(rows, [38 * mm, 74 * mm, 26 * mm, 18 * mm, 24 * mm]), Spacer(1, 2 * mm)]
    if card.get("unjudged"):
        rows = [[_two("items:item", st["bold"]), _two("protocol:value", st["bold"])]]
        for u in card["unjudged"]:
            # named as the card names its items, with why it is not judged (no row for this vehicle,
            # or — the dipped beam's aim — no tilt marked on the headlamp)
            item = {
                "id": u["id"],
                "norm": {"item": u.get("norm_item", "")},
                **({"side": u["side"]} if "side" in u else {}),
            }
            why = f"protocol:{u.get('why', 'no_norm')}"
            names = "<br/>".join(
                f"{_esc(item_title(item, lang))} — {_esc(text(lang, why))}" for lang in LANGS
            )
            unit = _esc(unit_text(str(u.get("unit", ""))))
            rows.append([_p(names, st["small"]), _p(f"{_num(u['value'])} {unit}".strip(), st["base"])])
        out += [_grid(rows, [135 * mm, 45 * mm]), Spacer(1, 2 * mm)]
    out.append(_p(_esc(both("protocol:devices")), st["h"]))
    rows = [_head(st, "protocol:device", "protocol:model", "protocol:serial", "protocol:verified")]
    for d in card.get("devices", []):
        rows.append(
            [
                _p(_lines_of(lambda lang, k=d["kind"]: str(catalog(lang)["device"].get(k, k))), st["small"]),
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
        dev = (
            _two("items:defect", st["fail"])
            if _visual(item)
            else _p(f"{item['deviation']:+g} {_esc(deviation_unit(item['norm']['unit']))}", st["fail"])
        )
        rows.append([_p(title, st["base"]), _value_cell(item, st), _p(_norm_text(item), st["base"]), dev])
    out.append(_grid(rows, [92 * mm, 28 * mm, 32 * mm, 28 * mm]))
    return out


def render_card(card: dict[str, Any], *, copy: bool = False, seal: Seal | None = None) -> bytes:
    """The card's PDF. ``copy``: a reprint, marked as such on every page; ``seal``: its signed QR
    code (``app/documents/seal.py``; without one the QR code carries no signature and no verifier
    accepts it)."""
    fonts()
    st = _styles()
    if seal is None:
        seal = Seal(str(card["card_id"]), str(card["number"]), "", card_hash(card), "", "")
    page = marks_painter(card, copy, str(card["card_id"]))

    buf = io.BytesIO()
    title = f"{text('kk', 'card:title')} / {text('ru', 'card:title')} {card['number']}"
    doc = document(buf, title, subject(card, copy))
    # the card is one sheet whatever the car (Order 532 p. 3(8): the failures are its second sheet):
    # a car with more axles or items than the sheet holds has its card drawn smaller, not spilt over
    # (a 2-axle car's verdict, hash and signatory went to a page of their own with norms/5's new row)
    pad = 12  # the frame's own padding, 6 pt a side
    story: list[Any] = [
        KeepInFrame(doc.width - pad, doc.height - pad, _card_sheet(card, st, seal), mode="shrink")
    ]
    if card.get("failures"):  # Order 532 p. 3(8): the card's second sheet
        story += [PageBreak(), *_failures_sheet(card, st)]
    story += [PageBreak(), *_protocol_sheet(card, st)]
    doc.build(story, onFirstPage=page, onLaterPages=page)
    return buf.getvalue()

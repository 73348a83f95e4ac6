"""State registration plates as the lane stores them: Latin capitals and digits, no spaces.

Kazakh plates carry Latin letters only (see ``shared/reference/norms.md``), but a plate typed on a
Russian or Kazakh keyboard layout comes in Cyrillic look-alikes (А В Е К М Н О Р С Т У Х): those
are mapped to the Latin letter they show, so ``123АВС02`` and ``123ABC02`` are one car. Any other
letter — Cyrillic with no Latin twin (Ж, Ә …), Greek, Arabic … — is refused with the character, so
two spellings of one plate can never make two vehicles.

The grammar of plate formats and region codes (:data:`FORMATS`, each with its source and status)
checks a plate typed by hand: one in no known format needs the operator's confirmation.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from app.errors import OtolaneError

MAX_LEN = 12
#: Cyrillic capitals whose printed form is a Latin capital (after upper-casing).
CYRILLIC_TWINS = str.maketrans("АВЕКМНОРСТУХ", "ABEKMHOPCTYX")
ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def normalise_plate(text: str) -> str:
    """The plate as stored, or :class:`OtolaneError` ``plate_bad`` naming what is wrong."""
    plate = unicodedata.normalize("NFKC", text).upper()
    plate = "".join(plate.split()).replace("-", "").translate(CYRILLIC_TWINS)
    if not plate:
        raise OtolaneError("plate_bad", "the plate is empty", plate=text[:40])
    if len(plate) > MAX_LEN:
        raise OtolaneError(
            "plate_bad", f"the plate is 1–{MAX_LEN} Latin letters and digits", plate=plate[:MAX_LEN] + "…"
        )
    bad = next((c for c in plate if c not in ALLOWED), None)
    if bad is not None:
        raise OtolaneError(
            "plate_char",
            f"'{bad}' cannot be on a plate: Latin letters and digits only",
            plate=plate,
            char=bad,
        )
    return plate


# --- the grammar of Kazakh plates (shared/reference/norms.md §4) ----------------------------------

SECONDARY, UNVERIFIED = "SECONDARY", "UNVERIFIED"

#: region codes of the 2012+ plates (norms.md §4.3: 01–17 SECONDARY, 18–20 from one source)
REGIONS: dict[str, str] = {
    "01": "Astana",
    "02": "Almaty",
    "03": "Akmola",
    "04": "Aktobe",
    "05": "Almaty region",
    "06": "Atyrau",
    "07": "West Kazakhstan",
    "08": "Zhambyl",
    "09": "Karaganda",
    "10": "Kostanay",
    "11": "Kyzylorda",
    "12": "Mangystau",
    "13": "Turkestan",
    "14": "Pavlodar",
    "15": "North Kazakhstan",
    "16": "East Kazakhstan",
    "17": "Shymkent",
    "18": "Abai",
    "19": "Jetisu",
    "20": "Ulytau",
}
#: region letters of the 1993 plates, still valid until worn out (norms.md §4.3, old-letter column)
OLD_REGION_LETTERS = frozenset("ZACOWDBVELHKMPNRXSTFU")
_REGION = "|".join(sorted(REGIONS))
_OLD = "[" + "".join(sorted(OLD_REGION_LETTERS)) + "]"


@dataclass(frozen=True)
class PlateFormat:
    """One format of plate, with where it comes from and how sure that is; ``shape`` (D a digit, L a
    letter, R a region-code digit, any other capital that letter itself — ``KG`` printed on a Kyrgyz
    plate) lets recognised text be fitted to it, ``prior`` is how likely the format is on a lane
    before the text is read (most cars carry Kazakh 2012+ plates). ``order``, when given, puts the
    characters of a plate read line by line (a two-line plate) in the order the plate is stored."""

    id: str
    pattern: re.Pattern[str]
    example: str
    status: str
    source: str
    shape: str  # empty: no fixed shape (the text must match as it is)
    prior: float
    country: str = "KZ"
    order: tuple[int, ...] = ()

    def region(self, plate: str) -> str | None:
        """The plate's region code (2012+) or old region letter (1993), when the format has one."""
        m = self.pattern.match(plate)
        return m.groupdict().get("region") if m else None


def format_row(
    id_: str,
    regex: str,
    example: str,
    status: str,
    source: str,
    shape: str,
    prior: float,
    country: str = "KZ",
    order: tuple[int, ...] = (),
) -> PlateFormat:
    return PlateFormat(id_, re.compile(f"^{regex}$"), example, status, source, shape, prior, country, order)


_2012, _1993, _MVD = "ST RK 986-2012/2022", "1993 standard", "MVD Order 1040"
#: letters a plate may carry where the country allows only those that read alike in Cyrillic and
#: Latin (Russia: GOST R 50577-2018; Ukraine and Belarus the same twelve plus I)
_RU = "ABEKMHOPCTYX"
_UA = "ABCEHIKMOPTX"
_BY = "ABEIKMHOPCTX"
#: Uzbekistan's region codes (Tashkent city 01, Tashkent region 10, … Karakalpakstan 95)
_UZ = "01|10|20|25|30|40|50|60|70|75|80|85|90|95"
_WIKI = "Wikipedia, Vehicle registration plates of {}"
FORMATS: tuple[PlateFormat, ...] = (
    format_row(
        "kz2012", rf"\d{{3}}[A-Z]{{3}}(?P<region>{_REGION})", "123ABC02", SECONDARY, _2012, "DDDLLLRR", 1.0
    ),
    format_row(
        "kz2012_legal",
        rf"\d{{3}}[A-Z]{{2}}(?P<region>{_REGION})",
        "123AB02",
        SECONDARY,
        _2012,
        "DDDLLRR",
        0.9,
    ),
    # the square rear plate: the digits above, the region and the letters below (norms.md §4.2:
    # "exists; layout not confirmed" — the layout here is as seen on a real photograph, tests/data/anpr/real)
    format_row(
        "kz2012_two_line",
        rf"\d{{3}}[A-Z]{{3}}(?P<region>{_REGION})",
        "241VBZ10",
        UNVERIFIED,
        _2012,
        "DDDRRLLL",
        0.6,
        order=(0, 1, 2, 5, 6, 7, 3, 4),
    ),
    format_row(
        "kz1993", rf"(?P<region>{_OLD})\d{{3}}[A-Z]{{3}}", "A585CUO", SECONDARY, _1993, "LDDDLLL", 0.8
    ),
    format_row(
        "kz1993_legal", rf"(?P<region>{_OLD})\d{{3}}[A-Z]{{2}}", "A001AA", SECONDARY, _1993, "LDDDLL", 0.7
    ),
    format_row("foreign", rf"[FH]\d{{4}}(?P<region>{_REGION})", "F123402", UNVERIFIED, _MVD, "LDDDDRR", 0.5),
    format_row("diplomatic", r"[DT]\d{3,6}", "D12345", UNVERIFIED, _MVD, "", 0.4),
    # --- neighbours' cars come to a Kazakh lane too (issue #26): read as their plates say -------
    format_row(
        "ru",
        rf"[{_RU}]\d{{3}}[{_RU}]{{2}}(?P<region>\d{{2,3}})",
        "A123BC77",
        SECONDARY,
        "GOST R 50577-2018, type 1",
        "LDDDLLRR",
        0.6,
        "RU",
    ),
    format_row(
        "ru",
        rf"[{_RU}]\d{{3}}[{_RU}]{{2}}(?P<region>\d{{2,3}})",
        "A123BC799",
        SECONDARY,
        "GOST R 50577-2018, type 1",
        "LDDDLLRRR",
        0.6,
        "RU",
    ),
    format_row(
        "kg2016",
        r"(?P<region>0[1-9])KG\d{3}[A-Z]{3}",
        "01KG123ABC",
        UNVERIFIED,
        _WIKI.format("Kyrgyzstan") + " (2016+)",
        "RRKGDDDLLL",
        0.55,
        "KG",
    ),
    format_row(
        "uz",
        rf"(?P<region>{_UZ})[A-Z]\d{{3}}[A-Z]{{2}}",
        "01A123BC",
        UNVERIFIED,
        _WIKI.format("Uzbekistan") + " (2008+, individuals)",
        "RRLDDDLL",
        0.55,
        "UZ",
    ),
    format_row(
        "uz_legal",
        rf"(?P<region>{_UZ})\d{{3}}[A-Z]{{3}}",
        "01123ABC",
        UNVERIFIED,
        _WIKI.format("Uzbekistan") + " (2008+, legal entities)",
        "RRDDDLLL",
        0.5,
        "UZ",
    ),
    format_row(
        "ua",
        rf"(?P<region>[{_UA}]{{2}})\d{{4}}[{_UA}]{{2}}",
        "AA1234BB",
        SECONDARY,
        _WIKI.format("Ukraine") + " (2004+)",
        "LLDDDDLL",
        0.55,
        "UA",
    ),
    format_row(
        "ua_two_line",
        rf"(?P<region>[{_UA}]{{2}})\d{{4}}[{_UA}]{{2}}",
        "AP7007ET",
        UNVERIFIED,
        _WIKI.format("Ukraine") + " (2004+, square rear plate: the letters above, the digits below)",
        "LLLLDDDD",
        0.45,
        "UA",
        order=(0, 1, 4, 5, 6, 7, 2, 3),
    ),
    format_row(
        "su1980",
        rf"[{_RU}]\d{{4}}[{_RU}]{{2}}",
        "B8233XA",
        SECONDARY,
        "GOST 3207-77 (USSR, 1980–1993; still on old cars across the region)",
        "LDDDDLL",
        0.3,
        "SU",
    ),
    format_row(
        "ua_special",
        rf"\d{{5}}[{_UA}]{{2}}",
        "10922BX",
        UNVERIFIED,
        "as on real photographs of Ukrainian motorcycles, quad bikes and tractors (tests/data/anpr/real):"
        " five digits above, two letters below",
        "DDDDDLL",
        0.4,
        "UA",
    ),
    format_row(
        "by",
        rf"\d{{4}}[{_BY}]{{2}}(?P<region>[1-7])",
        "1234AB7",
        UNVERIFIED,
        _WIKI.format("Belarus") + " (2004+)",
        "DDDDLLR",
        0.5,
        "BY",
    ),
)


def plate_format(plate: str) -> PlateFormat | None:
    """The format a stored plate (see :func:`normalise_plate`) is written in, or None."""
    return next((f for f in FORMATS if f.pattern.match(plate)), None)


def check_format(plate: str, confirmed: bool = False) -> str:
    """The plate's format id. A plate in no known format is not rejected outright — transit,
    military and special series are not in the grammar (norms.md §4.4: flag, do not reject) — but
    the operator must confirm it is written so on the plate (``plate_format_unknown`` otherwise)."""
    found = plate_format(plate)
    if found is not None:
        return found.id
    if confirmed:
        return "unknown_confirmed"
    raise OtolaneError(
        "plate_format_unknown",
        f"{plate} is in no plate format this lane knows (Kazakh e.g. 123ABC02, 123AB02, A585CUO, or a"
        " neighbour's): check it; if it is written so on the plate (a transit or special plate), confirm it",
        plate=plate,
        field="plate",
        status=409,
    )


# --- reading a plate from recognised text (ANPR, R3.2) ---------------------------------------------

#: what a recogniser confuses: a letter read where a digit belongs, and the other way round
AS_DIGIT = str.maketrans("OQDUIJLZSBGTA", "0000111258674")
AS_LETTER = str.maketrans("01258674", "OIZSBGTA")


@dataclass(frozen=True)
class Reading:
    """A plate read from recognised text: the corrected plate, its format, and how sure we are
    (the format's prior, less for each character corrected or left out)."""

    plate: str
    format: str
    score: float
    corrected: int  # characters changed to fit the format


def _fit(text: str, shape: str) -> tuple[str, int] | None:
    if len(text) != len(shape):
        return None
    out, changed = [], 0
    for ch, kind in zip(text, shape, strict=True):
        if kind not in "DLR":  # a letter printed on every plate of the format (KG)
            if ch != kind:
                return None
            out.append(ch)
            continue
        want_digit = kind in "DR"
        fixed = ch.translate(AS_DIGIT) if want_digit else ch.translate(AS_LETTER)
        if fixed.isdigit() != want_digit:
            return None
        changed += fixed != ch
        out.append(fixed)
    return "".join(out), changed


def _clean(text: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFKC", text).upper().translate(CYRILLIC_TWINS) if ch.isalnum()
    )


#: each look-alike corrected to fit a format makes the reading this much less sure: a text that
#: fits one format as read outweighs one that fits another only after corrections
CORRECTED = 0.7
#: a reading that left out characters read beside the plate (the flag strip's ``KZ`` or ``UA``, a
#: bolt read as ``1``) is worth this much less for each one
DROPPED = 0.6
#: characters read beside the plate that may be left out, at most
MAX_DROPPED = 2


def _windows(raw: str, size: int) -> list[tuple[str, int]]:
    """The text itself, and each run of ``size`` characters in it when it is at most MAX_DROPPED
    longer, with how many characters each leaves out (the ``KZ`` by the flag costs nothing)."""
    extra = len(raw) - size
    if extra <= 0 or extra > MAX_DROPPED:
        return [(raw, 0)]
    if extra == 2 and raw.startswith("KZ"):  # the country code printed by the flag: not a slip
        return [(raw, 0), (raw[2:], 0)]
    return [(raw, 0)] + [(raw[i : i + size], extra) for i in range(extra + 1)]


def readings(text: str) -> list[Reading]:
    """Every way the recognised ``text`` fits a plate format, best first. Look-alikes are corrected
    to the kind of character the format wants at each place (``O`` → ``0`` among the digits,
    ``8`` → ``B`` among the letters); a plate that then fits no format is not offered. Characters
    read beside the plate (the ``KZ`` by the flag) may be left out, at a cost (:data:`DROPPED`)."""
    raw = _clean(text)
    found: dict[str, Reading] = {}
    for fmt in FORMATS:
        for candidate, dropped in _windows(raw, len(fmt.shape) if fmt.shape else len(raw)):
            fit = _fit(candidate, fmt.shape) if fmt.shape else (candidate, 0)  # no shape: as it is
            if fit is None:
                continue
            plate, changed = fit
            if fmt.order:
                plate = "".join(plate[i] for i in fmt.order)
            if not fmt.pattern.match(plate):
                continue
            score = fmt.prior * CORRECTED**changed * DROPPED**dropped
            if plate not in found or found[plate].score < score:
                found[plate] = Reading(plate, fmt.id, round(score, 3), changed)
    return sorted(found.values(), key=lambda r: -r.score)


#: a text read where no format fits is still offered, this unsure, for the operator to confirm
UNFORMATTED_SCORE = 0.15


def unformatted(text: str) -> Reading | None:
    """What was read, as it was read, when it looks like a plate of no format the grammar knows
    (a foreign series, a transit or special plate): 5–10 letters and digits, at least two digits
    and one letter. Its score is low (:data:`UNFORMATTED_SCORE`) so the operator confirms it."""
    raw = _clean(text)
    digits = sum(c.isdigit() for c in raw)
    if not 5 <= len(raw) <= 10 or digits < 2 or digits == len(raw):
        return None
    return Reading(raw, "unknown", UNFORMATTED_SCORE, 0)

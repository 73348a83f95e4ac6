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
    letter, R a region-code digit) lets recognised text be fitted to it, ``prior`` is how likely
    the format is on a lane before the text is read (most cars carry 2012+ plates)."""

    id: str
    pattern: re.Pattern[str]
    example: str
    status: str
    source: str
    shape: str  # empty: no fixed shape (the text must match as it is)
    prior: float

    def region(self, plate: str) -> str | None:
        """The plate's region code (2012+) or old region letter (1993), when the format has one."""
        m = self.pattern.match(plate)
        return m.groupdict().get("region") if m else None


def format_row(
    id_: str, regex: str, example: str, status: str, source: str, shape: str, prior: float
) -> PlateFormat:
    return PlateFormat(id_, re.compile(f"^{regex}$"), example, status, source, shape, prior)


_2012, _1993, _MVD = "ST RK 986-2012/2022", "1993 standard", "MVD Order 1040"
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
    format_row(
        "kz1993", rf"(?P<region>{_OLD})\d{{3}}[A-Z]{{3}}", "A585CUO", SECONDARY, _1993, "LDDDLLL", 0.8
    ),
    format_row(
        "kz1993_legal", rf"(?P<region>{_OLD})\d{{3}}[A-Z]{{2}}", "A001AA", SECONDARY, _1993, "LDDDLL", 0.7
    ),
    format_row("foreign", rf"[FH]\d{{4}}(?P<region>{_REGION})", "F123402", UNVERIFIED, _MVD, "LDDDDRR", 0.5),
    format_row("diplomatic", r"[DT]\d{3,6}", "D12345", UNVERIFIED, _MVD, "", 0.4),
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
        f"{plate} is in no Kazakh plate format (e.g. 123ABC02, 123AB02, A585CUO): check it; if it is"
        " written so on the plate (a foreign, transit or special plate), confirm it",
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
    (the share of characters taken as read, times the format's prior)."""

    plate: str
    format: str
    score: float
    corrected: int  # characters changed to fit the format


def _fit(text: str, shape: str) -> tuple[str, int] | None:
    if len(text) != len(shape):
        return None
    out, changed = [], 0
    for ch, kind in zip(text, shape, strict=True):
        want_digit = kind in "DR"
        fixed = ch.translate(AS_DIGIT) if want_digit else ch.translate(AS_LETTER)
        if fixed.isdigit() != want_digit:
            return None
        changed += fixed != ch
        out.append(fixed)
    return "".join(out), changed


def readings(text: str) -> list[Reading]:
    """Every way the recognised ``text`` fits a plate format, best first. Look-alikes are corrected
    to the kind of character the format wants at each place (``O`` → ``0`` among the digits,
    ``8`` → ``B`` among the letters); a plate that then fits no format is not offered."""
    raw = "".join(
        ch for ch in unicodedata.normalize("NFKC", text).upper().translate(CYRILLIC_TWINS) if ch.isalnum()
    )
    found: dict[str, Reading] = {}
    for fmt in FORMATS:
        fit = _fit(raw, fmt.shape) if fmt.shape else (raw, 0)  # no shape: the text as it is
        if fit is None or not fmt.pattern.match(fit[0]):
            continue
        plate, changed = fit
        score = fmt.prior * (1 - changed / len(plate))
        if plate not in found or found[plate].score < score:
            found[plate] = Reading(plate, fmt.id, round(score, 3), changed)
    return sorted(found.values(), key=lambda r: -r.score)

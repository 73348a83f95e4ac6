"""State registration plates as the lane stores them: Latin capitals and digits, no spaces.

Kazakh plates carry Latin letters only (see ``shared/reference/norms.md``), but a plate typed on a
Russian or Kazakh keyboard layout comes in Cyrillic look-alikes (А В Е К М Н О Р С Т У Х): those
are mapped to the Latin letter they show, so ``123АВС02`` and ``123ABC02`` are one car. Any other
letter — Cyrillic with no Latin twin (Ж, Ә …), Greek, Arabic … — is refused with the character, so
two spellings of one plate can never make two vehicles. (The grammar of plate formats and region
codes arrives with plate recognition.)
"""

from __future__ import annotations

import unicodedata

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

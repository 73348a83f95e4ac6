"""Personal data on a screen (R11, R7): masked by default, in full only on a journalled request by
someone with ``personal_data_view`` (``app/rights.py``). Pure functions: what on a card is personal
and how it is masked — the employee's IIN (the first four and last two digits stay, enough to tell
two apart), an owner's name (the surname and initials), a VIN's serial part (its last six
characters; the make, model and year stay readable). Printed cards are legal documents and keep
everything (``app/documents/``); what is masked is what a screen or a script reads."""

from __future__ import annotations

import copy
from typing import Any

HIDDEN = "•"
#: the card's personal fields, as (section, field)
FIELDS = (("inspector", "iin"), ("vehicle", "vin"), ("vehicle", "owner"))


def mask_iin(iin: str) -> str:
    return iin[:4] + HIDDEN * max(0, len(iin) - 6) + iin[-2:] if len(iin) > 6 else HIDDEN * len(iin)


def mask_vin(vin: str) -> str:
    return vin[:-6] + HIDDEN * 6 if len(vin) > 6 else HIDDEN * len(vin)


def mask_name(name: str) -> str:
    """ "Жақсыбеков Ерлан Серікұлы" → "Жақсыбеков Е. С."."""
    parts = name.split()
    return " ".join([parts[0], *(p[0] + "." for p in parts[1:])]) if parts else ""


MASKS = {"iin": mask_iin, "vin": mask_vin, "owner": mask_name}


def masked(card: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of the card with its personal fields masked, and which fields were."""
    out = copy.deepcopy(card)
    hidden = []
    for section, name in FIELDS:
        part = out.get(section)
        if isinstance(part, dict) and isinstance(part.get(name), str) and part[name]:
            part[name] = MASKS[name](part[name])
            hidden.append(f"{section}.{name}")
    return out, hidden

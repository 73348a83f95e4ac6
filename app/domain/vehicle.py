"""The vehicle record of an inspection: what the operator enters from the registration documents.

The facts a norm depends on (category, fuel, year, catalyst, turbocharger: :class:`Vehicle` of
``norms.py``) are journalled with the inspection; the identity (plate, VIN, make and model) and the
owner are personal data and stored sealed (R7). Every check here names the field that is wrong.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from app.domain.categories import CATEGORIES, FUELS
from app.domain.norms import Vehicle
from app.domain.periodicity import USES
from app.domain.plates import check_format, normalise_plate
from app.errors import OtolaneError

#: ISO 3779: 17 characters, digits and capitals except I, O and Q (they read as 1 and 0).
VIN_RE = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
OLDEST_YEAR = 1900
MAX_TEXT = 80
MAX_OWNER = 200
#: the largest dipped-beam tilt a headlamp is marked with (%): "1.0 %" to "3.5 %" in practice
MAX_TILT = 4.0


@dataclass(frozen=True)
class VehicleRecord:
    plate: str
    category: str
    fuel: str
    axles: int
    year: int | None = None
    vin: str = ""
    make_model: str = ""
    catalyst: bool = False
    turbo: bool = False
    owner: str = ""
    use: str = "private"  # taxi, bus service, dangerous goods …: the periodicity depends on it
    #: the plate's format in the grammar (``app/domain/plates.py``), or "unknown_confirmed"
    plate_format: str = ""
    #: the dipped beam's nominal tilt marked on the headlamp (%, e.g. 1.0): the aim is judged by it
    headlight_tilt: float | None = None

    @property
    def facts(self) -> Vehicle:
        return Vehicle(self.category, self.fuel, self.year, self.catalyst, self.turbo, self.headlight_tilt)

    def public(self) -> dict[str, Any]:
        """The facts journalled with the inspection (no personal data)."""
        return {
            "category": self.category,
            "fuel": self.fuel,
            "axles": self.axles,
            "year": self.year,
            "catalyst": self.catalyst,
            "turbo": self.turbo,
            "use": self.use,
            "plate_format": self.plate_format,
            "headlight_tilt": self.headlight_tilt,
        }

    def sealed(self) -> dict[str, Any]:
        return asdict(self)


def check_vin(vin: str) -> str:
    """A VIN as stored (capitals, no spaces), or ``vin_bad`` saying what is wrong with it."""
    v = vin.strip().upper().replace(" ", "")
    if len(v) != 17:
        raise OtolaneError("vin_bad", "a VIN has 17 characters", field="vin", length=len(v))
    bad = sorted({c for c in v if c in "IOQ"})
    if bad:
        raise OtolaneError(
            "vin_letters", "a VIN never has the letters I, O or Q", field="vin", letters=" ".join(bad)
        )
    if not VIN_RE.fullmatch(v):
        raise OtolaneError("vin_bad", "a VIN has only Latin capitals and digits", field="vin", length=17)
    return v


def vehicle_record(
    *,
    plate: str,
    category: str,
    fuel: str,
    axles: int,
    this_year: int,
    year: int | None = None,
    vin: str = "",
    make_model: str = "",
    catalyst: bool = False,
    turbo: bool = False,
    owner: str = "",
    use: str = "private",
    plate_confirmed: bool = False,
    headlight_tilt: float | None = None,
) -> VehicleRecord:
    """The record, checked; ``this_year`` comes from the lane clock (a car is never built next-next year).
    ``plate_confirmed``: the operator confirmed a plate in no known format is written so."""
    plate = normalise_plate(plate)
    plate_format = check_format(plate, plate_confirmed)
    if category not in CATEGORIES:
        raise OtolaneError("category_unknown", "unknown category", category=category[:8])
    if fuel not in FUELS:
        raise OtolaneError("fuel_unknown", "unknown fuel", fuel=fuel[:16])
    if not 1 <= axles <= 6:
        raise OtolaneError("axles_bad", "axles are 1 to 6", axles=axles)
    if year is not None and not OLDEST_YEAR <= year <= this_year + 1:
        raise OtolaneError(
            "year_bad",
            "the year of manufacture is out of range",
            year=year,
            low=OLDEST_YEAR,
            high=this_year + 1,
        )
    for name, value, limit in (("make_model", make_model, MAX_TEXT), ("owner", owner, MAX_OWNER)):
        if len(value) > limit:
            raise OtolaneError(
                "field_too_long", f"'{name}' is at most {limit} characters", field=name, max=limit
            )
    if use not in USES:
        raise OtolaneError("use_unknown", "unknown use of the vehicle", field="use", use=use[:20])
    if headlight_tilt is not None and not 0.0 <= headlight_tilt <= MAX_TILT:
        raise OtolaneError(
            "headlight_tilt_bad",
            "the headlamp's marked tilt is a percentage from 0 to 4",
            field="headlight_tilt",
            high=MAX_TILT,
        )
    return VehicleRecord(
        plate=plate,
        category=category,
        fuel=fuel,
        axles=axles,
        year=year,
        vin=check_vin(vin) if vin else "",
        make_model=make_model.strip(),
        catalyst=catalyst,
        turbo=turbo,
        owner=owner,
        use=use,
        plate_format=plate_format,
        headlight_tilt=None if headlight_tilt is None else round(float(headlight_tilt), 1),
    )

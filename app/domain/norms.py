"""Norms as versioned data, and the one small engine that judges a value against them.

Every row names the clause it comes from and how sure we are of its number (the status column of
``shared/reference/norms.md``: SOURCED, SECONDARY, UNVERIFIED). A row applies to a vehicle by its
category, fuel, year of manufacture and engine (catalyst, turbocharger); the first row of an item
that applies is the norm. An item with no row for the vehicle is not judged: its value goes to the
measurement protocol only. A verdict keeps the row it was judged against and :data:`NORMS_VERSION`,
so a card printed years later shows the rule that applied then. ``docs/norms.md`` is this table in
words; ``tests/unit/test_norms.py`` checks every row at, just above and just below its limit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Raised whenever a row below changes (a new limit, a new source): cards keep the version they used.
NORMS_VERSION = "otolane-norms/5"  # 3: the tread rows strict (App. 8: the limit fails); 4: dipped-beam aim;
# 5: the high beams' sum ≤ 225 000 cd, and the statuses and clauses the official-text check gave
# (shared/reference/norms-official.md §9: high beam SECONDARY [L2], steering App. 8 cl. 2.3 [O4])

M_N = frozenset({"M1", "M2", "M3", "N1", "N2", "N3"})
O_CATS = frozenset({"O1", "O2", "O3", "O4"})
L_CATS = frozenset(f"L{i}" for i in range(1, 8))
ALL_CATS = M_N | O_CATS | L_CATS
ENGINE_FUELS = frozenset({"petrol", "gas", "diesel"})

#: Status texts repeated by many rows.
GOST_51709 = "UNVERIFIED: GOST R 51709-2001 Table 2 as we remember it; TR CU 018 App. 8 Table 1.3 not read"
NOT_FOUND = "UNVERIFIED: no number found in the sources of norms.md; a usual stand-maker default"
#: the high beams' rows: each lamp at least 10 000 cd, all of them together at most 225 000 cd
HIGH_BEAM_CLAUSE = "an unnamed regulation's cl. 7, quoted in a slide deck; along the optical axis [L2]"
HIGH_BEAM_STATUS = "SECONDARY: one copy of the text [L2]; TR CU 018 App. 8 §3 not read"


@dataclass(frozen=True)
class Vehicle:
    """What a norm's row may depend on (the vehicle record's facts, not its identity)."""

    category: str
    fuel: str = "petrol"
    year: int | None = None
    catalyst: bool = False
    turbo: bool = False
    #: the dipped beam's nominal downward tilt marked on the headlamp (%), when the operator gave it
    headlight_tilt: float | None = None


@dataclass(frozen=True)
class Applies:
    """The vehicles a row is for; ``None`` means any."""

    categories: frozenset[str] = ALL_CATS
    fuels: frozenset[str] | None = None
    built_before: int | None = None  # year of manufacture < this (the year must be known)
    catalyst: bool | None = None
    turbo: bool | None = None

    def matches(self, v: Vehicle) -> bool:
        if v.category not in self.categories:
            return False
        if self.fuels is not None and v.fuel not in self.fuels:
            return False
        if self.built_before is not None and (v.year is None or v.year >= self.built_before):
            return False
        if self.catalyst is not None and v.catalyst != self.catalyst:
            return False
        return self.turbo is None or v.turbo == self.turbo


@dataclass(frozen=True)
class Norm:
    id: str  # the row: item and the vehicles it is for
    item: str  # what it judges; the card's catalogs name it
    unit: str
    low: float | None  # value must be >= low (> when strict)
    high: float | None  # value must be <= high
    clause: str
    status: str  # SOURCED / SECONDARY / UNVERIFIED: why
    applies: Applies = field(default_factory=Applies)
    decimals: int = 2  # the value is judged as it is printed
    kind: str = "measured"  # or "visual": a check no stand measures, 1 = defect found, 0 = none
    #: the limit itself fails: the text says "unfit at not more than" the low limit (tread, App. 8)
    strict: bool = False

    @property
    def verified(self) -> bool:
        return not self.status.startswith("UNVERIFIED")

    def describe(self) -> str:
        if self.kind == "visual":
            return "no defect"
        if self.low is not None and self.high is not None:
            return f"{self.low:g}…{self.high:g} {self.unit}"
        if self.low is not None:
            return f"{'>' if self.strict else '≥'} {self.low:g} {self.unit}"
        return f"≤ {self.high:g} {self.unit}"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["applies"] = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in out["applies"].items()}
        return out | {"text": self.describe(), "version": NORMS_VERSION}


def by_category(
    item: str,
    unit: str,
    rows: tuple[tuple[frozenset[str], float], ...],
    *,
    bound: str,
    clause: str,
    status: str,
    strict: bool = False,
) -> tuple[Norm, ...]:
    """One row per category group of a limit that differs by category; ``strict``: the limit itself
    fails."""
    return tuple(
        Norm(
            f"{item}/{'+'.join(sorted(cats))}",
            item,
            unit,
            limit if bound == "low" else None,
            limit if bound == "high" else None,
            clause,
            status,
            Applies(categories=cats),
            strict=strict,
        )
        for cats, limit in rows
    )


def cats(*codes: str) -> frozenset[str]:
    return frozenset(codes)


TABLE: tuple[Norm, ...] = (
    # --- brakes ---------------------------------------------------------------------------
    *by_category(
        "brake.service.specific_force",
        "%",
        (
            (cats("M1"), 59.0),
            (cats("M2", "M3"), 51.0),
            (cats("N1", "N2", "N3"), 50.0),
            (O_CATS, 49.0),
        ),
        bound="low",
        clause="TR CU 018/2011 App. 8 cl. 1.3 Table 1.3; formula GOST 33997 A.1",
        status=GOST_51709,
    ),
    Norm(
        "brake.service.imbalance",
        "brake.service.imbalance",
        "%",
        None,
        20.0,
        "TR CU 018/2011 App. 8 cl. 1.4; formula GOST 33997 A.2",
        "UNVERIFIED: number from GOST R 51709; norms.md found the clause, not its table",
        Applies(categories=M_N | O_CATS),
    ),
    Norm(
        "brake.parking.specific_force",
        "brake.parking.specific_force",
        "%",
        16.0,
        None,
        "TR CU 018/2011 App. 8 cl. 1.6 (stand); formula GOST 33997 A.1",
        "UNVERIFIED: 16 % is the laden-slope figure of the RF list of faults [T4][T5]; stand norm NOT FOUND",
        Applies(categories=M_N),
    ),
    # --- running gear ------------------------------------------------------------------------
    Norm(
        "sideslip",
        "sideslip",
        "m/km",
        -5.0,
        5.0,
        "TR CU 018/2011 App. 8 (wheel alignment) — clause not confirmed",
        NOT_FOUND,
        Applies(categories=M_N),
    ),
    Norm(
        "suspension.efficiency",
        "suspension.efficiency",
        "%",
        40.0,
        None,
        "EUSAMA method; TR CU 018/2011 App. 8 — clause not confirmed",
        NOT_FOUND,
        Applies(categories=cats("M1", "N1")),
    ),
    Norm(
        "suspension.difference",
        "suspension.difference",
        "%",
        None,
        20.0,
        "EUSAMA method, left/right difference of one axle; clause not confirmed",
        NOT_FOUND,
        Applies(categories=cats("M1", "N1")),
    ),
    *by_category(
        "steering.play",
        "°",
        ((cats("M1", "N1"), 10.0), (cats("M2", "M3"), 20.0), (cats("N2", "N3"), 25.0)),
        bound="high",
        clause="TR CU 018/2011 App. 8 cl. 2.3 [O4] (numbers: RF list of faults cl. 2.1, pre-2023)",
        status="SECONDARY: the numbers from copies of the RF list [ST1][ST2][ST3]; the clause official [O4]",
    ),
    *by_category(
        "tyres.tread",
        "mm",
        (
            (L_CATS, 0.8),
            (cats("N2", "N3", "O3", "O4"), 1.0),
            (cats("M1", "N1", "O1", "O2"), 1.6),
            (cats("M2", "M3"), 2.0),
        ),
        bound="low",
        # App. 8: unfit when the residual depth is *not more than* the limit — the limit fails
        strict=True,
        clause="TR CU 018/2011 App. 8 cl. 5.6.2 (restated in the RF list of faults cl. 5.4)",
        status="SOURCED (RF restatement) [TY1][O6]",
    ),
    # --- emissions ---------------------------------------------------------------------------
    Norm(
        "emissions.co_idle/before-1986",
        "emissions.co_idle",
        "%",
        None,
        4.5,
        "TR CU 018/2011 App. 8 (M and N built before 01.10.1986), n_min",
        "SECONDARY: a news copy of the table [E1]; by year only (a 1986 car takes the next row)",
        Applies(categories=M_N, fuels=frozenset({"petrol", "gas"}), built_before=1986),
        decimals=3,
    ),
    Norm(
        "emissions.co_idle/no-catalyst",
        "emissions.co_idle",
        "%",
        None,
        3.5,
        "TR CU 018/2011 App. 8 (M and N without exhaust after-treatment), n_min",
        "SECONDARY: a news copy of the table [E1]",
        Applies(categories=M_N, fuels=frozenset({"petrol", "gas"}), catalyst=False),
        decimals=3,
    ),
    Norm(
        "emissions.co_idle/catalyst",
        "emissions.co_idle",
        "%",
        None,
        0.5,
        "TR CU 018/2011 App. 8 (row after 'without after-treatment'), n_min",
        "UNVERIFIED: the row's label is lost in the copy [E1]",
        Applies(categories=M_N, fuels=frozenset({"petrol", "gas"}), catalyst=True),
        decimals=3,
    ),
    Norm(
        "emissions.lambda/catalyst",
        "emissions.lambda",
        "",
        0.97,
        1.03,
        "TR CU 018/2011 App. 8 (vehicles with a three-way catalyst), n_elevated",
        "UNVERIFIED: λ range NOT FOUND in norms.md; 1.00 ± 0.03 is the usual figure",
        Applies(categories=M_N, fuels=frozenset({"petrol", "gas"}), catalyst=True),
        decimals=3,
    ),
    Norm(
        "smoke.k/natural",
        "smoke.k",
        "m⁻¹",
        None,
        2.5,
        "TR CU 018/2011 App. 8; method GOST R 52160-2003 cl. 4.1 (free acceleration)",
        "UNVERIFIED: limit values not visible in [E5]; 2.5 m⁻¹ naturally aspirated as we remember it",
        Applies(categories=M_N, fuels=frozenset({"diesel"}), turbo=False),
    ),
    Norm(
        "smoke.k/turbo",
        "smoke.k",
        "m⁻¹",
        None,
        3.0,
        "TR CU 018/2011 App. 8; method GOST R 52160-2003 cl. 4.1 (free acceleration)",
        "UNVERIFIED: limit values not visible in [E5]; 3.0 m⁻¹ turbocharged as we remember it",
        Applies(categories=M_N, fuels=frozenset({"diesel"}), turbo=True),
    ),
    Norm(
        "noise.exhaust",
        "noise.exhaust",
        "dB(A)",
        None,
        96.0,
        "TR CU 018/2011 Table 9.2 (no value in the vehicle's documents); KZ from 01.01.2025 [N1]",
        "UNVERIFIED: table values NOT FOUND; 96 dB(A) placeholder until App. 9.2 is read",
        Applies(categories=M_N | L_CATS, fuels=ENGINE_FUELS),
        decimals=1,
    ),
    # --- lights and glass ----------------------------------------------------------------------
    Norm(
        "headlight.high_intensity",
        "headlight.high_intensity",
        "cd",
        10000.0,
        None,
        HIGH_BEAM_CLAUSE,
        HIGH_BEAM_STATUS,
        Applies(categories=M_N | L_CATS),
        decimals=0,
    ),
    # the same clause bounds the high beams from above: together they must not dazzle
    Norm(
        "headlight.high_intensity_sum",
        "headlight.high_intensity_sum",
        "cd",
        None,
        225000.0,
        HIGH_BEAM_CLAUSE,
        HIGH_BEAM_STATUS,
        Applies(categories=M_N),
        decimals=0,
    ),
    Norm(
        "headlight.low_aim",
        "headlight.low_aim",
        "%",
        -0.5,
        0.5,
        "TR 720 (RF) App. 7 cl. 3.2 (predecessor of TR CU 018/2011 App. 8 §3): the dipped beam's "
        "cut-off within ±0.5 % of its nominal tilt; the nominal as marked on the headlamp (UN R48 6.2.6.1.1)",
        "SECONDARY: the predecessor's text [L1][L3]; App. 8 §3 itself not read",
        Applies(categories=M_N),
        decimals=1,
    ),
    Norm(
        "glass.transmission",
        "glass.transmission",
        "%",
        70.0,
        None,
        "TR CU 018/2011 App. 8 cl. 4.3",
        "SECONDARY: two independent copies of the text [G1][G2]",
        Applies(categories=M_N | L_CATS),
        decimals=1,
    ),
)

#: The visual checks: what no stand measures, marked by the operator on the checklist.
#: A row judges 0 (no defect) or 1 (defect found); its clause is the section of App. 8 it belongs to.
VISUAL_STATUS = "UNVERIFIED: App. 8 section from the structure of the RF list of faults; clause not read"
VISUAL: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("lights", "TR CU 018/2011 App. 8 §3 (external lighting and light signalling)", ALL_CATS),
    ("wipers", "TR CU 018/2011 App. 8 §4 (wipers and washers)", M_N),
    ("glazing", "TR CU 018/2011 App. 8 §4 (windscreen damage in the driver's wiper zone)", M_N),
    ("horn", "TR CU 018/2011 App. 8 §7 (sound signal)", M_N | L_CATS),
    ("mirrors", "TR CU 018/2011 App. 8 §7 (rear-view mirrors)", M_N | L_CATS),
    ("seat_belts", "TR CU 018/2011 App. 8 §7 (seat belts)", M_N),
    ("leaks", "TR CU 018/2011 App. 8 §1, §6 (fuel, oil, coolant, brake fluid leaks)", M_N | L_CATS),
    ("exhaust", "TR CU 018/2011 App. 8 §9 (exhaust system tightness)", M_N | L_CATS),
    ("body", "TR CU 018/2011 App. 8 §7 (corrosion or damage of the load-bearing structure)", M_N | O_CATS),
    ("wheels", "TR CU 018/2011 App. 8 §5 (wheel fastening, tyre cuts and bulges)", ALL_CATS),
    ("plates", "TR CU 018/2011 App. 8 §7 (registration plates present and legible)", ALL_CATS),
    ("safety_kit", "TR CU 018/2011 App. 8 §7 (first-aid kit, warning triangle, extinguisher)", M_N),
    ("coupling", "TR CU 018/2011 App. 8 §7 (towing coupling and safety chains)", O_CATS),
)
TABLE += tuple(
    Norm(
        f"visual.{vid}",
        f"visual.{vid}",
        "",
        None,
        0.0,
        clause,
        VISUAL_STATUS,
        Applies(categories=cats),
        0,
        "visual",
    )
    for vid, clause, cats in VISUAL
)

NORMS: dict[str, Norm] = {n.id: n for n in TABLE}
ITEMS: tuple[str, ...] = tuple(dict.fromkeys(n.item for n in TABLE))


def visual_checks(category: str) -> list[Norm]:
    """The checklist of a vehicle of this category, in the catalogue's order."""
    return [n for n in TABLE if n.kind == "visual" and category in n.applies.categories]


def norm_for(item: str, vehicle: Vehicle) -> Norm | None:
    """The row of ``item`` that applies to the vehicle (the first that matches), or None."""
    return next((n for n in TABLE if n.item == item and n.applies.matches(vehicle)), None)


G = 9.8  # GOST 33997 A.1 takes g = 9.8 m/s²


@dataclass(frozen=True)
class Verdict:
    norm: Norm
    value: float
    passed: bool
    deviation: float  # how far outside the norm (0 when passed), in the norm's unit

    def as_dict(self) -> dict[str, Any]:
        return {
            "norm": self.norm.as_dict(),
            "value": self.value,
            "passed": self.passed,
            "deviation": self.deviation,
        }


def judge(norm: Norm | str, value: float) -> Verdict:
    """The value, rounded as the card prints it, against the row: a limit itself passes, but for a
    row whose text makes the limit fail (``strict``)."""
    if isinstance(norm, str):
        norm = NORMS[norm]
    shown = round(value, norm.decimals)
    below = norm.low is not None and (shown < norm.low or (norm.strict and shown == norm.low))
    above = norm.high is not None and shown > norm.high
    dev = 0.0
    if below and norm.low is not None:
        dev = round(shown - norm.low, norm.decimals)
    elif above and norm.high is not None:
        dev = round(shown - norm.high, norm.decimals)
    return Verdict(norm, shown, not (below or above), dev)


def aim_deviation(vertical_cm_per_10m: float, nominal_tilt: float) -> float:
    """How far the dipped beam's cut-off sits from its nominal tilt, in % of distance (positive:
    aimed lower than marked). A headlight tester gives the cut-off's height at 10 m in cm, below the
    lamp's axis negative; 1 cm at 10 m is 0.1 %."""
    return -vertical_cm_per_10m / 10.0 - nominal_tilt


def imbalance_percent(left: float, right: float) -> float:
    """GOST 33997 A.2: ΔF = 100·(larger − smaller)/larger."""
    larger = max(left, right)
    if larger <= 0:
        return 0.0
    return 100.0 * (larger - min(left, right)) / larger


#: below this force (kN) a live imbalance is roller noise, shown as 0 (the wheel is not braked yet)
LIVE_IMBALANCE_FLOOR_KN = 0.3


def live_imbalance(left: float, right: float) -> float:
    """The imbalance of live brake forces as the lane screen shows it while the test runs: GOST 33997
    A.2, but 0 until either wheel brakes (noise of idle rollers is no imbalance)."""
    if max(left, right) <= LIVE_IMBALANCE_FLOOR_KN:
        return 0.0
    return imbalance_percent(left, right)


def specific_force_percent(total_force_kn: float, mass_kg: float) -> float:
    """GOST 33997 A.1: γ = ΣP / (M·g), as a percentage."""
    if mass_kg <= 0:
        return 0.0
    return 100.0 * total_force_kn * 1000.0 / (mass_kg * G)

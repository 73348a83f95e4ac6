"""Norms as data, and the one small engine that judges a value against them.

Every norm names the clause it comes from and how sure we are of its number (the status column of
``shared/reference/norms.md``). A verdict keeps the norm it was judged against, so a card printed
years later shows the rule that applied then.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

NORMS_VERSION = "2026-11-23"


@dataclass(frozen=True)
class Norm:
    id: str
    title: str
    unit: str
    low: float | None  # value must be >= low
    high: float | None  # value must be <= high
    clause: str
    status: str  # SOURCED / SECONDARY / UNVERIFIED

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low:g}…{self.high:g} {self.unit}"
        if self.low is not None:
            return f"≥ {self.low:g} {self.unit}"
        return f"≤ {self.high:g} {self.unit}"


NORMS: dict[str, Norm] = {
    n.id: n
    for n in (
        Norm(
            "brake.imbalance",
            "Service brake imbalance per axle",
            "%",
            None,
            20.0,
            "TR CU 018/2011 App. 8 cl. 1.4; formula GOST 33997 A.2",
            "UNVERIFIED: number from GOST R 51709; norms.md found the clause, not its table",
        ),
        Norm(
            "brake.specific_force",
            "Service brake specific braking force",
            "%",
            50.0,
            None,
            "TR CU 018/2011 App. 8 cl. 1.3 Table 1.3; formula GOST 33997 A.1",
            "UNVERIFIED: table body not readable in the sources of norms.md",
        ),
        Norm(
            "emissions.co_idle",
            "CO at minimum idle speed",
            "%",
            None,
            3.5,
            "TR CU 018/2011 (M and N without exhaust after-treatment), n_min",
            "SECONDARY: a news copy of the table [E1]; rows for catalyst vehicles not readable",
        ),
        *(
            Norm(
                f"steering.play.{group}",
                "Total steering play",
                "°",
                None,
                limit,
                "RF list of faults cl. 2.1 (pre-2023), TR CU 018 App. 8 clause not confirmed",
                "SECONDARY [ST1][ST2][ST3]",
            )
            for group, limit in (("M1N1", 10.0), ("M2M3", 20.0), ("N2N3", 25.0))
        ),
        *(
            Norm(
                f"tyres.tread.{group}",
                "Residual tread depth",
                "mm",
                limit,
                None,
                "TR CU 018/2011 App. 8 cl. 5.6.2 (via the RF list of faults cl. 5.4)",
                "SECONDARY [TY1][TY2][TY3]",
            )
            for group, limit in (("L", 0.8), ("N2N3O3O4", 1.0), ("M1N1O1O2", 1.6), ("M2M3", 2.0))
        ),
        Norm(
            "headlight.high_intensity",
            "High beam luminous intensity, headlamps of one side",
            "cd",
            10000.0,
            None,
            "a slide deck quoting an unnamed regulation [L2]",
            "UNVERIFIED: clause numbers not confirmed",
        ),
        Norm(
            "glass.transmission",
            "Light transmission of the windscreen and front side windows",
            "%",
            70.0,
            None,
            "TR CU 018/2011 App. 8 cl. 4.3",
            "SECONDARY: two independent copies of the text [G1][G2]",
        ),
    )
}


def norm_group(prefix: str, category: str) -> str | None:
    """The id of the category's row of a norm that differs by category (steering, tyres)."""
    for norm_id in NORMS:
        if norm_id.startswith(prefix + "."):
            group = norm_id.rsplit(".", 1)[1]
            if category in group or (group == "L" and category.startswith("L")):
                return norm_id
    return None


G = 9.8  # GOST 33997 A.1 takes g = 9.8 m/s²


@dataclass(frozen=True)
class Verdict:
    norm: Norm
    value: float
    passed: bool
    deviation: float  # how far outside the norm (0 when passed), in the norm's unit

    def as_dict(self) -> dict[str, Any]:
        return {
            "norm": asdict(self.norm) | {"text": self.norm.describe()},
            "value": self.value,
            "passed": self.passed,
            "deviation": self.deviation,
        }


def judge(norm_id: str, value: float) -> Verdict:
    norm = NORMS[norm_id]
    dev = 0.0
    if norm.low is not None and value < norm.low:
        dev = round(value - norm.low, 2)
    if norm.high is not None and value > norm.high:
        dev = round(value - norm.high, 2)
    return Verdict(norm, round(value, 2), dev == 0.0, dev)


def imbalance_percent(left: float, right: float) -> float:
    """GOST 33997 A.2: ΔF = 100·(larger − smaller)/larger."""
    larger = max(left, right)
    if larger <= 0:
        return 0.0
    return 100.0 * (larger - min(left, right)) / larger


def specific_force_percent(total_force_kn: float, mass_kg: float) -> float:
    """GOST 33997 A.1: γ = ΣP / (M·g), as a percentage."""
    if mass_kg <= 0:
        return 0.0
    return 100.0 * total_force_kn * 1000.0 / (mass_kg * G)

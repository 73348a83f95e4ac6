"""Vehicle categories (TR CU 018/2011 classification) and the minimum inspection time of each.

R12 — Order No. 532, point 12: the card is refused automatically when the inspection took less than
15 min (O-1, L-1…L-7), 20 min (M-1), 30 min (M-2, M-3, N-1, N-2, N-3, O-2, O-3, O-4).
"""

from __future__ import annotations

from dataclasses import dataclass

CLAUSE_MIN_TIME = "Order No. 532, p. 12 (R12)"


@dataclass(frozen=True)
class Category:
    code: str
    description: str
    min_minutes: int
    trailer: bool = False


CATEGORIES: dict[str, Category] = {
    c.code: c
    for c in (
        Category("M1", "passenger vehicle, ≤ 8 seats besides the driver", 20),
        Category("M2", "bus, > 8 seats, ≤ 5 t", 30),
        Category("M3", "bus, > 8 seats, > 5 t", 30),
        Category("N1", "goods vehicle ≤ 3.5 t", 30),
        Category("N2", "goods vehicle 3.5–12 t", 30),
        Category("N3", "goods vehicle > 12 t", 30),
        Category("O1", "trailer ≤ 0.75 t", 15, trailer=True),
        Category("O2", "trailer 0.75–3.5 t", 30, trailer=True),
        Category("O3", "trailer 3.5–10 t", 30, trailer=True),
        Category("O4", "trailer > 10 t", 30, trailer=True),
        *(Category(f"L{i}", "two/three-wheeler or quadricycle", 15) for i in range(1, 8)),
    )
}

FUELS = ("petrol", "diesel", "gas", "electric", "none")


def min_duration_s(category: str) -> int:
    return CATEGORIES[category].min_minutes * 60

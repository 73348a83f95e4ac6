"""How well plates are read on a labelled set of photographs (R3.2, issue #26).

A set is a folder of images and a ``labels.csv`` (``file``, ``plate`` as stored — ``123ABC02`` —,
``country``, ``format``, ``lines``, and where the photograph came from: ``source_repo``,
``source_commit``, ``source_path``, ``licence``, ``note``). ``tests/data/anpr/real`` is ours: real
photographs, labelled by eye. ``otolane anpr --eval FOLDER`` measures a centre's own photographs
the same way, so the figure for a lane's camera is taken on that camera.

The figures: exact plates (the whole plate right), characters right (1 − edit distance / length,
summed over the set), and the time per frame (p50, p95), per group of the set.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import OtolaneError

#: the columns a set's labels.csv carries (the first two are what the figures need)
COLUMNS = (
    "file",
    "plate",
    "country",
    "format",
    "lines",
    "source_repo",
    "source_commit",
    "source_path",
    "licence",
    "note",
)
#: Kazakhstan's neighbours and the region's other plates a Kazakh lane sees (issue #26)
NEIGHBOURS = frozenset({"RU", "KG", "UZ", "BY", "UA", "TJ", "TM", "CN"})
#: the most rows a set may hold, and the largest labels.csv: it is read whole into memory
MAX_ROWS = 10_000
MAX_LABELS_BYTES = 4 * 2**20
#: the longest field of a row (a note, a source path)
MAX_FIELD = 4096


@dataclass(frozen=True)
class Sample:
    file: Path
    plate: str
    country: str
    format: str
    lines: int

    @property
    def group(self) -> str:
        """``kz``, ``neighbours`` or ``other``: the figures are given per group."""
        if self.country == "KZ":
            return "kz"
        return "neighbours" if self.country in NEIGHBOURS else "other"


@dataclass(frozen=True)
class Outcome:
    sample: Sample
    read: str | None
    confidence: float
    ms: float

    @property
    def exact(self) -> bool:
        return self.read == self.sample.plate

    @property
    def chars_right(self) -> int:
        return max(0, len(self.sample.plate) - edits(self.read or "", self.sample.plate))


def edits(a: str, b: str) -> int:
    """Levenshtein distance: how many characters a reading got wrong."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def load_set(folder: Path) -> list[Sample]:
    """The samples of a set, or ``anpr_set_bad`` naming the row and what is wrong with it (at most
    MAX_ROWS rows of a labels.csv of at most MAX_LABELS_BYTES: it is read whole)."""
    labels = folder / "labels.csv"
    try:
        if labels.stat().st_size > MAX_LABELS_BYTES:
            raise OtolaneError(
                "anpr_set_bad",
                f"{labels}: larger than {MAX_LABELS_BYTES // 2**20} MiB — split the set",
                where=str(labels),
            )
        text = labels.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise OtolaneError(
            "anpr_set_bad", f"{labels}: no labels.csv (UTF-8) in the folder", where=str(labels)
        ) from None
    reader = csv.DictReader(text.splitlines())
    out: list[Sample] = []
    n = 1
    try:
        for n, row in enumerate(reader, 2):
            if len(out) == MAX_ROWS:
                raise OtolaneError(
                    "anpr_set_bad", f"{labels}: more than {MAX_ROWS} rows — split the set", where=str(labels)
                )
            out.append(_sample(folder, f"{labels}:{n}", row))
    except csv.Error as exc:  # a quote never closed, a field past MAX_FIELD
        where = f"{labels}:{n + 1}"
        raise OtolaneError("anpr_set_bad", f"{where}: not a CSV row ({exc})", where=where) from None
    return out


def _sample(folder: Path, where: str, row: dict[str, Any]) -> Sample:
    """One row of labels.csv (``where``: the file and line, for the error)."""
    from app.domain.plates import normalise_plate

    if any(len(v) > MAX_FIELD for v in row.values() if isinstance(v, str)):
        raise OtolaneError(
            "anpr_set_bad", f"{where}: a field longer than {MAX_FIELD} characters", where=where
        )
    name = (row.get("file") or "").strip()
    image = folder / name
    if not name or "/" in name or name.startswith(".") or not image.is_file():
        raise OtolaneError("anpr_set_bad", f"{where}: no image {name!r} beside labels.csv", where=where)
    try:
        plate = normalise_plate(row.get("plate") or "")
    except OtolaneError as exc:
        raise OtolaneError("anpr_set_bad", f"{where}: {exc.message}", where=where) from None
    lines = (row.get("lines") or "1").strip()
    return Sample(
        image,
        plate,
        (row.get("country") or "").strip().upper(),
        (row.get("format") or "").strip(),
        int(lines) if lines.isdigit() and len(lines) < 3 else 1,
    )


def run(samples: Iterable[Sample], read: Callable[[Path], tuple[str | None, float, float]]) -> list[Outcome]:
    """Each sample read by ``read(path) -> (plate, confidence, ms)``."""
    return [Outcome(s, *read(s.file)) for s in samples]


def figures(outcomes: list[Outcome]) -> dict[str, Any]:
    """Exact and character figures (%) and ms per frame (p50, p95) of some outcomes."""
    if not outcomes:
        return {"images": 0}
    ms = [o.ms for o in outcomes]
    total = sum(len(o.sample.plate) for o in outcomes)
    return {
        "images": len(outcomes),
        "exact_percent": round(100 * sum(o.exact for o in outcomes) / len(outcomes), 1),
        "chars_percent": round(100 * sum(o.chars_right for o in outcomes) / total, 1),
        "ms_p50": round(statistics.median(ms), 1),
        "ms_p95": percentile(ms, 0.95),
    }


def percentile(xs: list[float], q: float) -> float:
    """The ``q`` quantile of ``xs`` (the nearest rank below; 0 of none), to 0.1."""
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * q))], 1) if xs else 0.0


def by_group(outcomes: list[Outcome]) -> dict[str, dict[str, Any]]:
    """The figures of the whole set and of each group (kz, neighbours, other) in it."""
    groups = {"all": outcomes}
    for o in outcomes:
        groups.setdefault(o.sample.group, []).append(o)
    return {g: figures(os) for g, os in groups.items()}

"""D6, D7: the project is laid out as the design card says, and runs on the libraries it names —
each one a dependency, but paddleocr, whose PP-OCR models the lane runs through rapidocr (the
departure is written in docs/architecture.md)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: D7, as the design card lists them
CARD = ["textual", "pyserial-asyncio", "av", "opencv-python-headless", "paddleocr", "tortoise-orm",
        "aiosqlite", "cryptography", "reportlab", "aiohttp"]  # fmt: skip
#: a library of the card the lane does without, and what takes its place (docs/architecture.md)
INSTEAD = {"paddleocr": "rapidocr"}


def test_the_layout_is_the_design_cards() -> None:
    """D6: app/, drivers/, tui/, tests/, kiosk/, pyproject.toml, README.md."""
    for name in ("app", "drivers", "tui", "tests", "kiosk"):
        assert (ROOT / name).is_dir(), name
    for name in ("pyproject.toml", "README.md"):
        assert (ROOT / name).is_file(), name


def test_every_library_of_the_design_card_is_a_dependency_or_its_departure_is_written() -> None:
    """D7."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in deps}
    departures = (ROOT / "docs" / "architecture.md").read_text()
    for lib in CARD:
        if lib in INSTEAD:
            assert INSTEAD[lib] in names and lib in departures and INSTEAD[lib] in departures, lib
        else:
            assert lib in names, lib

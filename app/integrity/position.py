"""Where the integrity check stands, kept between runs in a file beside the checkpoint file (0600),
signed with the lane's key: the position of the last good check (a check of what is new starts
there) and the position of a check under way (an interrupted check resumes there).

A check of what is new trusts the rows before the last good position only as far as their hashes
go: the boundary rows must still carry the hashes that check saw, so a row changed and the rest
re-hashed is still found; a row changed without re-hashing is found by the next full check. A
position file that does not verify with the lane's key is not used (the check says so and starts
from the beginning).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.storage.anchor import FileAt, LaneKey, canonical, verify_signature
from app.storage.chain import GENESIS, Break, Walked
from app.storage.crypto import write_secret_file

#: the check's parts, in the order they run after the chains walked here; beside them, on the other
#: core, the chains with many rows (a process of their own), the engine's check and the photo files
#: (both read files outside the GIL)
PHASES = ("checkpoints", "cards", "outbox", "inspections", "accounts", "feed", "witness")


@dataclass
class Position:
    """How far a check has come in each part: a part's rows after these are still to check."""

    chains: dict[str, list[Any]] = field(default_factory=dict)  # table -> [seq, hash]
    file: FileAt = field(default_factory=FileAt)
    cards: int = 0  # seq
    outbox: int = 0  # id
    inspections: int = 0  # number
    photos: int = 0  # seq
    feed: int = 0  # journal seq: the EIS event feed held up to here (``feed.py``)

    def walked(self, table: str) -> Walked:
        seq, digest = self.chains.get(table, [0, GENESIS])
        return Walked(table, int(seq), str(digest))

    @classmethod
    def of(cls, data: dict[str, Any]) -> Position:
        return cls(
            chains={str(t): [int(v[0]), str(v[1])] for t, v in data["chains"].items()},
            file=FileAt(**data["file"]),
            cards=int(data["cards"]),
            outbox=int(data["outbox"]),
            inspections=int(data["inspections"]),
            photos=int(data["photos"]),
            feed=int(data.get("feed", 0)),  # a position file written before the feed was held
        )


@dataclass
class Run:
    """A check under way: what it checks, how far it has come, what it has found."""

    mode: str  # "full" or "new"
    started: float
    at: Position
    phase: str = "chains"
    breaks: dict[str, list[Any]] = field(default_factory=dict)  # table -> [seq, problem]
    ends: dict[str, int] = field(default_factory=dict)  # table -> its last row, as walked
    limits: dict[str, int] = field(default_factory=dict)  # part -> its last row when the run began
    counts: dict[str, int] = field(default_factory=dict)  # part -> rows checked
    engine: str = ""
    finished: list[str] = field(default_factory=list)  # the parts beside the walk that are done
    done: int = 0
    total: int = 0
    lines: list[str] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    more: int = 0  # problems found beyond those kept

    def walked(self, table: str) -> Walked:
        w = self.at.walked(table)
        if table in self.breaks:
            seq, problem = self.breaks[table]
            w.brk = Break(table, int(seq), str(problem))
        return w

    def keep_walk(self, w: Walked) -> None:
        self.at.chains[w.table] = [w.seq, w.hash]
        if w.brk is not None:
            self.breaks[w.table] = [w.brk.seq, w.brk.problem]

    def count(self, part: str, n: int) -> None:
        self.counts[part] = self.counts.get(part, 0) + n

    @classmethod
    def of(cls, data: dict[str, Any]) -> Run:
        return cls(**(data | {"at": Position.of(data["at"])}))


@dataclass
class State:
    good: Position | None = None
    good_ts: float = 0.0
    run: Run | None = None


def state_file(anchor_file: Path) -> Path:
    return anchor_file.with_name("integrity-check.json")


def load(path: Path, key: LaneKey) -> tuple[State, str | None]:
    """The state, and why it was not used (a file that does not verify, or cannot be read)."""
    try:
        outer = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return State(), None
    except (OSError, ValueError) as exc:
        return State(), f"cannot be read ({type(exc).__name__})"
    try:
        body = outer["body"]
        if not verify_signature(key.public, str(outer["sig"]), canonical(body)):
            return State(), "its signature does not verify with the lane's key"
        good = Position.of(body["good"]) if body.get("good") else None
        run = Run.of(body["run"]) if body.get("run") else None
        return State(good, float(body.get("good_ts", 0.0)), run), None
    except (KeyError, TypeError, ValueError, AttributeError):
        return State(), "not a position file (damaged)"


def save(path: Path, key: LaneKey, state: State) -> None:
    body = {
        "good": asdict(state.good) if state.good else None,
        "good_ts": state.good_ts,
        "run": asdict(state.run) if state.run else None,
    }
    write_secret_file(
        path, json.dumps({"body": body, "key": key.fingerprint, "sig": key.sign(canonical(body))})
    )

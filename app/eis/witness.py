"""A witness outside the lane (R3.10, R3.13): each signed checkpoint of the chain heads
(``app/storage/anchor.py``) goes to EIS as it is written, and EIS acknowledges it by its number and
the SHA-256 of its line. Whoever can write the lane's disk can cut the journal's tail and the
checkpoint file's last lines together; EIS keeps the last checkpoint it acknowledged, and the
integrity check asks it for that one and names a file that ends before it, or that holds another
line under its number (``app/integrity/witness.py``).

EIS holds the lane's checkpoints as a chain too: a checkpoint whose number it already holds with
another line, or whose link is not the line it holds before it, is refused — a rewritten file
shows at the next send.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.eis.contract import CONTRACT_VERSION
from app.storage.models import EisExchange

#: a checkpoint message's idempotency key: its number and its line's SHA-256 (the first 16 digits)
KEY_PREFIX = "checkpoint-"
#: a line longer than this is no checkpoint the lane wrote (bounded, as every size from a file)
MAX_LINE = 64 * 1024


def digest(line: str) -> str:
    return hashlib.sha256(line.encode()).hexdigest()


def key(n: int, line: str) -> str:
    return f"{KEY_PREFIX}{n}-{digest(line)[:16]}"


def key_of(text: str) -> tuple[int, str] | None:
    """(number, first 16 digits of the line's SHA-256) of a checkpoint message's key."""
    if not text.startswith(KEY_PREFIX):
        return None
    n, _, short = text[len(KEY_PREFIX) :].partition("-")
    return (int(n), short) if n.isdigit() and len(short) == 16 else None


def message(lane: str, training: bool, n: int, line: str) -> dict[str, Any]:
    return {
        "contract": CONTRACT_VERSION,
        "lane": lane,
        "training": training,
        "checkpoint": {"n": n, "line": line},
    }


def acknowledges(data: Any, n: int, line: str) -> bool:
    """EIS's answer names this checkpoint: its number and its line's SHA-256."""
    ack = data.get("checkpoint") if isinstance(data, dict) else None
    return isinstance(ack, dict) and ack.get("n") == n and ack.get("sha256") == digest(line)


@dataclass(frozen=True)
class Held:
    """A checkpoint a witness acknowledged: its number, its line's SHA-256 (or its first digits),
    when, and who holds it."""

    n: int
    sha256: str
    at: float
    by: str


async def last_acknowledged() -> Held | None:
    """The last checkpoint EIS acknowledged, as the lane's exchange journal keeps it."""
    rows = await EisExchange.filter(kind="checkpoint", outcome="accepted").order_by("-seq").limit(50)
    held = [(key_of(r.idempotency_key), r.ts) for r in rows]
    best = max(((k, ts) for k, ts in held if k), default=None, key=lambda x: x[0][0])
    if best is None:
        return None
    (n, short), ts = best
    return Held(n, short, ts, "the lane's exchange journal")


class Lines:
    """The checkpoint file read on from where it was last read: only whole lines, each once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def new(self) -> Iterator[tuple[int, str]]:
        """(number, line) of each whole line written since the last call; from the start again when
        the file is shorter than what was read (cut: the integrity check names it)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            self.offset = 0
            return
        if size < self.offset:
            self.offset = 0
        if size == self.offset:
            return
        with self.path.open("rb") as f:
            f.seek(self.offset)
            for raw in f:
                if not raw.endswith(b"\n"):
                    break  # a line being written: taken when it is whole
                self.offset += len(raw)
                n = number(raw)
                if n is not None:
                    yield n, raw.rstrip(b"\n").decode()


def number(raw: bytes) -> int | None:
    """A checkpoint line's number; None for a line that is not one (damaged, too long)."""
    if len(raw) > MAX_LINE:
        return None
    try:
        n = json.loads(raw)["n"]
    except (ValueError, KeyError, TypeError):
        return None
    return n if isinstance(n, int) and n > 0 else None

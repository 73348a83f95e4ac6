"""The EIS simulator's witness (``app/eis/witness.py`` is the lane's side): each lane's signed
checkpoints kept as a chain — a line that rewrites a number it holds, or whose link is not the line
it holds before it, is refused (409) — and the last one it acknowledged, told when the lane asks."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from typing import Any

from app.eis.contract import problems


class Witness:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.execute(
            "CREATE TABLE IF NOT EXISTS checkpoints (lane TEXT, n INTEGER, sha256 TEXT, prev TEXT, at REAL,"
            " PRIMARY KEY (lane, n))"
        )

    def _held(self, lane: str, n: int) -> str | None:
        row = self.db.execute("SELECT sha256 FROM checkpoints WHERE lane=? AND n=?", (lane, n)).fetchone()
        return str(row[0]) if row else None

    def take(self, msg: Any) -> tuple[int, dict[str, Any]]:
        """(HTTP status, answer) for a checkpoint message; ``again`` in an answer: it was held."""
        if errors := problems("checkpoint", msg):
            return 422, {"errors": errors}
        lane, n, line = msg["lane"], msg["checkpoint"]["n"], msg["checkpoint"]["line"]
        try:
            body = json.loads(line)
        except ValueError:
            return 422, {"errors": ["checkpoint.line: not JSON"]}
        if not isinstance(body, dict) or body.get("n") != n:
            return 422, {"errors": ["checkpoint.line: its n is not the checkpoint's"]}
        digest = hashlib.sha256(line.encode()).hexdigest()
        held = self._held(lane, n)
        if held is not None and held != digest:
            return 409, {"errors": [f"checkpoint {n}: another line was acknowledged under this number"]}
        before = self._held(lane, n - 1)
        if before is not None and body.get("prev") != before:
            return 409, {"errors": [f"checkpoint {n}: its link is not the checkpoint {n - 1} acknowledged"]}
        if held is None:
            self.db.execute(
                "INSERT INTO checkpoints VALUES (?,?,?,?,?)", (lane, n, digest, body.get("prev"), time.time())
            )
        answer = {"status": "accepted", "receipt": f"CP-{n}", "checkpoint": {"n": n, "sha256": digest}}
        return 201, answer | ({"again": True} if held else {})

    def last(self, lane: str) -> dict[str, Any] | None:
        """The last checkpoint acknowledged for a lane."""
        row = self.db.execute(
            "SELECT n, sha256, at FROM checkpoints WHERE lane=? ORDER BY n DESC LIMIT 1", (lane,)
        ).fetchone()
        return {"n": row[0], "sha256": row[1], "at": row[2]} if row else None

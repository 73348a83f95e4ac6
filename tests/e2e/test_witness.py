"""Issue #21 item 4 (R3.10, R3.13): each signed checkpoint goes to EIS, the witness outside the lane,
once and in order, acknowledged by its number and its line's hash; a rewritten file is refused by
the witness; an answer that names another checkpoint is no acknowledgement. A real EIS simulator on
loopback HTTP, a real SQLite database, the real checkpoint file and lane key."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from app.eis.client import ROUTES
from app.eis.outbox import OutboxWorker
from app.eis.simulator import EisSimulator
from app.eis.witness import last_acknowledged
from app.journal import Journal
from app.storage.anchor import AnchorLog, LaneKey
from app.storage.crypto import Keyring
from app.storage.db import close_db, open_db
from app.storage.models import EisExchange, JournalEntry
from tests.rig import serve_loopback

LANE = "L1"


@pytest.fixture
async def eis(tmp_path: Path) -> AsyncIterator[tuple[EisSimulator, str]]:
    sim = EisSimulator(tmp_path / "eis.db", seed=1)
    runner, port = await serve_loopback(sim.app())
    await open_db(f"sqlite://{tmp_path / 'lane.db'}")
    try:
        yield sim, f"http://127.0.0.1:{port}/api/v1"
    finally:
        await close_db()
        await runner.cleanup()


def _worker(tmp_path: Path, url: str, anchors: Path, route: str = "rest") -> OutboxWorker:
    client = ROUTES[route](url, "SPO-KEY-1", 5.0)
    keyring = Keyring.create(tmp_path / "data.key") if not (tmp_path / "data.key").exists() else None
    keyring = keyring or Keyring.load(tmp_path / "data.key")
    return OutboxWorker(client, keyring, Journal(), "test", lambda: None, lane=LANE, anchors=anchors)


def _log(tmp_path: Path, name: str = "lane.key") -> AnchorLog:
    return AnchorLog(tmp_path / "anchors.log", LaneKey.create(tmp_path / name))


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


async def _checkpoints() -> list[tuple[str, str, int]]:
    rows = await EisExchange.filter(kind="checkpoint").order_by("seq")
    return [(r.idempotency_key, r.outcome, r.attempt) for r in rows]


@pytest.mark.parametrize("route", ["rest", "soap"])
async def test_each_checkpoint_goes_to_eis_once_in_order_acknowledged_by_its_hash(
    tmp_path: Path, eis: tuple[EisSimulator, str], route: str
) -> None:
    sim, url = eis
    log = _log(tmp_path)
    for k in range(3):
        log.append({"journal": (k + 1, f"{k:064x}")}, "periodic")
    worker = _worker(tmp_path, url, log.path, route)
    try:
        await worker.send_checkpoints()
        lines = _lines(log.path)
        held = sim.witness.last(LANE)
        assert held is not None and held["n"] == 3
        assert held["sha256"] == hashlib.sha256(lines[2].encode()).hexdigest()
        keys = [
            f"checkpoint-{n + 1}-{hashlib.sha256(line.encode()).hexdigest()[:16]}"
            for n, line in enumerate(lines)
        ]
        assert await _checkpoints() == [(k, "accepted", 1) for k in keys]
        kept = await last_acknowledged()
        assert kept is not None and (kept.n, kept.sha256) == (3, keys[2][-16:])
        # a new line goes alone; nothing is sent again
        log.append({"journal": (9, "9" * 64)}, "card_formed")
        await worker.send_checkpoints()
        assert [k for k, _, _ in await _checkpoints()][3:] == [
            f"checkpoint-4-{hashlib.sha256(_lines(log.path)[3].encode()).hexdigest()[:16]}"
        ]
        assert sim.duplicates == 0
        # a worker started again reads where EIS stands from the exchange journal: nothing again
        again = _worker(tmp_path, url, log.path, route)
        try:
            await again.send_checkpoints()
        finally:
            await again.client.close()
        assert len(await _checkpoints()) == 4
    finally:
        await worker.client.close()


async def test_a_rewritten_checkpoint_file_is_refused_by_the_witness_and_journalled(
    tmp_path: Path, eis: tuple[EisSimulator, str]
) -> None:
    """An insider who cuts the journal and writes the file again from a point on (with the lane's
    key, even) cannot get the witness to take it: the line after the one it holds does not link."""
    sim, url = eis
    log = _log(tmp_path)
    for k in range(2):
        log.append({"journal": (k + 1, f"{k:064x}")}, "periodic")
    worker = _worker(tmp_path, url, log.path)
    try:
        await worker.send_checkpoints()
        assert sim.witness.last(LANE)["n"] == 2  # type: ignore[index]
        lines = _lines(log.path)
        log.path.write_text(lines[0] + "\n")  # checkpoint 2 cut off, then others written after 1
        log.append({"journal": (1, "f" * 64)}, "periodic")
        log.append({"journal": (2, "e" * 64)}, "periodic")
        fresh = _worker(tmp_path, url, log.path)
        try:
            await fresh.send_checkpoints()
        finally:
            await fresh.client.close()
        outcomes = [(k.split("-")[1], o) for k, o, _ in await _checkpoints()]
        assert outcomes[2:] == [("3", "rejected")], outcomes  # 2 is held, 3 does not follow it
        said = await JournalEntry.filter(action="eis_checkpoint_refused").values_list("details", flat=True)
        assert [d["n"] for d in said] == [3]
        assert "its link is not the checkpoint 2 acknowledged" in said[0]["detail"]
        assert sim.witness.last(LANE)["n"] == 2  # type: ignore[index]
    finally:
        await worker.client.close()


async def test_an_answer_that_names_another_checkpoint_is_no_acknowledgement(tmp_path: Path) -> None:
    """Issue #21 item 2 for the witness: a receipt must name what it acknowledges."""

    async def answer(request: web.Request) -> web.Response:
        raw = await request.read()
        named = {
            "status": "accepted",
            "idempotency_key": request.headers.get("Idempotency-Key", ""),
            "digest": hashlib.sha256(raw).hexdigest(),
        }
        return web.json_response(named | {"checkpoint": {"n": 99, "sha256": "0" * 64}}, status=201)

    app = web.Application()
    app.router.add_post("/checkpoints", answer)
    runner, port = await serve_loopback(app)
    await open_db(f"sqlite://{tmp_path / 'lane.db'}")
    log = _log(tmp_path)
    log.append({"journal": (1, "1" * 64)}, "periodic")
    worker = _worker(tmp_path, f"http://127.0.0.1:{port}", log.path)
    try:
        await worker.send_checkpoints()
        (row,) = await EisExchange.filter(kind="checkpoint")
        assert row.outcome == "retry" and "names another" in row.error
        assert await last_acknowledged() is None
        assert worker._witness_queue  # still to send  # noqa: SLF001
    finally:
        await worker.client.close()
        await close_db()
        await runner.cleanup()

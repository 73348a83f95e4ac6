"""Nothing lost, nothing duplicated: the daemon is killed with SIGKILL at random moments — KILLS
times — while inspections run and cards flow to an EIS that fails and loses answers (seeded, so a
failing run repeats). Every card formed is accepted by EIS exactly once, no inspection has two
cards anywhere, every card is journalled once, every inspection's events reach EIS once and in order,
every card carries the photo of its front axle's brake test, each photo is chained once with its
file, no file is left without its row, and the integrity check passes (D4, R3.5, R3.10, issues
#7, #9 and #11)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app import config as config_mod
from app.api.client import ApiError, LaneClient
from app.demo_config import free_port, write_config
from app.eis.outbox import BACKOFF_CAP_S, BACKOFF_JITTER
from app.storage.crypto import write_secret_file
from tests.rig import PASSWORDS, create_users, integrity_argv, wait_for

pytestmark = pytest.mark.slow
SPEED = 3000.0
CARDS = 6
#: how many times the daemon is killed (issue #7 asks for at least 100)
KILLS = 100
SEED = 532


def _spawn(home: Path, *args: str) -> subprocess.Popen[bytes]:
    log = open(home / f"{args[0]}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args], cwd=home, stdout=log, stderr=subprocess.STDOUT
    )


async def _drive(sock: str, stop: asyncio.Event) -> None:
    """An operator who keeps working through daemon restarts."""
    c = LaneClient(sock, timeout_s=3)
    vehicle = {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2}
    while not stop.is_set():
        try:
            if not c.token:
                await c.login("operator", PASSWORDS["operator"])
            st = await c.call("GET", "/v1/state")
            insp = st["inspection"]
            if insp is None:
                if all(d["admitted"] for d in st["devices"]):
                    await c.call("POST", "/v1/inspections", vehicle)
            elif not any(s["status"] == "running" for s in insp["steps"]):
                pending = [s for s in insp["steps"] if s["status"] == "pending" and not s["holds"]]
                if pending and pending[0]["mode"] == "checklist":
                    await c.call("POST", f"/v1/inspections/{insp['id']}/visual", {"defects": []})
                elif pending:
                    await c.call("POST", f"/v1/inspections/{insp['id']}/steps/{pending[0]['id']}")
                elif not insp["card_holds"]:
                    await c.call("POST", f"/v1/inspections/{insp['id']}/card")
        except ApiError as exc:
            if exc.code in ("session_required", "daemon_unreachable", "daemon_timeout"):
                c.token = ""
        await asyncio.sleep(0.05)
    await c.close()


def _journalled_cards(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT details FROM journal WHERE action = 'card_formed' ORDER BY seq")
        return [json.loads(d)["card_id"] for (d,) in rows]
    finally:
        con.close()


def _inspection_entries(db: Path) -> dict[int, str]:
    """journal seq → inspection id of every entry that names an inspection (what goes out as events)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT seq, details FROM journal ORDER BY seq")
        return {seq: d["inspection_id"] for seq, raw in rows if (d := json.loads(raw)).get("inspection_id")}
    finally:
        con.close()


def _feed_position(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        row = con.execute("SELECT last_seq FROM eis_feed WHERE name = 'events'").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def _undelivered(db: Path) -> list[tuple[object, ...]]:
    """What is still in the outbox, said when the drain fails: status, attempts, seconds to the next
    attempt, the last error, and each exchange of the card and of the events since its first (G2)."""
    con = sqlite3.connect(db)
    try:
        now = time.time()
        out: list[tuple[object, ...]] = []
        for card, status, attempts, nxt, err in con.execute(
            "SELECT card_id, status, attempts, next_attempt, last_error FROM outbox"
            " WHERE status != 'accepted'"
        ).fetchall():
            out.append((card, status, attempts, round(nxt - now, 1), err))
            out += con.execute(
                "SELECT kind, attempt, outcome, http_status, error, round(ts - ?, 1) FROM eis_exchanges"
                " WHERE card_id = ? OR (kind = 'events' AND ts >= (SELECT min(ts) FROM eis_exchanges"
                " WHERE card_id = ?)) ORDER BY id",
                (now, card, card),
            ).fetchall()
        return out
    finally:
        con.close()


def _cards(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [r[0] for r in con.execute("SELECT card_id FROM cards ORDER BY seq")]
    finally:
        con.close()


async def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "lane"
    home.mkdir()
    eis_port = free_port()
    cfg_file = write_config(home, SPEED, eis_port)
    cam_port = free_port()
    cfg_file.write_text(
        cfg_file.read_text()
        + f'\n[[cameras]]\nid = "front"\nkind = "mjpeg"\nurl = "http://127.0.0.1:{cam_port}/mjpeg"\n'
        f'onvif = "http://127.0.0.1:{cam_port}/onvif/device_service"\nserial = "DS-KILL-0001"\n'
        'roles = ["photo"]\n'
    )
    write_secret_file(home / "keys" / "eis-id.key", "TEST-SPO-KEY\n")
    cfg = config_mod.load(cfg_file)
    await create_users(cfg)
    eis = _spawn(
        home, "eis-sim", "--port", str(eis_port), "--db", "eis.db", "--fail-rate", "0.2",
        "--lose-rate", "0.3", "--seed", str(SEED),
    )  # fmt: skip
    sim = _spawn(
        home, "sim", "device", "--profile", "jx-brake", "--serial", "2231-0457",
        "--link", "dev/brake", "--speed", str(SPEED), "--rate", "20",
    )  # fmt: skip
    camera = _spawn(home, "camera-sim", "--port", str(cam_port), "--serial", "DS-KILL-0001")
    rng = random.Random(SEED)
    daemon: subprocess.Popen[bytes] | None = None
    stop = asyncio.Event()
    driver = asyncio.create_task(_drive(str(cfg.socket_path), stop))
    kills = 0
    try:
        deadline = time.monotonic() + 600
        while kills < KILLS and time.monotonic() < deadline:
            daemon = _spawn(home, "daemon", "--config", str(cfg_file))
            # The moment of the kill is the fault being injected, drawn from the seeded generator.
            await asyncio.sleep(rng.uniform(0.3, 2.0))
            os.kill(daemon.pid, signal.SIGKILL)
            daemon.wait()
            kills += 1
        assert kills >= KILLS, f"only {kills} kills in the time allowed"
        daemon = _spawn(home, "daemon", "--config", str(cfg_file))

        async def enough() -> bool:
            return (home / "otolane.db").exists() and len(_cards(home / "otolane.db")) >= CARDS

        await wait_for(enough, f"{CARDS} cards", timeout=120)
        stop.set()
        await driver
        # Let the surviving daemon drain the outbox. EIS now answers every message: a card that
        # failed many times waits up to the back-off's longest, so with faults left on no bound would
        # hold; with them off, whatever is not accepted by its next attempt is a defect.
        eis_stats = f"http://127.0.0.1:{eis_port}/api/v1/stats"
        control = urllib.request.Request(
            f"http://127.0.0.1:{eis_port}/api/v1/control",
            data=json.dumps({"fail_rate": 0, "lose_rate": 0}).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(control).close()  # noqa: S310
        formed = _cards(home / "otolane.db")

        def pending() -> int:
            con = sqlite3.connect(home / "otolane.db")
            try:
                return con.execute("SELECT COUNT(*) FROM outbox WHERE status != 'accepted'").fetchone()[0]
            finally:
                con.close()

        end = time.monotonic() + BACKOFF_CAP_S * (1 + BACKOFF_JITTER) + 60
        db = home / "otolane.db"
        while (pending() or _feed_position(db) < max(_inspection_entries(db))) and time.monotonic() < end:
            await asyncio.sleep(0.3)
        assert pending() == 0, _undelivered(db)
        assert _feed_position(db) >= max(_inspection_entries(db)), "events left behind"
        with urllib.request.urlopen(f"http://127.0.0.1:{eis_port}/api/v1/cards") as r:  # noqa: S310
            eis_rows = json.load(r)
        with urllib.request.urlopen(eis_stats) as r:  # noqa: S310
            stats = json.load(r)
        ids = [row["card_id"] for row in eis_rows]
        keys = [row["key"] for row in eis_rows]
        carded = [row["inspection_id"] for row in eis_rows]
        assert sorted(ids) == sorted(formed), "a card formed here is missing at EIS, or one is extra"
        assert len(set(ids)) == len(ids), "EIS holds a card twice (a retry under another key)"
        assert len(set(keys)) == len(keys)
        assert len(set(carded)) == len(carded), "an inspection has two cards at EIS"
        # The answers EIS lost were retried with the same key: the duplicate path was exercised.
        assert stats["duplicates"] > 0, stats
        journalled = _journalled_cards(home / "otolane.db")
        assert sorted(journalled) == sorted(formed), "a card journalled twice, or never"
        # R3.5: every inspection's events at EIS exactly once, each inspection's in its order
        with urllib.request.urlopen(f"http://127.0.0.1:{eis_port}/api/v1/events") as r:  # noqa: S310
            got = json.load(r)
        entries = _inspection_entries(db)
        assert sorted(e["seq"] for e in got) == sorted(entries), "an event missing at EIS, or one twice"
        for insp in set(entries.values()):
            arrived = [e["seq"] for e in got if e["inspection_id"] == insp]
            assert arrived == sorted(arrived), f"the events of inspection {insp} arrived out of order"
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(driver, 5)
        for p in (daemon, sim, eis, camera):
            if p is not None and p.poll() is None:
                p.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(10)
    check = subprocess.run(
        integrity_argv(cfg_file),
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout
    assert "photos: " in check.stdout, check.stdout
    con = sqlite3.connect(home / "otolane.db")
    try:
        rows = [r[0] for r in con.execute("SELECT photo_id FROM photos")]
        taken = [
            json.loads(d)["photo_id"]
            for (d,) in con.execute("SELECT details FROM journal WHERE action = 'photo_taken'")
        ]
        with_photo = {r[0] for r in con.execute("SELECT inspection_id FROM photos")}
        carded = [r[0] for r in con.execute("SELECT inspection_id FROM cards")]
    finally:
        con.close()
    assert sorted(rows) == sorted(taken) and len(set(rows)) == len(rows), (
        "a photo chained twice or unjournalled"
    )
    assert set(carded) <= with_photo, "a card formed without the photo of its brake test"
    files = sorted(p.name.split(".")[0] for p in (home / "photos").rglob("*") if p.is_file())
    assert files == sorted(rows), "a photo file without its row, or a row without its file"
    print(
        f"kill -9: {kills} kills, {len(formed)} cards, {len(got)} events,"
        f" EIS duplicates answered: {stats['duplicates']}"
    )

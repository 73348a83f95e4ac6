"""Nothing lost, nothing duplicated: the daemon is killed with SIGKILL at random moments while
inspections run and cards flow to an EIS that drops and loses answers. Every card formed is
accepted by EIS exactly once, and the hash chains are intact (D4, R3.5, R3.10)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app import config as config_mod
from app.api.client import ApiError, LaneClient
from app.demo import write_config
from app.storage.crypto import write_secret_file
from tests.rig import PASSWORDS, create_users

pytestmark = pytest.mark.slow
SPEED = 3000.0
CARDS = 6


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
                if pending:
                    await c.call("POST", f"/v1/inspections/{insp['id']}/steps/{pending[0]['id']}")
                elif not insp["card_holds"]:
                    await c.call("POST", f"/v1/inspections/{insp['id']}/card")
        except ApiError as exc:
            if exc.code in ("session_required", "daemon_unreachable", "daemon_timeout"):
                c.token = ""
        await asyncio.sleep(0.05)
    await c.close()


def _cards(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [r[0] for r in con.execute("SELECT card_id FROM cards ORDER BY seq")]
    finally:
        con.close()


async def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "lane"
    home.mkdir()
    eis_port = _port()
    cfg_file = write_config(home, SPEED, eis_port)
    write_secret_file(home / "keys" / "eis-id.key", "TEST-SPO-KEY\n")
    cfg = config_mod.load(cfg_file)
    await create_users(cfg)
    eis = _spawn(
        home, "eis-sim", "--port", str(eis_port), "--db", "eis.db", "--fail-rate", "0.2",
        "--lose-rate", "0.3",
    )  # fmt: skip
    sim = _spawn(
        home, "sim", "device", "--profile", "jx-brake", "--serial", "2231-0457",
        "--link", "dev/brake", "--speed", str(SPEED), "--rate", "20",
    )  # fmt: skip
    rng = random.Random(532)
    daemon: subprocess.Popen[bytes] | None = None
    stop = asyncio.Event()
    driver = asyncio.create_task(_drive(str(cfg.socket_path), stop))
    kills = 0
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            daemon = _spawn(home, "daemon", "--config", str(cfg_file))
            await asyncio.sleep(rng.uniform(0.5, 2.5))
            if (home / "otolane.db").exists() and len(_cards(home / "otolane.db")) >= CARDS:
                break
            os.kill(daemon.pid, signal.SIGKILL)
            daemon.wait()
            kills += 1
        assert len(_cards(home / "otolane.db")) >= CARDS, "too few cards were formed"
        stop.set()
        await driver
        # Let the surviving daemon drain the outbox (EIS still fails and loses answers).
        eis_stats = f"http://127.0.0.1:{eis_port}/api/v1/stats"
        formed = _cards(home / "otolane.db")

        def pending() -> int:
            con = sqlite3.connect(home / "otolane.db")
            try:
                return con.execute("SELECT COUNT(*) FROM outbox WHERE status != 'accepted'").fetchone()[0]
            finally:
                con.close()

        end = time.monotonic() + 120
        while pending() and time.monotonic() < end:
            await asyncio.sleep(0.3)
        assert pending() == 0
        with urllib.request.urlopen(f"http://127.0.0.1:{eis_port}/api/v1/cards") as r:  # noqa: S310
            accepted = [row["card_id"] for row in json.load(r)]
        with urllib.request.urlopen(eis_stats) as r:  # noqa: S310
            stats = json.load(r)
        assert kills >= 3
        assert sorted(accepted) == sorted(formed)  # every card, once
        assert len(set(accepted)) == len(accepted)
        assert stats["duplicates"] >= 0
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(driver, 5)
        for p in (daemon, sim, eis):
            if p is not None and p.poll() is None:
                p.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(10)
    check = subprocess.run(
        [sys.executable, "-m", "app.cli", "integrity", "check", "--config", str(cfg_file)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout

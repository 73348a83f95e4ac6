"""``laned`` as a process: SIGTERM stops it cleanly; a client that dies mid-stream does not
disturb it; restarted, it keeps everything (nothing lost)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from app import config as config_mod
from app.api.client import LaneClient
from app.demo import write_config
from app.storage.crypto import write_secret_file
from tests.rig import PASSWORDS, create_users, wait_for


async def _start(home: Path) -> tuple[subprocess.Popen[bytes], config_mod.Config]:
    cfg_file = home / "config.toml"
    cfg = config_mod.load(cfg_file)
    p = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "daemon", "--config", str(cfg_file)],
        cwd=home,
        stderr=subprocess.PIPE,
    )

    async def up() -> bool:
        return cfg.socket_path.exists()

    await wait_for(up, "the socket")
    return p, cfg


async def test_sigterm_stops_cleanly_and_a_restart_keeps_the_inspection(tmp_path: Path) -> None:
    home = tmp_path / "lane"
    home.mkdir()
    write_config(home, 1.0, 9)
    write_secret_file(home / "keys" / "eis-id.key", "K\n")
    await create_users(config_mod.load(home / "config.toml"))
    p, cfg = await _start(home)
    c = LaneClient(str(cfg.socket_path))
    await c.login("operator", PASSWORDS["operator"])
    insp = await c.call("POST", "/v1/inspections", {"plate": "123ABC02", "category": "M1"})
    # A client that vanishes mid-stream (a dropped SSH session) must not disturb the daemon.
    gone = LaneClient(str(cfg.socket_path))
    await gone.login("technician", PASSWORDS["technician"])
    stream = gone.stream().__aiter__()
    assert (await stream.__anext__())["type"] == "hello"
    await gone.close()
    await asyncio.sleep(0.3)
    assert (await c.call("GET", "/v1/state"))["inspection"]["id"] == insp["id"]
    await c.close()
    p.send_signal(signal.SIGTERM)
    assert p.wait(20) == 0
    assert b"Traceback" not in (p.stderr.read() if p.stderr else b"")
    assert not cfg.socket_path.exists()
    con = sqlite3.connect(home / "otolane.db")
    actions = [r[0] for r in con.execute("SELECT action FROM journal ORDER BY seq")]
    con.close()
    assert actions[-1] == "daemon_stopped"
    p, cfg = await _start(home)
    try:
        c = LaneClient(str(cfg.socket_path))
        await c.login("operator", PASSWORDS["operator"])
        st = await c.call("GET", "/v1/state")
        assert st["inspection"]["id"] == insp["id"] and st["inspection"]["plate"] == "123ABC02"
        assert st["inspection"]["elapsed_s"] > 0
        await c.close()
    finally:
        p.terminate()
        p.wait(20)

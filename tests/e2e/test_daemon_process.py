"""``laned`` as a process: SIGTERM stops it cleanly and quickly, even with a client that never
reads; a client that dies mid-stream does not disturb it; restarted, it keeps everything (nothing
lost). One daemon per lane; a lost data key or a mode switch is refused or handled, never silently
(issue #7 items 4, 5, 6, 9, 10)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

from app import config as config_mod
from app.api.client import LaneClient
from app.demo_config import write_config
from app.storage.crypto import write_secret_file
from tests.rig import PASSWORDS, create_users, wait_for


def _lane(home: Path, speed: float = 1.0, **kwargs: Any) -> None:
    home.mkdir(parents=True)
    write_config(home, speed, 9, **kwargs)
    write_secret_file(home / "keys" / "eis-id.key", "K\n")


def _journal(home: Path) -> list[tuple[str, dict[str, Any]]]:
    con = sqlite3.connect(home / "otolane.db")
    try:
        return [
            (a, json.loads(d)) for a, d in con.execute("SELECT action, details FROM journal ORDER BY seq")
        ]
    finally:
        con.close()


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "daemon", "--config", str(home / "config.toml"), *args],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
    )


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


async def test_a_second_daemon_on_the_same_lane_is_refused(tmp_path: Path) -> None:
    """Issue #7 item 4: the second one says which process holds the lane; the first goes on."""
    home = tmp_path / "lane"
    _lane(home)
    await create_users(config_mod.load(home / "config.toml"))
    p, cfg = await _start(home)
    try:
        before = len(_journal(home))
        second = _run(home)
        assert second.returncode == 2, second.stderr
        assert f"pid {p.pid}" in second.stderr and "Traceback" not in second.stderr
        assert p.poll() is None and cfg.socket_path.exists()
        c = LaneClient(str(cfg.socket_path))
        await c.login("operator", PASSWORDS["operator"])  # the first daemon still answers
        await c.close()
        assert "daemon_started" not in [a for a, _ in _journal(home)[before:]]
    finally:
        p.terminate()
        p.wait(20)


def _stream_and_never_read(sock: str, token: str) -> socket.socket:
    """A WebSocket client on a frozen SSH session: it upgrades, then never reads a byte."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(sock)
    s.sendall(
        b"GET /v1/stream HTTP/1.1\r\nHost: laned\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    return s


def _queued(s: socket.socket) -> int:
    """Bytes the daemon has sent that this client has not read."""
    return int(struct.unpack("i", fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0])


async def test_sigterm_with_a_client_that_never_reads_stops_within_5_s(tmp_path: Path) -> None:
    """Issue #7 item 9: a brake tester streams 200 frames/s to a technician's screen that froze;
    once the socket's buffers are full the daemon's sends block. SIGTERM still stops it in 5 s."""
    home = tmp_path / "lane"
    _lane(home)
    await create_users(config_mod.load(home / "config.toml"))
    sim = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "sim", "device", "--profile", "jx-brake", "--serial",
         "2231-0457", "--link", str(home / "dev" / "brake"), "--rate", "200"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    p, cfg = await _start(home)
    frozen: list[socket.socket] = []
    try:
        c = LaneClient(str(cfg.socket_path))
        await c.login("technician", PASSWORDS["technician"])
        frozen = [_stream_and_never_read(str(cfg.socket_path), c.token) for _ in range(2)]

        async def blocked() -> bool:  # the daemon drops live values for them: its sends block
            st = await c.call("GET", "/v1/state")
            return bool(st["streams"]["open"] == 2 and st["streams"]["dropped"] > 0)

        await wait_for(blocked, "the frozen clients' buffers to fill")
        assert _queued(frozen[0]) > 10_000
        await c.close()
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(5)
        stopped_in = time.monotonic() - t0
        assert p.poll() == 0, f"still running {stopped_in:.1f} s after SIGTERM"
    finally:
        for proc in (p, sim):
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for s in frozen:
            s.close()
    assert _journal(home)[-1][0] == "daemon_stopped"


async def test_a_lost_data_key_with_stored_data_refuses_to_start(tmp_path: Path) -> None:
    """Issue #7 item 6: no new key over old data; the message says how to restore it."""
    home = tmp_path / "lane"
    _lane(home)
    await create_users(config_mod.load(home / "config.toml"))
    p, cfg = await _start(home)
    c = LaneClient(str(cfg.socket_path))
    await c.login("operator", PASSWORDS["operator"])
    await c.call("POST", "/v1/inspections", {"plate": "123ABC02", "category": "M1"})  # sealed data
    await c.close()
    p.terminate()
    assert p.wait(20) == 0
    key = home / "keys" / "data.key"
    shutil.move(key, tmp_path / "backup.key")
    db_before = (home / "otolane.db").read_bytes()
    r = _run(home)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(key) in r.stderr and "restore" in r.stderr.lower(), r.stderr
    assert not key.exists(), "a new key was made over the old data"
    assert (home / "otolane.db").read_bytes() == db_before
    # Another key in its place is refused too: it opens none of the stored values.
    key.write_bytes((tmp_path / "backup.key").read_bytes()[::-1])
    key.chmod(0o600)
    r = _run(home)
    assert r.returncode == 2 and "Traceback" not in r.stderr and str(key) in r.stderr, r.stderr
    shutil.copy(tmp_path / "backup.key", key)
    p, cfg = await _start(home)  # the restored key: the lane is back with its inspection
    try:
        c = LaneClient(str(cfg.socket_path))
        await c.login("operator", PASSWORDS["operator"])
        assert (await c.call("GET", "/v1/state"))["inspection"]["plate"] == "123ABC02"
        await c.close()
    finally:
        p.terminate()
        p.wait(20)


async def test_switching_a_training_lane_to_production_starts_a_fresh_clock(tmp_path: Path) -> None:
    """Issue #7 item 5: a training clock run fast never leaks its lane time into production, and
    an inspection open across the switch is aborted, journalled."""
    home = tmp_path / "lane"
    _lane(home, speed=600.0)
    await create_users(config_mod.load(home / "config.toml"))
    p, cfg = await _start(home)
    c = LaneClient(str(cfg.socket_path))
    await c.login("operator", PASSWORDS["operator"])
    insp = await c.call("POST", "/v1/inspections", {"plate": "123ABC02", "category": "M1"})

    async def long_open() -> bool:  # 20 lane minutes: a card could be formed at speed 600
        st = await c.call("GET", "/v1/state")
        return bool(st["inspection"]["elapsed_s"] > 1200)

    await wait_for(long_open, "20 lane minutes on the training clock")
    await c.close()
    p.terminate()
    assert p.wait(20) == 0
    text = (home / "config.toml").read_text()
    (home / "config.toml").write_text(
        text.replace("training = true", "training = false").replace(
            "clock_speed = 600.0", "clock_speed = 1.0"
        )
    )
    p, cfg = await _start(home)
    try:
        c = LaneClient(str(cfg.socket_path))
        await c.login("operator", PASSWORDS["operator"])
        st = await c.call("GET", "/v1/state")
        assert st["inspection"] is None, "an inspection survived the mode switch"
        assert not st["lane"]["training"] and st["lane"]["clock_speed"] == 1.0
        again = await c.call("POST", "/v1/inspections", {"plate": "123ABC02", "category": "M1"})
        assert (await c.call("GET", "/v1/state"))["inspection"]["elapsed_s"] < 60
        await c.close()
    finally:
        p.terminate()
        p.wait(20)
    journal = _journal(home)
    actions = [a for a, _ in journal]
    assert "lane_mode_changed" in actions
    aborted = [d for a, d in journal if a == "inspection_aborted"]
    assert aborted and aborted[0]["inspection_id"] == insp["id"]
    modes = [d["mode"] for a, d in journal if a == "clock_started"]
    assert modes == ["training", "production"]
    assert again["id"] != insp["id"]

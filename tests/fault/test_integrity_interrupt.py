"""``otolane integrity check`` stopped part-way (issue #20 item 3, R3.13): by SIGTERM or Ctrl-C it
saves its position, says how to go on and exits 3; killed with SIGKILL it loses at most the last
second; ``--resume`` continues from the saved position (not from the start) to the same verdict."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from app import config as config_mod
from app.demo_config import write_config
from app.integrity import position
from app.storage.store import close_store, open_store
from tests.rig import append_readings, integrity_argv

ROWS = 400_000


@pytest.fixture(scope="module")
def lane(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import asyncio

    home = tmp_path_factory.mktemp("lane")
    cfg_file = write_config(home, 1.0, 9)

    async def build() -> None:
        store = await open_store(config_mod.load(cfg_file))
        try:
            sealed = store.keyring.seal_json({"value": 1}, "r")
            await append_readings(ROWS, lambda k: sealed)
            await store.checkpoint("built")
        finally:
            await close_store()

    asyncio.run(build())
    return cfg_file


def _start(cfg: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        integrity_argv(cfg, "--progress", "json", *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _progress_until(proc: subprocess.Popen[str], done: int) -> dict[str, object]:
    """Progress lines from stderr until one says at least ``done`` rows."""
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(
                f"the check ended first: {proc.wait()} {proc.stdout.read() if proc.stdout else ''}"
            )
        fig = json.loads(line)
        assert 0 <= fig["done"] <= fig["total"] and fig["phase"]
        if fig["done"] >= done:
            return fig
    raise AssertionError("no progress")


def test_sigterm_saves_the_position_and_resume_finishes_from_it(lane: Path) -> None:
    proc = _start(lane)
    _progress_until(proc, 4000)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3, out
    assert "interrupted at" in out and "--resume" in out

    resumed = _start(lane, "--resume", "--json")
    first = _progress_until(resumed, 1)
    assert first["done"] >= 4000, "resumed from the start, not from the saved position"
    out, _ = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, out
    report = json.loads(out)
    assert report["ok"] and not report["interrupted"] and report["rows"] >= ROWS


def test_a_killed_check_resumes_from_its_last_saved_position(lane: Path) -> None:
    saved = _position_file(lane)
    before = saved.stat().st_mtime_ns if saved.exists() else 0
    proc = _start(lane)
    fig = _progress_until(proc, 1)
    # past its first save (once a second, at the end of a page), not yet at the end: a loaded
    # machine can take more than a second a page, so the test waits for the file, not the clock
    while not saved.exists() or saved.stat().st_mtime_ns == before:
        fig = _progress_until(proc, int(fig["done"]) + 1)  # type: ignore[call-overload]
    proc.kill()
    proc.wait(10)
    assert int(fig["done"]) < int(fig["total"]), "the check ended before it was killed"  # type: ignore[call-overload]
    assert proc.stderr is not None
    last = max([int(fig["done"])] + [json.loads(x)["done"] for x in proc.stderr.read().splitlines()])  # type: ignore[call-overload]
    resumed = _start(lane, "--resume")
    first = _progress_until(resumed, 1)
    assert 2000 < int(first["done"]) <= last + 2000, (first, last)  # type: ignore[call-overload]
    out, _ = resumed.communicate(timeout=120)
    assert resumed.returncode == 0 and out.splitlines()[-1] == "result: OK", out
    assert "no interrupted check to resume" not in out


def _position_file(cfg: Path) -> Path:
    c = config_mod.load(cfg)
    return position.state_file(c.path(c.storage["anchor_file"]))

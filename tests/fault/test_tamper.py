"""R3.10 / R3.13: a reading edited directly in the SQLite file is found and named by
``otolane integrity check``."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.rig import admitted, run_brake_steps, start_rig, wait_for


def _check(cfg: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "integrity", "check", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_an_edited_reading_is_found_and_named(tmp_path: Path) -> None:
    rig = await start_rig(tmp_path / "lane")
    try:
        op = await rig.client("operator")
        await wait_for(lambda: admitted(op), "the brake tester")
        insp = await op.call(
            "POST", "/v1/inspections", {"plate": "123ABC02", "category": "M1", "fuel": "petrol"}
        )
        await run_brake_steps(op, insp)
    finally:
        await rig.close()
    cfg = rig.home / "config.toml"
    ok = _check(cfg)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "chain readings:" in ok.stdout and "intact" in ok.stdout and "result: OK" in ok.stdout

    con = sqlite3.connect(rig.home / "otolane.db")
    (n,) = con.execute("SELECT COUNT(*) FROM readings").fetchone()
    assert n > 8
    # Someone with the database file swaps the sealed value of reading 5 for that of reading 6.
    con.execute("UPDATE readings SET sealed = (SELECT sealed FROM readings WHERE seq = 6) WHERE seq = 5")
    con.commit()
    con.close()
    bad = _check(cfg)
    assert bad.returncode == 1
    assert "chain readings: BROKEN at readings: row 5: content changed after it was written" in bad.stdout
    assert "INTEGRITY FAILURE" in bad.stdout
    assert "Traceback" not in bad.stderr

"""Issue #24 (1): ``otolane setup`` makes a freshly installed lane ready — keys, the first
administrator, the EIS identification key (R4), the trust roots (R3.1), the update root (R3.14),
backups (R3.11) — each step said as done, skipped or still to do; run again it changes nothing;
run as root it makes the lane's files as the owner of the lane's data, never as root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.demo_config import write_config

NOBODY = 65534


def _setup(cfg: Path, stdin: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "setup", "--config", str(cfg), "--password-stdin", *extra],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OTOLANE_LANG": "en"},
    )


def test_setup_makes_the_lane_ready_says_what_is_left_and_changes_nothing_the_second_time(
    tmp_path: Path,
) -> None:
    cfg = write_config(tmp_path, 1.0, 9)
    first = _setup(cfg, "Green-Plate-63\nSPO-KEY-1\n")
    assert first.returncode == 4, first.stdout + first.stderr  # steps left: said, not hidden
    out = first.stdout
    assert "[ok] administrator admin added" in out and "[ok] EIS identification key installed" in out
    assert "[!!] to do: the NCA roots" in out and "[!!] to do: updates (R3.14)" in out
    assert "[ok] backups: the backup key" in out
    for key in ("data.key", "lane-sign.key", "eis-id.key", "backup.key"):
        assert (tmp_path / "keys" / key).stat().st_mode & 0o077 == 0, key
    again = _setup(cfg, "")
    assert "[--] an administrator exists (admin)" in again.stdout
    assert "[--] the EIS identification key is installed" in again.stdout
    assert "nothing: the key and the repository are there" in again.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="root's setup gives its files to the lane's user")
def test_root_gives_every_file_it_made_to_the_owner_of_the_lanes_data(tmp_path: Path) -> None:
    home = tmp_path / "lane"
    cfg = write_config(home, 1.0, 9)
    for p in [home, *home.rglob("*")]:
        shutil.chown(p, NOBODY, NOBODY)
    done = _setup(cfg, "Green-Plate-63\n\n")
    assert "[ok] administrator admin added" in done.stdout, done.stdout + done.stderr
    assert "given to the lane's user" in done.stdout
    made = [p for p in home.rglob("*") if p.stat().st_uid != NOBODY]
    assert made == [], made  # the database, its WAL, the keys, the checkpoint file, the backups: the lane's
    assert (home / "keys" / "data.key").stat().st_mode & 0o077 == 0

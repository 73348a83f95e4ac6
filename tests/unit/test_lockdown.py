"""D1, R10.1 (issue #24 (6)): the console's lock-down as ``otolane lockdown`` writes it — USB storage
only for the serials the configuration allows, SysRq off, no log-in on another console — read back
by ``--check``; a serial that could break out of the udev rule is refused; the keymap that binds no
console switch is one ``loadkeys`` accepts. What only a real kiosk can show is in docs/operations.md."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.demo_config import write_config

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"


def _lane(tmp_path: Path, serials: str) -> Path:
    cfg = write_config(tmp_path, 1.0, 9)
    cfg.write_text(cfg.read_text() + f"\n[kiosk]\nusb_storage_allowed = {serials}\n")
    return cfg


def _otolane(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OTOLANE_LANG": "en"},
        timeout=60,
    )


def test_lockdown_writes_the_rules_and_check_reads_them_back(tmp_path: Path) -> None:
    cfg = _lane(tmp_path, '["AA0011223344", "NCA-KEY.01"]')
    root = tmp_path / "root"
    before = _otolane("lockdown", "--config", str(cfg), "--root", str(root), "--check")
    assert before.returncode == 1 and "missing: run otolane lockdown" in before.stdout
    done = _otolane("lockdown", "--config", str(cfg), "--root", str(root))
    assert done.returncode == 0, done.stderr
    rule = (root / "etc/udev/rules.d/70-otolane-usb-storage.rules").read_text()
    lines = rule.splitlines()
    # storage interfaces (class 08) of any other device are de-authorised; the two allowed pass
    assert lines.index('ATTRS{serial}=="AA0011223344", GOTO="otolane_usb_end"') < lines.index(
        'ATTR{authorized}="0"'
    )
    assert 'ATTRS{serial}=="NCA-KEY.01", GOTO="otolane_usb_end"' in lines
    assert 'ATTR{bInterfaceClass}!="08", GOTO="otolane_usb_end"' in lines
    assert (root / "etc/sysctl.d/90-otolane.conf").read_text().strip().endswith("kernel.sysrq = 0")
    assert "NAutoVTs=0" in (root / "etc/systemd/logind.conf.d/90-otolane.conf").read_text()
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/sysrq").write_text("176\n")  # Debian's default: some keys allowed
    after = _otolane("lockdown", "--config", str(cfg), "--root", str(root), "--check")
    assert "ok  etc/udev/rules.d/70-otolane-usb-storage.rules" in after.stdout
    assert "BAD kernel.sysrq: is 176" in after.stdout and "BAD ctrl-alt-del.target" in after.stdout
    assert after.returncode == 1


@pytest.mark.parametrize("serial", ['X", RUN+="/bin/sh', "a b", "", "x" * 65])
def test_a_serial_that_is_not_one_is_refused_before_anything_is_written(tmp_path: Path, serial: str) -> None:
    cfg = _lane(tmp_path, f"[{serial!r}]".replace("'", '"') if '"' not in serial else "['" + serial + "']")
    root = tmp_path / "root"
    done = _otolane("lockdown", "--config", str(cfg), "--root", str(root))
    assert done.returncode == 2 and "is not a USB serial number" in done.stderr, done.stderr
    assert not root.exists()


def test_the_console_keymap_binds_no_console_switch_and_loadkeys_takes_it() -> None:
    keymap = (KIOSK / "novt.map").read_text()
    for k in [*range(59, 69), 87, 88]:  # F1–F10, F11, F12
        for mods in ("alt", "control alt", "altgr"):
            assert f"{mods} keycode {k} = VoidSymbol" in keymap
    if not shutil.which("loadkeys"):
        pytest.fail("loadkeys (kbd) is not installed: ./lane installs it")
    got = subprocess.run(["loadkeys", "--parse", str(KIOSK / "novt.map")], capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    unit = (KIOSK / "otolane-console.service").read_text()
    assert "ExecStartPre=-+/usr/bin/loadkeys -q /usr/share/otolane/novt.map" in unit

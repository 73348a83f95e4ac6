"""R10.1, D1 (issue #24 (6)): the kiosk's units keep each process to what it needs — scored by
``systemd-analyze security --offline=true`` (the daemon and the backup at most 2.0, the operator's
console and the updater at most 4.0; the figures printed) — and say nothing systemd does not
understand (a misspelt directive is ignored by systemd with a warning: the protection it meant
would silently be gone)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"
#: unit → the highest exposure it may have (systemd's scale: 0 safe … 10 exposed)
LIMITS = {
    "laned.service": 2.0,
    "otolane-backup.service": 2.0,
    "otolane-console.service": 4.0,
    # root, as it must be to install into /opt and restart laned; its releases' checks run as the lane
    "otolane-update.service": 4.0,
}


@pytest.mark.parametrize("unit", sorted(LIMITS))
def test_each_unit_is_exposed_no_more_than_its_limit(unit: str) -> None:
    out = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(KIOSK / unit)],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    found = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", out)
    assert found, out[-500:]
    print(f"{unit}: {found.group(1)} {found.group(2)} (at most {LIMITS[unit]})")
    assert float(found.group(1)) <= LIMITS[unit], out


@pytest.mark.parametrize(
    "unit", sorted(p.name for p in KIOSK.glob("*.service")) + sorted(p.name for p in KIOSK.glob("*.timer"))
)
def test_each_unit_says_only_what_systemd_understands(unit: str) -> None:
    got = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(KIOSK / unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = [
        line
        for line in (got.stdout + got.stderr).splitlines()
        if line.strip() and "is not executable" not in line  # /opt/otolane exists on a lane, not here
    ]
    assert not said, "\n".join(said)


def test_a_technician_over_ssh_gets_the_screen_and_nothing_else() -> None:
    """D1, D5, R10.1: sshd forces the lane screen on the technicians' group; no forwarding of any
    kind, no user rc (the checklist in docs/operations.md checks it on a kiosk with sshd -T)."""
    text = (KIOSK / "sshd-otolane.conf").read_text()
    lines = [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    said = {words[0]: " ".join(words[1:]) for words in lines}
    assert said["Match"] == "Group otolane-tech"
    assert said["ForceCommand"].startswith("/opt/otolane/current/bin/otolane tui ")
    for key in ("AllowTcpForwarding", "AllowStreamLocalForwarding", "AllowAgentForwarding", "X11Forwarding"):
        assert said[key] == "no", key
    assert said["PermitTunnel"] == "no" and said["PermitUserRC"] == "no"
    assert said["PermitListen"] == "none" and said["PermitOpen"] == "none"

"""R10.1 (issue #24 (6)): the kiosk's firewall lets out only what the lane's configuration names —
EIS, each camera and its ONVIF address, a networked stand, the CUPS server, PostgreSQL, the NCA's
OCSP, an off-site backup — plus DNS and NTP, and in only SSH; nftables itself accepts the ruleset
(``nft -c``); a name that does not resolve is said, not written as an open rule."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app import config as config_mod
from app.errors import OtolaneError
from app.firewall import ruleset

LANE = """
[lane]
name = "Lane 2"
[eis]
url = "https://203.0.113.10:8443/api/v1"
[printer]
queue = "cards"
server = "192.168.1.40"
[storage]
dsn = "postgres://otolane@192.168.1.50/otolane"
[eds]
ocsp_url = "http://91.195.226.34/"
[backup]
repository = "rest:https://backup:secret@198.51.100.5:8000/lane2"
[[devices]]
id = "brake"
kind = "brake"
profile = "jx-brake"
port = "socket://192.168.1.30:4001"
serial = "1"
verified_until = 2030-01-01
[[cameras]]
id = "front"
kind = "rtsp"
url = "rtsp://192.168.1.20/stream1"
onvif = "http://192.168.1.20:8080/onvif/device_service"
serial = "F1"
[[cameras]]
id = "rear"
kind = "mjpeg"
url = "http://[2001:db8::21]/mjpeg"
serial = "R1"
"""

WANT = {
    ("203.0.113.10", 8443),  # EIS
    ("192.168.1.20", 554),  # the front camera's stream
    ("192.168.1.20", 8080),  # its ONVIF service
    ("2001:db8::21", 80),  # the rear camera, IPv6
    ("192.168.1.30", 4001),  # the brake stand on the network
    ("192.168.1.40", 631),  # CUPS
    ("192.168.1.50", 5432),  # PostgreSQL
    ("91.195.226.34", 80),  # OCSP
    ("198.51.100.5", 8000),  # the off-site backup
}


def _cfg(tmp_path: Path, text: str = LANE) -> config_mod.Config:
    (tmp_path / "lane.toml").write_text(text)
    return config_mod.load(tmp_path / "lane.toml")


def test_out_only_to_what_the_configuration_names_and_in_only_ssh(tmp_path: Path) -> None:
    rules = ruleset(_cfg(tmp_path))
    allowed = {(a, int(p)) for a, p in re.findall(r"ip6? daddr (\S+) tcp dport (\d+) accept", rules)}
    assert allowed == WANT, rules
    assert (
        "policy drop" in rules.split("chain output", 1)[1] and "policy drop" in rules.split("chain input")[1]
    )
    inbound = rules.split("chain input", 1)[1].split("chain output", 1)[0]
    assert re.findall(r"dport (\d+) accept", inbound) == ["22"], inbound
    assert "secret" not in rules  # the repository's password is no business of a firewall


def test_nftables_accepts_the_ruleset(tmp_path: Path) -> None:
    path = tmp_path / "otolane.nft"
    path.write_text(ruleset(_cfg(tmp_path)))
    nft = shutil.which("nft") or "/usr/sbin/nft"  # ./lane installs it (Debian's nftables)
    got = subprocess.run([nft, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
    assert got.returncode == 0, got.stderr


def test_a_name_that_does_not_resolve_is_said_not_opened(tmp_path: Path) -> None:
    text = LANE.replace("https://203.0.113.10:8443/api/v1", "https://eis.invalid/api/v1")
    with pytest.raises(OtolaneError) as refused:
        ruleset(_cfg(tmp_path, text))
    assert refused.value.code == "firewall_unresolved" and "eis.invalid" in refused.value.message

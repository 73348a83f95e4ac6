"""A bad configuration is refused with the file, the key, what was expected and what was found."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.config import load, parse
from app.demo import write_config
from app.errors import ConfigError

GOOD = """
[lane]
name = "Lane 2"
[eis]
url = "https://eis.example/api"
environment = "production"
[[devices]]
id = "brake"
kind = "brake"
profile = "jx-brake"
port = "/dev/ttyS1"
serial = "2231-0457"
verified_until = 2027-03-01
"""


def test_a_good_file_loads_with_defaults(tmp_path: Path) -> None:
    cfg = parse(GOOD, "lane.toml", tmp_path)
    assert cfg.lane["clock_speed"] == 1.0
    assert cfg.security["password_max_age_days"] == 30  # R3.17
    assert cfg.devices[0].serial == "2231-0457"
    assert cfg.socket_path == tmp_path / "laned.sock"


@pytest.mark.parametrize(
    ("text", "key", "found"),
    [
        (GOOD.replace('name = "Lane 2"', "name = 2"), "lane.name", "int 2"),
        (GOOD.replace('serial = "2231-0457"\n', ""), "devices[0].serial", "missing"),
        (GOOD + "\n[extra]\n", "extra", "unknown"),
        (
            GOOD.replace("verified_until = 2027-03-01", 'verified_until = "soon"'),
            "devices[0].verified_until",
            "str",
        ),
        (GOOD.replace('kind = "brake"', 'kind = "toaster"'), "devices[0].kind", "'toaster'"),
        (GOOD.replace("[lane]", "[lane]\nclock_speed = 60"), "lane.clock_speed", "60"),
        (GOOD.replace("[lane]", "[lane]\ntraining = true"), "eis.environment", "'production'"),
        ("[lane", "(syntax)", "Expected"),
    ],
)
def test_bad_files_name_the_key_and_what_was_found(text: str, key: str, found: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(text, "lane.toml", Path("."))
    assert err.value.params["file"] == "lane.toml"
    assert err.value.params["key"] == key
    assert found in err.value.params["found"]
    assert err.value.params["expected"]


def test_config_check_cli_reports_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "lane.toml"
    bad.write_text(GOOD.replace("verified_until = 2027-03-01", "verified_until = 5"))
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "config", "check", str(bad)], capture_output=True, text=True
    )
    assert r.returncode == 2
    assert "devices[0].verified_until" in r.stderr and "expected a date" in r.stderr
    assert "Traceback" not in r.stderr
    good = write_config(tmp_path, 1.0, 8765)
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "config", "check", str(good)], capture_output=True, text=True
    )
    assert r.returncode == 0 and "ok" in r.stdout


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path / "nope.toml")
    assert err.value.params["found"] == "no such file"


def test_daemon_refuses_a_fast_clock_on_a_production_lane(tmp_path: Path) -> None:
    """Issue #3 point 5: --speed other than 1 only on a training lane."""
    cfg = tmp_path / "lane.toml"
    cfg.write_text(GOOD)
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "daemon", "--config", str(cfg), "--speed", "60"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "only a training lane" in r.stderr and "Traceback" not in r.stderr

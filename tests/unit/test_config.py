"""A bad configuration is refused with the file, the key, what was expected and what was found."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import load, parse
from app.demo_config import write_config
from app.errors import ConfigError

#: a verification date a year from today: no fixed date in a fixture (issue #7 item 10)
UNTIL = (dt.date.today() + dt.timedelta(days=365)).isoformat()

GOOD = f"""
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
verified_until = {UNTIL}
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
            GOOD.replace(f"verified_until = {UNTIL}", 'verified_until = "soon"'),
            "devices[0].verified_until",
            "str",
        ),
        (GOOD.replace('kind = "brake"', 'kind = "toaster"'), "devices[0].kind", "'toaster'"),
        (GOOD.replace("[lane]", "[lane]\nclock_speed = 60"), "lane.clock_speed", "60"),
        (GOOD.replace("[lane]", "[lane]\ntraining = true"), "eis.environment", "'production'"),
        ("[lane", "(syntax)", "Expected"),
        # Issue #7 item 5: a clock that would break the lane for good.
        *[
            (GOOD.replace("[lane]", f"[lane]\ntraining = true\nclock_speed = {v}").replace(
                '"production"', '"test"'), "lane.clock_speed", found)
            for v, found in (("nan", "nan"), ("inf", "inf"), ("-inf", "-inf"), ("0", "0"),
                             ("-5", "-5"), ("1e9", "1000000000"))
        ],
        # Issue #7 item 8: where the lane would write, refused before anything is touched.
        (GOOD.replace("[lane]", '[storage]\ndsn = "mysql://lane@db/oto"\n[lane]'), "storage.dsn", "mysql"),
        (GOOD.replace("[lane]", '[storage]\ndsn = "sqlite:///"\n[lane]'), "storage.dsn", "directory"),
        (GOOD.replace("[lane]", '[daemon]\nlog_file = "/tmp"\n[lane]'), "daemon.log_file", "directory"),
        (GOOD.replace("[lane]", '[storage]\nkey_file = "/"\n[lane]'), "storage.key_file", "directory"),
        (GOOD.replace("[lane]", f'[daemon]\nsocket = "/tmp/{"s" * 120}.sock"\n[lane]'), "daemon.socket",
         "bytes"),
    ],
)  # fmt: skip
def test_bad_files_name_the_key_and_what_was_found(text: str, key: str, found: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(text, "lane.toml", Path("."))
    assert err.value.params["file"] == "lane.toml"
    assert err.value.params["key"] == key
    assert found in err.value.params["found"]
    assert err.value.params["expected"]


def test_config_check_cli_reports_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "lane.toml"
    bad.write_text(GOOD.replace(f"verified_until = {UNTIL}", "verified_until = 5"))
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "config", "check", str(bad)], capture_output=True, text=True
    )
    assert r.returncode == 2
    assert "devices[0].verified_until" in r.stderr and "expected a date" in r.stderr
    assert "Traceback" not in r.stderr
    good = write_config(tmp_path, 1.0, 8765)
    # the demo's dates move with today (UNTIL was computed at import: a run may cross midnight)
    now = (dt.date.today() + dt.timedelta(days=365)).isoformat()
    assert any(f"verified_until = {d}" in good.read_text() for d in (UNTIL, now))
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
    assert "only when lane.training = true" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("speed", ["nan", "inf", "0", "-1"])
def test_daemon_refuses_a_speed_that_would_break_the_clock(tmp_path: Path, speed: str) -> None:
    """Issue #7 item 5: non-finite or non-positive speeds are refused, even on a training lane."""
    cfg = write_config(tmp_path, 10.0, 8765)
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "daemon", "--config", str(cfg), "--speed", speed],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    assert "a finite number above 0" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "otolane.db").exists()


def test_a_directory_where_the_database_goes_is_left_as_it_was(tmp_path: Path) -> None:
    """Issue #7 item 8: a DSN naming a directory is refused and the directory's mode stays."""
    cfg = write_config(tmp_path, 1.0, 8765)
    (tmp_path / "dbdir").mkdir(mode=0o755)
    os.chmod(tmp_path / "dbdir", 0o755)
    cfg.write_text(cfg.read_text().replace('dsn = "sqlite://otolane.db"', 'dsn = "sqlite://dbdir"'))
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "daemon", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "storage.dsn" in r.stderr and "directory" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert (tmp_path / "dbdir").stat().st_mode & 0o777 == 0o755


def test_every_demo_vehicle_brings_a_scenario_a_demo_stand_plays() -> None:
    """Issue #8: ``otolane demo --vehicle NAME`` sets the stands' scenario; each name must be one a
    stand of the demo lane knows (weak brakes: the brake stand's weak rear axle, whose card and
    failures sheet tests/e2e/test_card_pdf.py checks in-process)."""
    from app.demo import DEMO_VEHICLES
    from app.demo_config import DEMO_DEVICES
    from drivers.registry import SCENARIOS

    played = {name for d in DEMO_DEVICES for name in SCENARIOS[d.profile]}
    assert {v.scenario for v in DEMO_VEHICLES.values()} <= played
    assert DEMO_VEHICLES["weak-brakes"].scenario in SCENARIOS["jx-brake"]

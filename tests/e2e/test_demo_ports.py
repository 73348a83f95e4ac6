"""The demo's simulators listen on the port the kernel gives them as they bind (port 0) and the lane's
configuration is written with the ports they say: no other process can take one in between (a port
picked free and bound a moment later once was — "address already in use" under parallel tests)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from app.demo import Processes, port_of
from app.errors import OtolaneError


def test_a_simulator_says_its_port_and_an_older_runs_line_is_not_taken(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    (home / "logs").mkdir(parents=True)
    (home / "logs" / "eis-sim.out").write_text("ready http://127.0.0.1:1\n")  # a run before this one
    procs = Processes(home)
    try:
        proc = procs.start("eis-sim", "eis-sim", "--port", "0", "--db", "eis-sim.db")
        port = port_of(procs.ready("eis-sim", proc)[0])
        assert port not in (0, 1)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # it listens there
    finally:
        procs.stop()


def test_a_simulator_that_ends_before_it_is_ready_is_said(tmp_path: Path) -> None:
    procs = Processes(tmp_path / "demo")
    try:
        proc = procs.start("eis-sim", "eis-sim", "--port", "-5", "--db", "eis-sim.db")
        with pytest.raises(OtolaneError) as err:
            procs.ready("eis-sim", proc, timeout=30)
        assert err.value.code == "demo_failed" and "eis-sim" in err.value.message
    finally:
        procs.stop()

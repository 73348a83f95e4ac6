"""The ports the demo and the tests give their simulators: chosen below the kernel's ephemeral range,
where no outgoing connection's local end can take them before the server binds (a demo run failed
with a camera simulator's port 'already in use'). Operations: ``./lane demo`` starts reliably."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from app import demo_config as demo


def test_a_free_port_is_below_the_ephemeral_range_and_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranges = tmp_path / "ip_local_port_range"
    ranges.write_text("32768\t60999\n")
    monkeypatch.setattr(demo, "EPHEMERAL_RANGE_FILE", ranges)
    ports = {demo.free_port() for _ in range(40)}
    assert all(demo.LOWEST_PORT <= p < 32768 for p in ports)
    assert len(ports) > 30  # at random, not one port for everyone
    for p in list(ports)[:5]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))  # free indeed


def test_a_taken_port_is_never_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A drawn port that is taken is skipped for the next draw; with no room below the range, or
    the range unreadable (Linux's default then), a port is still given."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        ranges = tmp_path / "ip_local_port_range"
        ranges.write_text(f"{port + 100} 60999\n")
        monkeypatch.setattr(demo, "EPHEMERAL_RANGE_FILE", ranges)
        monkeypatch.setattr(demo, "LOWEST_PORT", port - 2000)
        draws = iter([2000, 2001])  # the taken port first, then the one above it
        monkeypatch.setattr(demo.secrets, "randbelow", lambda _n: next(draws))
        assert demo.free_port() == port + 1
        monkeypatch.undo()
        ranges.write_text(f"{demo.LOWEST_PORT + 10} 60999\n")  # no room below the range
        monkeypatch.setattr(demo, "EPHEMERAL_RANGE_FILE", ranges)
        assert demo.free_port() >= demo.LOWEST_PORT + 10  # the kernel's choice, in its range
        monkeypatch.setattr(demo, "EPHEMERAL_RANGE_FILE", tmp_path / "missing")
        assert demo.LOWEST_PORT <= demo.free_port() < 32768
    finally:
        taken.close()

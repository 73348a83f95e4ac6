"""End to end as a new user would: ``./lane demo`` in a real terminal (tmux, 80×24), log in,
read the idle rollers' force off the screen, start a car and run steps until the brake tester has
measured — the force on screen rises from the idle drag to the braking force — log out, quit, and
the demo's processes are gone."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


class Tmux:
    def __init__(self, name: str) -> None:
        self.base = ["tmux", "-L", name]

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, check=False).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "demo")

    def wait(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.screen())
            if m:
                return m
            time.sleep(0.3)
        raise AssertionError(f"'{pattern}' never appeared; screen:\n{self.screen()}")

    def cursor_on(self, placeholder: str, timeout: float = 30) -> None:
        """Wait until the empty field showing ``placeholder`` has the cursor: its first letter is
        drawn in a style of its own (the cursor cell). Keys typed before focus has moved would go to
        the previous field, so the test waits as a person's eyes would."""
        head, rest = re.escape(placeholder[0]), re.escape(placeholder[1:])
        pattern = re.compile(rf"(?:\x1b\[[0-9;]*m)+{head}(?:\x1b\[[0-9;]*m)+{rest}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pattern.search(self("capture-pane", "-e", "-p", "-t", "demo")):
                return
            time.sleep(0.1)
        raise AssertionError(f"the cursor never reached the field '{placeholder}'; screen:\n{self.screen()}")

    def type(self, text: str) -> None:
        self("send-keys", "-t", "demo", "-l", text)

    def key(self, key: str) -> None:
        self("send-keys", "-t", "demo", key)

    def brake_max(self) -> tuple[float, float] | None:
        m = re.search(r"max (\d+\.\d\d)/(\d+\.\d\d) kN", self.screen())
        return (float(m.group(1)), float(m.group(2))) if m else None


def test_lane_demo_in_a_real_terminal(tmp_path: Path) -> None:
    if not shutil.which("tmux"):
        pytest.fail("tmux is not installed: ./lane installs it")
    home = tmp_path / "demo"
    tmux = Tmux(f"otolane-test-{os.getpid()}")
    # the pane outlives a demo that ends early, so a failed wait shows why (it showed a blank screen)
    cmd = f"cd {ROOT} && ./lane demo --dir {home} --lang en; echo demo ended $?; sleep 600"
    tmux("new-session", "-d", "-s", "demo", "-x", "80", "-y", "24", cmd)
    try:
        tmux.wait("Log in to the lane", timeout=120)
        # D1: the terminal's signal keys do not end the screen (there is no shell behind it)
        for key in ("C-c", "C-z", "C-\\"):
            tmux.key(key)
        time.sleep(1.5)  # a screen that ended would be gone by now
        assert "Log in to the lane" in tmux.screen() and "demo ended" not in tmux.screen(), tmux.screen()
        accounts = dict(line.split() for line in (home / "accounts.txt").read_text().splitlines())
        # R3.1: name, Enter, password, Enter in one burst, as a fast typist or an SSH link delivers
        # them (they all went into the name field while Enter's move of the focus waited)
        tmux.type(f"operator\r{accounts['operator']}\r")
        m = tmux.wait(r"Brake tester\s+L (\d+\.\d\d) R (\d+\.\d\d) kN", timeout=30)
        idle = float(m.group(1))
        assert 0.0 <= idle < 1.0  # idle rollers: a live drag force
        screen = tmux.screen()
        assert "EIS ● 0 waiting" in screen and "F2 New car" in screen
        # issue #23 (9): the demo's clock runs ×10 unless told otherwise, and the screen says so
        assert "TRAINING ×10" in screen, screen
        assert all(len(line) <= 80 for line in screen.splitlines())
        # R3.2: F2, the plate and Enter at once (they were lost while the form came up); the plate
        # typed replaces the one read off the camera, selected in the field
        tmux("send-keys", "-t", "demo", "F2", "777ABC01", "Enter")
        tmux.wait(r"777ABC01 · M1")
        # F5 runs the next step whenever none runs; the brake tester's turn comes after the plates.
        deadline = time.monotonic() + 120
        while tmux.brake_max() is None and time.monotonic() < deadline:
            tmux.key("F5")
            tmux.wait(r"running|✓|max", timeout=10)
            time.sleep(0.3)  # poll interval
        got = tmux.brake_max()
        assert got is not None, tmux.screen()
        assert min(got) > 1.0 > idle, f"the force did not rise on screen: idle {idle}, measured {got}"
        tmux.key("C-q")  # log out
        tmux.wait("Log in to the lane")
        # R3.1: the operator signs in again with the NCA key the demo put on its "USB stick"
        tmux.key("F2")
        tmux.wait("operator.p12")
        tmux.cursor_on("Key password")
        tmux.type(accounts["operator-key"])
        tmux.key("Enter")
        tmux.wait(r"F5\s+Next step", timeout=30)  # the inspection is still open: F12, not F2
        tmux.key("C-q")  # log out
        tmux.wait("Log in to the lane")
        # The terminal closes under the demo (an SSH link dropped): its processes stop all the same.
        pids = [int(p) for p in (home / "demo.pids").read_text().split()]
        assert pids
        tmux("kill-server")
        deadline = time.monotonic() + 30
        while (home / "demo.pids").exists() and time.monotonic() < deadline:
            time.sleep(0.3)  # poll
        assert not (home / "demo.pids").exists(), "the demo's processes were not stopped"
        alive = [p for p in pids if _alive(p)]
        assert not alive, f"left running after the terminal closed: {alive}"
    finally:
        tmux("kill-server")
        # a failed run must not leave the demo's stands and daemon running (they would load the next tests)
        pids = home / "demo.pids"
        for pid in pids.read_text().split() if pids.exists() else []:
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                os.kill(int(pid), signal.SIGTERM)


def _alive(pid: int) -> bool:
    """A process that still runs (a zombie awaiting its parent has finished)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"

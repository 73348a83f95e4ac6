"""The demo's printer (issue #23 (8)): ``otolane printer-sim`` is a real CUPS queue whose printer
writes each job as a file; the lane prints to it through ``lp`` as to any printer, the answer says
where the paper came out, and stopping the printer leaves nothing behind."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.printer.sim import cups_missing
from tests.rig import run_to_card, start_rig, wait_for

pytestmark = pytest.mark.skipif(cups_missing() is not None, reason=str(cups_missing()))


async def test_the_demo_printer_writes_the_printed_card_where_the_lane_says(tmp_path: Path) -> None:
    out, link = tmp_path / "printed", tmp_path / "printer.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "printer-sim", "--out", str(out), "--link", str(link)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().decode().split()
        assert ready == ["ready", str(link), "demo-printer"], ready
        cups_root = Path(os.readlink(link)).parent
        rig = await start_rig(tmp_path / "lane", printer=("demo-printer", str(link)))
        try:
            op = await rig.client("operator")
            formed = await run_to_card(op, {"plate": "123ABC02", "category": "M1", "fuel": "petrol"})
            job = await op.call("POST", f"/v1/cards/{formed['card_id']}/print")
            assert job["location"] == str(out) and job["job"].startswith("demo-printer-")

            async def landed() -> bool:
                return (out / "0001.pdf").exists()

            await wait_for(landed, "the printed card in the demo's folder")
            admin = await rig.client("admin")
            issued = (await admin.call("GET", "/v1/journal?action=card_issued"))[0]["details"]
            assert hashlib.sha256((out / "0001.pdf").read_bytes()).hexdigest() == issued["sha256"]
            assert not list(out.glob("*.part"))
        finally:
            await rig.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, proc.stderr.read().decode() if proc.stderr else ""
    # its private CUPS stopped and removed, the link gone: nothing of the printer is left running
    assert not link.exists() and not link.is_symlink() and not cups_root.exists()

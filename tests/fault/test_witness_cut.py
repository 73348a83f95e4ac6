"""Issue #21 item 4 (R3.10, R3.13): an insider with the lane's disk but not its key cuts the journal's
tail, the exchanges and the checkpoint file's last lines together, back to a checkpoint where every
chain fits, and puts the feed back — every chain and the file still agree with each other. EIS, the
witness outside the lane, acknowledged a later checkpoint: ``otolane integrity check`` asks it and
names the file that ends before it. The whole lane: the daemon, the brake stand, the EIS simulator."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from app.daemon import Daemon
from tests.rig import integrity_argv, run_to_card, start_rig, wait_for

VEHICLE = {"plate": "123ABC02", "category": "M1", "fuel": "petrol"}


async def _check(cfg: Path) -> tuple[int, str]:
    """The CLI check as its own process, while this loop serves the EIS simulator it asks."""
    proc = await asyncio.create_subprocess_exec(
        *integrity_argv(cfg), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def _cut_back_to(home: Path, line_no: int) -> dict[str, list[int]]:
    """What the insider does: the file ends at line ``line_no``; every chain ends at the heads that
    line names; the feed stands no further than the journal."""
    log = home / "anchors.log"
    lines = log.read_text().splitlines()
    kept = json.loads(lines[line_no - 1])
    log.write_text("\n".join(lines[:line_no]) + "\n")
    con = sqlite3.connect(home / "otolane.db")
    try:
        for table, (seq, _) in kept["heads"].items():
            con.execute(f"DELETE FROM {table} WHERE seq > ?", (seq,))  # noqa: S608 - the lane's own tables
        con.execute("UPDATE eis_feed SET last_seq = min(last_seq, (SELECT max(seq) FROM journal))")
        con.commit()
    finally:
        con.close()
    return dict(kept["heads"])


async def test_a_checkpoint_file_cut_with_the_chains_is_named_by_the_witness(tmp_path: Path) -> None:
    rig = await start_rig(tmp_path / "lane")
    home, lane = rig.home, rig.cfg.lane["name"]
    try:
        op = await rig.client("operator")
        await run_to_card(op, VEHICLE)
        admin = await rig.client("admin")

        async def delivered() -> bool:
            return (await admin.call("GET", "/v1/state"))["outbox"]["accepted"] >= 1

        await wait_for(delivered, "the card accepted by EIS")
        for c in rig.clients:
            await c.close()
        rig.clients.clear()
        # stopped and started again: the stop's checkpoint and the start's go to the witness
        rig.daemon.stopping.set()
        await rig.tasks[1]
        stopped_at = len((home / "anchors.log").read_text().splitlines())
        rig.daemon = Daemon(rig.cfg)
        rig.tasks[1] = asyncio.create_task(rig.daemon.run())

        async def witnessed() -> bool:
            held = rig.eis.witness.last(lane)
            return held is not None and held["n"] > stopped_at

        await wait_for(witnessed, "the witness acknowledging the checkpoint of the start")
        rig.daemon.stopping.set()
        await rig.tasks[1]
        held = rig.eis.witness.last(lane)
        assert held is not None

        _cut_back_to(home, stopped_at)  # the second run's entries, exchanges and checkpoints gone
        code, out = await _check(rig.cfg.file)
        assert code == 1, out
        cut = f"anchors.log ends at checkpoint {stopped_at}, but EIS acknowledged checkpoint {held['n']}"
        assert cut in out, out
        assert "its last lines were cut off" in out and "Traceback" not in out
        assert out.count("INTEGRITY FAILURE — 1 problem(s)") == 1, out  # the witness alone tells

        # EIS out of reach: the report says the witness was not asked; the lane alone cannot tell
        # (docs/security.md: what an insider with the disk can hide while EIS is not asked)
        assert rig.runner is not None
        await rig.runner.cleanup()
        rig.runner = None
        code, out = await _check(rig.cfg.file)
        assert "witness: EIS not asked or holds nothing: it did not answer" in out, out
        assert code == 0 and "result: OK" in out, out
    finally:
        await rig.close()

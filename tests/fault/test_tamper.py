"""R3.10 / R3.13, issue #7 items 2-3: an insider with the database (sqlite3, psql) and the lane's
files changes what was measured or the state the gates rest on; ``otolane integrity check`` finds
each change and names it. On SQLite and on a real PostgreSQL server.

One lane runs an inspection to its card once per engine; each tampering is done on a copy of that
lane (the directory, and for PostgreSQL a copy of the database), then the check runs as the CLI."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from tortoise import connections

from app.storage.chain import GENESIS, STORED, row_hash
from app.storage.db import close_db, open_db
from app.storage.models import Reading
from tests.rig import integrity_argv, pg_database, run_to_card, start_rig, wait_for

VEHICLE = {"plate": "123ABC02", "category": "M1", "fuel": "petrol"}


def _check(cfg: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        integrity_argv(cfg),
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _sql(text: str) -> None:
    await connections.get("default").execute_script(text)


async def _rehash_from(seq: int) -> None:
    """What a careful insider does after changing a reading: recompute every later link."""
    table = "readings"
    prev_rows = await Reading.filter(seq=seq - 1).values_list("hash", flat=True)
    prev = str(prev_rows[0]) if prev_rows else GENESIS
    for r in await Reading.filter(seq__gte=seq).order_by("seq").values(*STORED[table]):
        r["prev_hash"] = prev
        prev = row_hash(table, r)
        await Reading.filter(seq=r["seq"]).update(hash=prev)


async def _edit_and_rehash(row: int) -> None:
    await _sql(f"UPDATE readings SET ts = ts + 1 WHERE seq = {row}")
    await _rehash_from(row)


Tamper = Callable[[], Awaitable[None]]


async def _feed_skips() -> None:
    """Issue #21 item 3: events the daemon wrote (as the next inspection's) that EIS never got, and
    the feed's position moved past them while the daemon was stopped."""
    from app.journal import Journal

    for step in ("brakes", "lights", "emissions"):
        await Journal().write("operator", "step_started", inspection_id="next-inspection", step=step)
    await _sql("UPDATE eis_feed SET last_seq = (SELECT MAX(seq) FROM journal)")


def _by_sql(text: str) -> Tamper:
    return lambda: _sql(text)


#: name → (what the insider does in the database, what the report must say)
SCENARIOS: dict[str, tuple[Tamper, str]] = {
    "tail_cut": (
        _by_sql("DELETE FROM readings WHERE seq > (SELECT MAX(seq) - 3 FROM readings)"),
        "(rows cut off its end)",
    ),
    "cards_emptied": (_by_sql("DELETE FROM cards"), "chain cards: the signed checkpoint"),
    "journal_dropped": (_by_sql("DROP TABLE journal"), "chain journal: the table journal cannot be read"),
    "reading_rehashed": (lambda: _edit_and_rehash(5), "row"),
    "first_reading_rehashed": (lambda: _edit_and_rehash(1), "row"),
    "inspection_started_moved": (
        _by_sql("UPDATE inspections SET started = started - 3600"),
        "inspection 1: started is",
    ),
    "role_raised": (
        _by_sql("UPDATE users SET role = 'admin' WHERE username = 'operator'"),
        "user operator: role is 'admin', the journal says 'operator'",
    ),
    "outbox_status_set": (_by_sql("UPDATE outbox SET status = 'refused'"), "outbox status is 'refused'"),
    "outbox_row_deleted": (_by_sql("DELETE FROM outbox"), "no outbox row"),
    # issue #21 item 3: the feed to EIS and the exchange journal (G2) held against the journal
    "eis_feed_past_the_journal": (
        _by_sql("UPDATE eis_feed SET last_seq = last_seq + 1000"),
        "past the journal's last entry",
    ),
    "eis_feed_skips_events": (_feed_skips, "no exchange shows EIS took the events of entries"),
    "eis_exchange_deleted": (
        _by_sql("DELETE FROM eis_exchanges WHERE seq = 2"),
        "chain eis_exchanges: BROKEN",
    ),
    "eis_exchanges_tail_cut": (
        _by_sql(
            "DELETE FROM eis_exchanges WHERE kind IN ('card', 'events') AND outcome = 'accepted'"
            " AND seq > (SELECT MAX(seq) - 4 FROM eis_exchanges)"
        ),
        "exchange rows taken out",
    ),
}


async def _lane(tmp_path: Path, dsn: str | None) -> Path:
    rig = await start_rig(tmp_path / "lane", dsn=dsn)
    try:
        op = await rig.client("operator")
        card = await run_to_card(op, VEHICLE)
        admin = await rig.client("admin")

        async def delivered() -> bool:
            return (await admin.call("GET", "/v1/state"))["outbox"]["accepted"] >= 1

        await wait_for(delivered, "the card accepted by EIS")
        assert card["card_id"]
    finally:
        await rig.close()
    return rig.home


def _copy(home: Path, dest: Path, dsn: str | None) -> tuple[Path, str]:
    """A copy of the lane: its directory, and for PostgreSQL a copy of its database."""
    shutil.copytree(home, dest, ignore=shutil.ignore_patterns("*.sock", "dev"))
    cfg = dest / "config.toml"
    if dsn is None:
        return cfg, f"sqlite://{dest / 'otolane.db'}"
    base, name = dsn.rsplit("/", 1)
    copy = pg_database(base, template=name)
    cfg.write_text(cfg.read_text().replace(dsn, copy))
    return cfg, copy


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_dsn"))


async def test_every_tampering_is_found_and_named(tmp_path: Path, engine: str | None) -> None:
    home = await _lane(tmp_path, engine)
    ok = _check(home / "config.toml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "chain readings:" in ok.stdout and "intact" in ok.stdout and "result: OK" in ok.stdout
    assert "checkpoints:" in ok.stdout

    missed = []
    for n, (name, (tamper, said)) in enumerate(SCENARIOS.items()):
        # a short folder: the lane's socket path must stay within 107 bytes under any temp root
        cfg, dsn = _copy(home, tmp_path / f"t{n}", engine)
        await open_db(dsn)
        try:
            await tamper()
        finally:
            await close_db()
        r = _check(cfg)
        assert "Traceback" not in r.stderr, r.stderr
        if r.returncode != 1 or "INTEGRITY FAILURE" not in r.stdout or said not in r.stdout:
            missed.append(f"{name}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    assert not missed, "\n\n".join(missed)


async def test_a_check_of_what_is_new_finds_the_feed_moved_since_the_last_good_check(tmp_path: Path) -> None:
    """Issue #21 item 3: the daily check (``--new``) reads the journal after the last good check's
    place in the feed, and finds events skipped since."""
    home = await _lane(tmp_path, None)
    cfg = home / "config.toml"
    first = subprocess.run(integrity_argv(cfg, "--new"), capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stdout
    await open_db(f"sqlite://{home / 'otolane.db'}")
    try:
        await _feed_skips()
    finally:
        await close_db()
    r = subprocess.run(integrity_argv(cfg, "--new"), capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "no exchange shows EIS took the events of entries" in r.stdout, r.stdout


async def test_the_checkpoint_file_itself_is_checked(tmp_path: Path) -> None:
    home = await _lane(tmp_path, None)
    # Removed: the chains hold rows no checkpoint vouches for.
    cfg, _ = _copy(home, tmp_path / "gone", None)
    (tmp_path / "gone" / "anchors.log").unlink()
    r = _check(cfg)
    assert r.returncode == 1 and "is missing or empty, but the chains hold" in r.stdout, r.stdout
    # One checkpoint's heads rewritten to match a cut chain: its signature no longer verifies.
    cfg, _ = _copy(home, tmp_path / "forged", None)
    log = tmp_path / "forged" / "anchors.log"
    lines = log.read_text().splitlines()
    last = json.loads(lines[-1])
    last["heads"]["readings"][0] = 1
    lines[-1] = json.dumps(last, sort_keys=True, separators=(",", ":"))
    log.write_text("\n".join(lines) + "\n")
    r = _check(cfg)
    assert r.returncode == 1 and "checkpoint file" in r.stdout, r.stdout


async def test_an_edited_reading_is_named_by_its_row(tmp_path: Path) -> None:
    """R3.10: a sealed value swapped for another row's is named with its row."""
    home = await _lane(tmp_path, None)
    con = sqlite3.connect(home / "otolane.db")
    con.execute("UPDATE readings SET sealed = (SELECT sealed FROM readings WHERE seq = 6) WHERE seq = 5")
    con.commit()
    con.close()
    bad = _check(home / "config.toml")
    assert bad.returncode == 1
    assert "chain readings: BROKEN at readings: row 5: content changed after it was written" in bad.stdout


#: the tamperings of what the lane says EIS has, checked again in the test's own process — the
#: check's feed part as ``./lane mutate`` can reach it (the CLI's process runs unmutated code)
FEED = ("eis_feed_past_the_journal", "eis_feed_skips_events", "eis_exchanges_tail_cut")


async def test_the_feed_part_names_each_tampering_of_what_eis_has_in_process(tmp_path: Path) -> None:
    """Issue #21 item 3 (G2, R3.5): the feed moved past the journal or past events EIS never took,
    and accepted exchanges taken out, are each named by the check run in this process."""
    from app import config as config_mod
    from app.integrity.check import check
    from app.storage.store import close_store, open_store

    home = await _lane(tmp_path, None)
    for n, name in enumerate(("intact", *FEED)):
        cfg_file, _ = _copy(home, tmp_path / f"f{n}", None)
        cfg = config_mod.load(cfg_file)
        store = await open_store(cfg, create=False)
        try:
            if name != "intact":
                await SCENARIOS[name][0]()
            report = await check(cfg, store)
        finally:
            await close_store()
        text = "\n".join(report["lines"])
        if name == "intact":
            assert report["ok"], text
        else:
            assert not report["ok"] and SCENARIOS[name][1] in text, f"{name}:\n{text}"

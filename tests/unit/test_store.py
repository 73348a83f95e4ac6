"""Opening the lane's evidence store (issue #7 item 6): keys made only for an empty lane, a missing or
foreign key refused with the way to restore it, the signing key's creation journalled, and the
chains held against the last signed checkpoint in a few look-ups, each damage said in words."""

from __future__ import annotations

from pathlib import Path

import pytest
from tortoise import connections

from app import config as config_mod
from app.config import Config
from app.demo_config import write_config
from app.errors import OtolaneError
from app.storage.crypto import Keyring
from app.storage.models import Card, Inspection, JournalEntry, Reading
from app.storage.store import RESTORE, close_store, open_store, public_key_path
from tests.rig import append_readings


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return config_mod.load(write_config(tmp_path, 1.0, 9))


async def _refused(cfg: Config, create: bool = True) -> OtolaneError:
    with pytest.raises(OtolaneError) as err:
        await open_store(cfg, create=create)
    return err.value


async def test_a_new_lane_gets_its_keys_and_journals_the_signing_key(cfg: Config) -> None:
    store = await open_store(cfg)
    try:
        data, signing = cfg.path(cfg.storage["key_file"]), cfg.path(cfg.storage["signing_key_file"])
        assert data.stat().st_mode & 0o777 == 0o600 and signing.stat().st_mode & 0o777 == 0o600
        assert public_key_path(cfg).read_text() == store.key.public_pem()
        made = await JournalEntry.get(action="signing_key_created")
        assert (made.actor, made.details) == (
            "laned",
            {"fingerprint": store.key.fingerprint, "path": str(signing)},
        )
        assert await store.tail_problems() == []  # no checkpoint yet: nothing to hold against
    finally:
        await close_store()
    again = await open_store(cfg)  # the same keys, nothing journalled again
    try:
        assert again.key.fingerprint == store.key.fingerprint
        assert await JournalEntry.filter(action="signing_key_created").count() == 1
    finally:
        await close_store()


async def test_a_lane_that_must_not_make_keys_says_which_is_missing(cfg: Config) -> None:
    data = cfg.path(cfg.storage["key_file"])
    err = await _refused(cfg, create=False)
    assert (err.code, err.params, err.message) == (
        "data_key_missing",
        {"path": str(data)},
        f"the data key {data} is missing: a lane's keys are made by its first start (otolane daemon) or by "
        "adding its first user (otolane user add), not by a command that only reads",
    )
    Keyring.create(data)
    signing = cfg.path(cfg.storage["signing_key_file"])
    err = await _refused(cfg, create=False)
    assert (err.code, err.params, err.message) == (
        "signing_key_missing",
        {"path": str(signing)},
        f"the lane's signing key {signing} is missing",
    )


async def _lane_with_data(cfg: Config) -> None:
    store = await open_store(cfg)
    try:
        await append_readings(3, lambda k: store.keyring.seal_json({"v": k}, f"r{k}"))
        await Inspection.create(
            id="i1",
            number=1,
            sealed=store.keyring.seal_json({"plate": "1A"}, "inspections:i1"),
            category="M1",
            fuel="petrol",
            axles=2,
            operator="op",
            started=1.0,
        )
    finally:
        await close_store()


async def test_a_missing_data_key_with_data_stored_refuses_to_start_and_says_what_it_holds(
    cfg: Config,
) -> None:
    """Issue #7 item 6: a new key would leave every stored value unreadable."""
    await _lane_with_data(cfg)
    data = cfg.path(cfg.storage["key_file"])
    data.unlink()
    err = await _refused(cfg)
    assert (err.code, err.params) == ("data_key_missing", {"path": str(data)})
    assert err.message == (
        f"the data key {data} is missing, but the database holds encrypted data (1 inspections, 3 readings); "
        f"a new key would leave all of it unreadable, so nothing starts: {RESTORE}"
    )
    assert not data.exists()  # nothing was made


async def test_another_lane_s_data_key_is_refused(cfg: Config) -> None:
    await _lane_with_data(cfg)
    data = cfg.path(cfg.storage["key_file"])
    data.unlink()
    Keyring.create(data)
    err = await _refused(cfg)
    assert (err.code, err.params) == ("data_key_wrong", {"path": str(data)})
    assert err.message.startswith(
        f"the data key {data} does not open the stored data (it is another lane's key"
    )
    assert err.message.endswith(RESTORE)


async def test_a_card_alone_proves_the_data_key_too(cfg: Config) -> None:
    store = await open_store(cfg)
    try:
        sealed = store.keyring.seal_json({"card_id": "c1"}, "cards:c1")
        await connections.get("default").execute_query(
            "INSERT INTO cards (seq, hash, card_id, inspection_id, verdict, created, sealed)"
            " VALUES (1, ?, 'c1', 'i1', 'admitted', 1.0, ?)",
            ["0" * 64, sealed],
        )
        assert await Card.all().count() == 1
    finally:
        await close_store()
    data = cfg.path(cfg.storage["key_file"])
    data.unlink()
    err = await _refused(cfg)
    assert err.code == "data_key_missing" and "(1 cards)" in err.message
    Keyring.create(data)
    assert (await _refused(cfg)).code == "data_key_wrong"


async def test_a_signing_key_the_journal_knows_cannot_be_made_anew(cfg: Config) -> None:
    store = await open_store(cfg)
    fingerprint = store.key.fingerprint
    await close_store()
    signing = cfg.path(cfg.storage["signing_key_file"])
    signing.unlink()
    err = await _refused(cfg)
    assert (err.code, err.params) == ("signing_key_missing", {"path": str(signing)})
    assert err.message == (
        f"the lane's signing key {signing} is missing, but the journal records it (fingerprint "
        f"{fingerprint}); without it no checkpoint can be trusted: {RESTORE}"
    )
    assert not signing.exists()


async def test_the_chains_are_held_against_the_last_checkpoint_in_words(cfg: Config) -> None:
    """R3.10, issue #7 item 2: a cut tail, a rewritten row and a dropped table, each said."""
    store = await open_store(cfg)
    try:
        await append_readings(5, lambda k: store.keyring.seal_json({"v": k}, f"r{k}"))
        checkpoint = await store.checkpoint("test")
        assert checkpoint is not None and checkpoint.heads["readings"][0] == 5
        assert await store.tail_problems() == []
        await Reading.filter(seq=5).update(hash="f" * 64)
        assert await store.tail_problems() == [
            f"readings: row 5 is not the row the signed checkpoint {checkpoint.n} saw (rewritten)"
        ]
        await Reading.filter(seq__gte=4).delete()
        assert await store.tail_problems() == [
            f"readings: the signed checkpoint {checkpoint.n} saw 5 rows, the table now ends at row 3 "
            "(rows cut off or the table emptied)"
        ]
        # a table that cannot be read is said, and the chains after it are still looked at
        await connections.get("default").execute_script("DROP TABLE journal")
        assert await store.tail_problems() == [
            "journal: the table cannot be read (OperationalError): dropped?",
            f"readings: the signed checkpoint {checkpoint.n} saw 5 rows, the table now ends at row 3 "
            "(rows cut off or the table emptied)",
        ]
    finally:
        await close_store()


@pytest.mark.parametrize("command", [["user", "list"], ["eis", "key", "status"]], ids=" ".join)
def test_a_command_that_only_reads_makes_no_key_on_a_lane_that_has_none(
    cfg: Config, command: list[str]
) -> None:
    """Issue #21 (7): only the daemon's first start (or the first user added) makes a lane's keys; a
    command that reads says the key is missing and leaves the key folder as it was."""
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "app.cli", *command, "--config", str(cfg.file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        r.returncode == 2 and "is missing" in r.stderr and "not by a command that only reads" in r.stderr
    ), r
    assert not cfg.path(cfg.storage["key_file"]).exists()
    assert not cfg.path(cfg.storage["signing_key_file"]).exists()

"""The EIS identification key (R4, R5): sealed at rest, never shown, two months' validity with
warnings at 14, 7 and 1 day, an older plain file sealed in place, a replacement taken without a restart."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from app.eis import idkey
from app.errors import OtolaneError
from app.storage.crypto import Keyring, write_secret_file


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.create(tmp_path / "data.key")


def test_the_key_is_sealed_on_disk_and_opens_only_with_the_lanes_data_key(
    tmp_path: Path, keyring: Keyring
) -> None:
    path = tmp_path / "eis-id.key"
    now = time.time()
    idkey.write(path, keyring, idkey.IdKey("SPO-SECRET-123", now, now + 60 * idkey.DAY))
    assert b"SPO-SECRET-123" not in path.read_bytes()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    key, plain = idkey.read(path, keyring)
    assert (key.value, plain) == ("SPO-SECRET-123", False)
    assert "SPO-SECRET" not in repr(key) and "SPO-SECRET" not in str(key.state(now))
    with pytest.raises(OtolaneError) as e:
        idkey.read(path, Keyring.create(tmp_path / "other.key"))
    assert e.value.code == "eis_key_bad"


@pytest.mark.parametrize(("days", "warn"), [(60, False), (15, False), (14, True), (7, True), (1, True)])
def test_warnings_begin_fourteen_days_before_expiry(days: int, warn: bool) -> None:
    now = time.time()
    key = idkey.IdKey("K", now - 10, now + days * idkey.DAY - 1)
    assert key.state(now)["days_left"] == days
    assert key.state(now)["warn"] is warn
    assert not key.expired(now)
    assert key.expired(now + days * idkey.DAY)


def test_a_plain_file_is_read_as_two_months_from_its_date(tmp_path: Path, keyring: Keyring) -> None:
    path = tmp_path / "eis-id.key"
    write_secret_file(path, "OLD-KEY\n")
    made = time.time() - 10 * idkey.DAY
    os.utime(path, (made, made))
    key, plain = idkey.read(path, keyring)
    assert plain and key.value == "OLD-KEY"
    assert key.days_left(time.time()) == 50


def test_a_replacement_is_taken_without_a_restart(tmp_path: Path, keyring: Keyring) -> None:
    path = tmp_path / "eis-id.key"
    now = time.time()
    idkey.write(path, keyring, idkey.IdKey("FIRST", now, now + idkey.DAY))
    source = idkey.IdKeySource(path, keyring)
    assert source.current().value == "FIRST"
    idkey.write(path, keyring, idkey.IdKey("SECOND", now, now + 60 * idkey.DAY))
    os.utime(path, (now + 5, now + 5))  # a later modification time, as a real replacement has
    assert source.current().value == "SECOND"
    path.write_text("garbage")  # a broken file keeps the last good key, and says so
    os.utime(path, (now + 9, now + 9))
    assert source.current().value == "SECOND" and source.state()["problem"] == "eis_key_bad"


def test_keys_that_are_not_keys_are_refused() -> None:
    for bad in ("", " padded ", "line\nbreak", "x" * 5000):
        assert idkey.key_problem(bad)
    assert idkey.key_problem("SPO-0f3a-9b2c") is None

"""R7: AES-256-GCM under a key kept outside the database, 0600, bound to its row."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from app.errors import OtolaneError
from app.storage.crypto import Keyring, write_secret_file


def test_sealed_data_opens_only_with_its_key_and_its_row(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "data.key"
    kr = Keyring.create(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    blob = kr.seal_json({"owner": "Жақсыбеков"}, "inspections:1")
    assert "Жақсыбеков".encode() not in blob
    assert Keyring.load(path).open_json(blob, "inspections:1") == {"owner": "Жақсыбеков"}
    with pytest.raises(OtolaneError) as err:
        kr.open_json(blob, "inspections:2")  # moved to another row
    assert err.value.code == "sealed_data_damaged"
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(OtolaneError):
        kr.open_json(bytes(tampered), "inspections:1")


def test_rotation_keeps_old_data_readable(tmp_path: Path) -> None:
    path = tmp_path / "data.key"
    kr = Keyring.create(path)
    old = kr.seal(b"before", "a")
    kr.rotate(path)
    new = kr.seal(b"after", "a")
    again = Keyring.load(path)
    assert again.open(old, "a") == b"before" and again.open(new, "a") == b"after"
    assert again.active == kr.active


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.key"
    Keyring.create(path)
    path.chmod(0o644)
    with pytest.raises(OtolaneError) as err:
        Keyring.load(path)
    assert err.value.code == "key_file_open" and err.value.params == {"path": str(path)}
    assert err.value.message == f"{path} can be read by others (mode 0o644); run: chmod 600 {path}"


def test_a_sealed_blob_names_its_format_and_key_and_changes_every_time(tmp_path: Path) -> None:
    """R7: version byte, key id length, key id, 12-byte nonce, AES-GCM text and tag."""
    kr = Keyring.create(tmp_path / "k")
    blob = kr.seal(b"plate", "r:1")
    kid = kr.active.encode()
    assert blob[0] == 1 and blob[1] == len(kid) == 8 and blob[2 : 2 + len(kid)] == kid
    assert len(blob) == 2 + len(kid) + 12 + len(b"plate") + 16
    assert kr.seal(b"plate", "r:1") != blob  # a fresh nonce each time
    assert kr.open(blob, "r:1") == b"plate"
    assert kr.seal_json({"b": "Ә", "a": 1}, "x")[0] == 1
    # sorted keys, no spaces: a value stored by the hundred per inspection
    assert kr.open(kr.seal_json({"b": "Ә", "a": 1}, "x"), "x") == '{"a":1,"b":"Ә"}'.encode()


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b"",
        lambda b: b[:1],
        lambda b: bytes([2]) + b[1:],  # another format version
        lambda b: b[:1] + bytes([7]) + b[2:],  # a key id length that does not fit
        lambda b: b[:2] + b"\xff" * 8 + b[10:],  # a key id that is not text
        lambda b: b[:2] + b"deadbeef" + b[10:],  # a key this keyring does not hold
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),
    ],
)
def test_every_damaged_blob_is_refused_naming_where_it_was(tmp_path: Path, damage: object) -> None:
    kr = Keyring.create(tmp_path / "k")
    blob = kr.seal(b"x", "cards:7")
    with pytest.raises(OtolaneError) as err:
        kr.open(damage(blob), "cards:7")  # type: ignore[operator]
    assert (err.value.code, err.value.params) == ("sealed_data_damaged", {"where": "cards:7"})
    assert err.value.message == "sealed data of cards:7 does not open"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "{path} is not a key file"),
        ("abc\n", "{path} is not a key file"),
        ("abc zz\n", "{path} is not a key file"),
        ("abc " + "00" * 16 + "\n", "{path}: keys are 256-bit"),
        ("abc " + "00" * 33 + "\n", "{path}: keys are 256-bit"),
    ],
)
def test_a_damaged_key_file_is_refused_by_name(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "data.key"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(OtolaneError) as err:
        Keyring.load(path)
    assert (err.value.code, err.value.params) == ("key_file_bad", {"path": str(path)})
    assert err.value.message == message.format(path=path)
    with pytest.raises(OtolaneError) as err:
        Keyring.load(tmp_path / "none.key")
    assert (err.value.code, err.value.params) == ("key_file_missing", {"path": str(tmp_path / "none.key")})
    assert err.value.message == f"data key {tmp_path / 'none.key'} not found"


def test_a_secret_file_in_a_new_folder_is_the_owners_alone(tmp_path: Path) -> None:
    """Key and password files are 0600 in folders of their owner only (0700): a new key folder is
    made closed, not world-listable; the file is replaced whole, no temporary left beside it."""
    path = tmp_path / "new" / "keys" / "eis-id.key"
    write_secret_file(path, "SECRET\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    write_secret_file(path, "ANOTHER\n")
    assert path.read_text(encoding="utf-8") == "ANOTHER\n" and os.listdir(path.parent) == ["eis-id.key"]


def test_rotation_appends_a_line_and_the_last_line_is_the_active_key(tmp_path: Path) -> None:
    path = tmp_path / "data.key"
    kr = Keyring.create(path)
    first = kr.active
    second = kr.rotate(path)
    assert second != first and kr.active == second
    lines = path.read_text().splitlines()
    assert [line.split()[0] for line in lines] == [first, second]
    assert all(len(line.split()[1]) == 64 for line in lines)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    third = kr.rotate(path)
    assert [line.split()[0] for line in path.read_text().splitlines()] == [first, second, third]
    assert Keyring.load(path).active == third


def test_a_compressed_blob_opens_to_its_plaintext_and_shrinks(tmp_path: Path) -> None:
    """Cards are sealed compressed (issue #20: the database per inspection): the blob says so in its
    first byte, opens to the same object, is far smaller for a card's JSON, and its kind is bound —
    the first byte changed, it does not open."""
    kr = Keyring.create(tmp_path / "k")
    card = {"items": [{"item": f"brakes.{k}", "value": k * 1.5, "norm": "≥ 50 %"} for k in range(200)]}
    plain = kr.seal_json(card, "cards:c1")
    zipped = kr.seal_json(card, "cards:c1", compress=True)
    assert zipped[0] == 2 and plain[0] == 1
    assert kr.open_json(zipped, "cards:c1") == card == kr.open_json(plain, "cards:c1")
    assert len(zipped) * 4 < len(plain)
    with pytest.raises(OtolaneError):
        kr.open(bytes([1]) + zipped[1:], "cards:c1")
    with pytest.raises(OtolaneError):
        kr.open(zipped, "cards:c2")


def test_a_compressed_blob_that_would_open_too_large_is_refused(tmp_path: Path) -> None:
    """A decompression bomb sealed with the lane's key (an insider's) opens to no more than the bound."""
    from app.storage import crypto

    kr = Keyring.create(tmp_path / "k")
    bomb = kr.seal(b"\0" * (crypto.MAX_UNZIPPED + 1), "cards:c1", compress=True)
    assert len(bomb) < 100_000
    with pytest.raises(OtolaneError, match="does not open"):
        kr.open(bomb, "cards:c1")

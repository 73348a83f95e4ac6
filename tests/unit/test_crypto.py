"""R7: AES-256-GCM under a key kept outside the database, 0600, bound to its row."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import OtolaneError
from app.storage.crypto import Keyring


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
    assert err.value.code == "key_file_open" and "chmod 600" in err.value.message

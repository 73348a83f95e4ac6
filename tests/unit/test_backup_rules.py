"""R3.11, R3.12 (issue #24): the rules of backups as pure functions — when the administrator's
screen raises the alarm, which rows a restore gave up, what of a repository may be shown, a signed
manifest held to the lane's key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app import config as config_mod
from app.backup.job import alarm
from app.backup.make import manifest_problems, repository, sign_manifest
from app.backup.restic import shown
from app.storage.anchor import LaneKey, Restore, given_up

H = 3600.0
NOW = 1_000_000.0


@pytest.mark.parametrize(
    ("configured", "last_ok", "last_failed", "want"),
    [
        (False, NOW - H, None, "backup_not_configured"),
        (True, None, None, "backup_never"),
        (True, NOW - H, None, None),
        (True, NOW - 26 * H + 1, None, None),
        (True, NOW - 26 * H - 1, None, "backup_missed"),
        (True, NOW - 2 * H, NOW - H, "backup_failed"),  # a failure after the last good one
        (True, NOW - H, NOW - 2 * H, None),  # a good one after the failure
        (True, None, NOW - H, "backup_failed"),
    ],
)
def test_the_backup_alarm_is_raised_exactly_when_the_lane_has_no_recent_good_backup(
    configured: bool, last_ok: float | None, last_failed: float | None, want: str | None
) -> None:
    assert alarm(NOW, configured, last_ok, last_failed, 26) == want


def test_a_checkpoint_before_a_restore_is_held_only_up_to_the_rows_the_restore_kept() -> None:
    """R3.12: rows past the restored heads were given up; a later checkpoint is held in full."""
    restores = [Restore(10, 0.0, "a", {"journal": 50, "cards": 3}), Restore(20, 0.0, "b", {"journal": 40})]
    assert given_up(restores, 5) == {"journal": 40, "cards": 3}  # the strictest of the later restores
    assert given_up(restores, 15) == {"journal": 40}
    assert given_up(restores, 20) == {}  # the restore's own line names what it kept: held
    assert given_up(restores, 25) == {}


def test_a_repository_is_shown_without_its_account_and_a_folder_is_the_lanes() -> None:
    """Secrets are never shown: a repository URL's account and password are cut out."""
    assert (
        shown("rest:https://lane:s3cret@backup.example.kz/otolane")
        == "rest:https://…@backup.example.kz/otolane"
    )
    assert shown("sftp:backup@nas:/srv/otolane") == "sftp:backup@nas:/srv/otolane"  # ssh keys, no password
    assert shown("/media/usb/otolane") == "/media/usb/otolane"


@pytest.mark.skipif(not shutil.which("restic"), reason="restic is installed by ./lane")
def test_a_relative_folder_is_the_configurations_and_a_url_is_kept(tmp_path: Path) -> None:
    text = '[lane]\nname = "L"\n[eis]\nurl = "http://127.0.0.1:1/"\n[backup]\nrepository = "{}"\n'
    for given, want in (("backups", str(tmp_path / "backups")), ("sftp:nas:/srv/o", "sftp:nas:/srv/o")):
        cfg = config_mod.parse(text.format(given), "t.toml", tmp_path)
        assert repository(cfg).repository == want


def test_a_manifest_verifies_with_the_lanes_key_only_as_it_was_signed() -> None:
    key = LaneKey(Ed25519PrivateKey.generate())
    body = {
        "format": 1,
        "lane": "L",
        "files": {"anchors.log": {"sha256": "00" * 32, "size": 1}},
        "last_number": 7,
    }
    signed = sign_manifest(key, body)
    assert manifest_problems(signed, key.public) == []
    assert manifest_problems(signed | {"last_number": 6}, key.public)  # a number moved back
    other = LaneKey(Ed25519PrivateKey.generate())
    assert "another lane's" in manifest_problems(signed, other.public)[0]
    assert manifest_problems({"files": "x"}, key.public) == ["manifest.json: not a backup manifest"]


def test_a_backup_manifest_larger_than_its_bound_or_not_an_object_is_said_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R3.12, trust nothing from the far side: a backup medium's manifest is read bounded."""
    import app.backup.restore as restore_mod
    from app.errors import OtolaneError

    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"pad": "x" * 5000}))
    monkeypatch.setattr(restore_mod, "MAX_MANIFEST", 1000)
    with pytest.raises(OtolaneError) as e:
        restore_mod.read_manifest(path, "abcdef123456")
    assert "larger than 1000 bytes" in e.value.message and e.value.code == "restore_failed"
    path.write_text("[1, 2]")
    with pytest.raises(OtolaneError) as e:
        restore_mod.read_manifest(path, "abcdef123456")
    assert "not a JSON object" in e.value.message

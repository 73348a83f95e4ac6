"""Tests that let a rule go no longer (issue #21, "tests that still let rules go"): each kills the
mutant named in its docstring."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.config import CameraConfig
from app.eds import certs
from app.eds.training import Pki, employee, issue, revocation_list
from app.errors import OtolaneError
from app.lane.cameras import admit
from app.lane.recorder import reading_aad
from app.storage.crypto import Keyring
from drivers.camera.base import CameraIdentity


def test_a_sealed_reading_opens_only_in_its_own_row(tmp_path: Path) -> None:
    """R7, R3.10: a reading's ciphertext is bound to its inspection, its channel and its time — moved
    to another channel or another moment of the same inspection, it does not open (the mutant: the
    associated data cut to the inspection id alone)."""
    keyring = Keyring.create(tmp_path / "k")
    blob = keyring.seal_json({"value": 3.05, "unit": "kN"}, reading_aad("i-1", "brake.force.left", 12.5))
    assert keyring.open_json(blob, reading_aad("i-1", "brake.force.left", 12.5))["value"] == 3.05
    for moved in (
        ("i-1", "brake.force.right", 12.5),
        ("i-1", "brake.force.left", 13.5),
        ("i-2", "brake.force.left", 12.5),
    ):
        with pytest.raises(OtolaneError):
            keyring.open_json(blob, reading_aad(*moved))


def _camera(**registered: str) -> CameraConfig:
    fields = {"make": "", "model": "", "serial": "SN-1"} | registered
    return CameraConfig(
        "front", "rtsp", "rtsp://127.0.0.1/x", "", roles=["front"], fps=2.0, stale_after_s=3.0, **fields
    )


@pytest.mark.parametrize("field", ["make", "model", "serial"])
def test_a_camera_is_admitted_only_with_the_make_model_and_serial_registered(field: str) -> None:
    """R3.7: the registered make and model count as the serial does (the mutant: the serial alone
    checked); the refusal names the field, what the camera reports and what is registered — the
    camera's serial under ``serial``, not its model."""
    reg = _camera(make="Hikvision", model="DS-2CD2T47", serial="SN-1")
    same = CameraIdentity("Hikvision", "DS-2CD2T47", "SN-1")
    assert admit(reg, same) == (True, {"code": "", "params": {}})
    other = {"make": "Dahua", "model": "IPC-HFW", "serial": "SN-2"}[field]
    ident = CameraIdentity(
        **({"make": "Hikvision", "model": "DS-2CD2T47", "serial": "SN-1"} | {field: other})
    )
    ok, why = admit(reg, ident)
    assert not ok and why["code"] == "camera_identity_changed"
    assert why["params"]["field"] == field and why["params"]["found"] == other
    assert why["params"]["serial"] == ident.serial
    assert why["params"]["registered"] == getattr(reg, field)


def test_a_camera_registered_by_serial_alone_is_not_held_to_a_make_or_model() -> None:
    assert admit(_camera(), CameraIdentity("Any", "Thing", "SN-1"))[0]


@pytest.mark.parametrize("days", [(-300, -1), (2, 300)], ids=["expired", "not-yet-valid"])
def test_a_key_under_an_intermediate_out_of_its_dates_is_refused(
    tmp_path: Path, days: tuple[int, int]
) -> None:
    """R3.1: every certificate of the chain is held to its dates, not the employee's alone (the
    mutant: validity checked on the leaf only); the refusal names the intermediate."""
    root = issue({"common_name": "TEST ROOT", "country_name": "KZ"}, None, ca=True, days=(-365, 3650))
    ca = issue({"common_name": "TEST CA OUT OF DATE", "country_name": "KZ"}, root, ca=True, days=days)
    leaf = issue(employee("900101300123"), ca, days=(-1, 365))
    files = Pki(root, ca, revocation_list(ca, [])).write(tmp_path / "pki")
    trust = certs.TrustStore.from_files(files[:2], files[2:])
    v = certs.check(leaf.cert, trust, datetime.now(UTC))
    assert not v.valid and v.reason == days_reason(days), (v.reason, v.detail)
    assert "TEST CA OUT OF DATE" in v.detail


def days_reason(days: tuple[int, int]) -> str:
    return "expired" if days[1] < 0 else "not_yet_valid"

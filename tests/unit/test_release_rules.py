"""R8, R10.7, R3.14 (issue #24 (4), (5)): the pure rules of releases — what counts as weaker
protection, a manifest's signature and its files, a bundle's members — each held by a case that
fails without it."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Root

from app import config as config_mod
from app.demo_config import write_config
from app.errors import OtolaneError
from app.release import baseline, manifest
from app.release.layout import Layout


def test_the_same_baseline_is_not_weaker() -> None:
    """R8: a release like this one is not refused."""
    assert baseline.weaker(baseline.current(), baseline.current()) == []


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda b: b["settings"].__setitem__("security.password_min_length", [6, 64]), "password_min_length"),
        (lambda b: b["settings"].__setitem__("security.lockout_after", [3, 50]), "lockout_after"),
        (lambda b: b["settings"].__setitem__("security.session_idle_minutes", [1, 1440]), "session_idle"),
        (lambda b: b["settings"].pop("security.password_history"), "no longer a checked setting"),
        (lambda b: b["routes"].__setitem__("GET /v1/users", []), "now open to anyone"),
        (lambda b: b["routes"].__setitem__("GET /v1/secret", []), "a new route open to anyone"),
        (lambda b: b["routes"].__setitem__("GET /v1/users", ["admin", "operator"]), "now also for operator"),
        (lambda b: b.__setitem__("tls_minimum", "TLSv1_1"), "TLS to EIS"),
        (lambda b: b.__setitem__("data_key_bits", 128), "data key"),
        (lambda b: b.__setitem__("signing_key", "rsa1024"), "signing key"),
        (lambda b: b.__setitem__("keys_required", ["data_key"]), "signing_key: the new release would not"),
    ],
)
def test_each_way_a_release_could_protect_less_is_named(change: object, said: str) -> None:
    """R8: passwords, lock-out, sessions, roles per route, TLS, key sizes, required keys."""
    new = json.loads(json.dumps(baseline.current()))
    change(new)  # type: ignore[operator]
    found = baseline.weaker(baseline.current(), new)
    assert len(found) == 1 and said in found[0], found


def test_a_stronger_release_is_not_weaker() -> None:
    """R8: longer passwords, fewer tries, a route closed to a role, TLS 1.3: all allowed."""
    new = json.loads(json.dumps(baseline.current()))
    new["settings"]["security.password_min_length"] = [12, 64]
    new["settings"]["security.lockout_after"] = [3, 10]
    new["routes"]["GET /v1/users"] = ["admin"]
    new["tls_minimum"] = "TLSv1_3"
    assert baseline.weaker(baseline.current(), new) == []


def _root(signers: list[CryptoSigner], threshold: int = 1) -> Root:
    root = Root()
    for s in signers:
        root.add_key(s.public_key, "targets")
    root.roles["targets"].threshold = threshold
    return root


def _release(tmp_path: Path) -> Path:
    folder = tmp_path / "rel"
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "otolane").write_text("#!/bin/sh\n")
    (folder / "bin" / "python").symlink_to("/usr/bin/python3")
    (folder / "lib").mkdir()
    (folder / "lib" / "m.py").write_text("x = 1\n")
    return folder


def test_a_signed_manifest_holds_and_each_kind_of_change_is_named(tmp_path: Path) -> None:
    """R10.7: changed, missing, added and relinked files are each named; the manifest itself is not
    a file of the release."""
    key = CryptoSigner.generate_ed25519()
    folder = _release(tmp_path)
    manifest.write(folder, manifest.sign(manifest.make(folder, "1.0", 14, {}), [key]))
    signed = manifest.read_signed(folder, _root([key]))
    assert manifest.compare(folder, signed["files"]) == []
    (folder / "lib" / "m.py").write_text("x = 2\n")
    (folder / "bin" / "otolane").unlink()
    (folder / "lib" / "__pycache__").mkdir()
    (folder / "lib" / "__pycache__" / "evil.cpython-311.pyc").write_bytes(b"\0")
    (folder / "bin" / "python").unlink()
    (folder / "bin" / "python").symlink_to("/tmp/python")
    assert sorted(manifest.compare(folder, signed["files"])) == [
        "added: lib/__pycache__/evil.cpython-311.pyc",
        "changed: bin/python",
        "changed: lib/m.py",
        "missing: bin/otolane",
    ]


def test_a_manifest_not_signed_by_enough_release_keys_is_refused(tmp_path: Path) -> None:
    """R10.7: another key, a changed signed part, or one of two required signatures: refused."""
    key, other = CryptoSigner.generate_ed25519(), CryptoSigner.generate_ed25519()
    folder = _release(tmp_path)
    doc = manifest.sign(manifest.make(folder, "1.0", 14, {}), [other])
    with pytest.raises(OtolaneError) as e:
        manifest.verify(doc, _root([key]))
    assert e.value.code == "release_signature"
    doc = manifest.sign(manifest.make(folder, "1.0", 14, {}), [key])
    doc["signed"]["files"]["lib/m.py"] = "sha256:" + "0" * 64
    with pytest.raises(OtolaneError):
        manifest.verify(doc, _root([key]))
    doc = manifest.sign(manifest.make(folder, "1.0", 14, {}), [key, key])  # the same key twice
    with pytest.raises(OtolaneError):
        manifest.verify(doc, _root([key, other], threshold=2))
    assert manifest.verify(manifest.sign(doc["signed"], [key, other]), _root([key, other], 2))


def test_a_manifest_larger_than_its_bound_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _release(tmp_path)
    (folder / manifest.MANIFEST).write_text(json.dumps({"signed": {"pad": "x" * 4096}}))
    monkeypatch.setattr(manifest, "MAX_MANIFEST", 1024)
    with pytest.raises(OtolaneError) as e:
        manifest.read_signed(folder, _root([CryptoSigner.generate_ed25519()]))
    assert "larger than" in e.value.message


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=20,
    )
)
def test_any_json_as_a_manifest_is_refused_in_words_never_a_crash(doc: object) -> None:
    """Fuzz: whatever a manifest holds, verify says why it is refused, as an OtolaneError."""
    root = _root([CryptoSigner.generate_ed25519()])
    empty = {"type": "otolane-release", "files": {}}
    for candidate in (doc, {"signed": doc, "signatures": doc}, {"signed": empty, "signatures": doc}):
        with pytest.raises(OtolaneError):
            manifest.verify(candidate, root)


def _bundle(tmp_path: Path, add: object) -> Path:
    path = tmp_path / "otolane-9.9.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        add(tar)  # type: ignore[operator]
    return path


def _layout(tmp_path: Path) -> Layout:
    cfg_file = write_config(tmp_path, 1.0, 9)
    cfg_file.write_text(cfg_file.read_text() + '\n[update]\nprefix = "opt"\n')
    return Layout(config_mod.load(cfg_file))


@pytest.mark.parametrize(
    "kind",
    [tarfile.CHRTYPE, tarfile.FIFOTYPE, tarfile.LNKTYPE],
)
def test_a_bundle_with_a_device_a_fifo_or_a_hard_link_is_refused(tmp_path: Path, kind: bytes) -> None:
    """R3.14: a bundle holds files, folders and links within it, nothing else."""

    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("bin/odd")
        info.type = kind
        info.linkname = "bin/otolane" if kind == tarfile.LNKTYPE else ""
        tar.addfile(info)

    with pytest.raises(OtolaneError) as e:
        _layout(tmp_path).unpack(_bundle(tmp_path, add), "9.9")
    assert e.value.code == "update_bundle"


@pytest.mark.parametrize("name", ["../../etc/cron.d/x", "/etc/cron.d/x"])
def test_a_bundle_member_outside_its_folder_is_refused(tmp_path: Path, name: str) -> None:
    def add(tar: tarfile.TarFile) -> None:
        data = b"* * * * * root sh\n"
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    layout = _layout(tmp_path)
    with pytest.raises(OtolaneError):
        layout.unpack(_bundle(tmp_path, add), "9.9")
    assert not (tmp_path / "etc").exists() and not Path("/etc/cron.d/x").exists()


def test_a_bundle_larger_than_a_release_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.release.layout as layout_mod

    def add(tar: tarfile.TarFile) -> None:
        data = b"0" * 5000
        info = tarfile.TarInfo("big")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    monkeypatch.setattr(layout_mod, "MAX_UNPACKED", 1000)
    with pytest.raises(OtolaneError) as e:
        _layout(tmp_path).unpack(_bundle(tmp_path, add), "9.9")
    assert "larger than a release" in e.value.message

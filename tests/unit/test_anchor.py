"""The lane's signing key and the append-only file of signed checkpoints, line by line (R3.10,
R3.13, issue #7 item 2). ``test_integrity.py`` shows the check finding a cut or re-hashed chain;
these pin the file's format, its links and signatures, and what each damage is called."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.errors import OtolaneError
from app.storage.anchor import (
    AnchorLog,
    Checkpoint,
    LaneKey,
    canonical,
    read_checkpoints,
    sign_heads,
    verify_signature,
    verify_signed_heads,
)
from app.storage.chain import GENESIS

HEADS = {"readings": (3, "a" * 64), "journal": (9, "b" * 64)}


def test_canonical_json_is_sorted_compact_and_keeps_non_ascii() -> None:
    assert canonical({"b": 1, "a": [1, "Ә"]}) == '{"a":[1,"Ә"],"b":1}'.encode()


def test_the_key_is_a_0600_pem_file_with_its_public_half_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "lane.key"
    key = LaneKey.create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    pub = tmp_path / "keys" / "lane.key.pub"
    assert pub.stat().st_mode & 0o777 == 0o644
    assert pub.read_text() == key.public_pem() and key.public_pem().startswith("-----BEGIN PUBLIC KEY-----")
    raw = key.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key.fingerprint == hashlib.sha256(raw).hexdigest()[:32]
    again = LaneKey.load(path)
    assert again.fingerprint == key.fingerprint
    sig = again.sign(b"data")
    assert verify_signature(key.public, sig, b"data")
    assert not verify_signature(key.public, sig, b"other")
    assert not verify_signature(key.public, "not base64!", b"data")
    assert len(base64.b64decode(sig)) == 64


def test_a_missing_open_or_foreign_key_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(OtolaneError) as err:
        LaneKey.load(tmp_path / "none.key")
    assert (err.value.code, err.value.params) == ("signing_key_missing", {"path": str(tmp_path / "none.key")})
    assert err.value.message == f"signing key {tmp_path / 'none.key'} not found"  # the log says which
    junk = tmp_path / "junk.key"
    junk.write_text("not a key")
    junk.chmod(0o600)
    with pytest.raises(OtolaneError) as err:
        LaneKey.load(junk)
    assert (err.value.code, err.value.params) == ("signing_key_bad", {"path": str(junk)})
    assert err.value.message == f"{junk} is not a PEM private key"
    ec_key = tmp_path / "ec.key"
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ec_key.write_bytes(pem)
    ec_key.chmod(0o600)
    with pytest.raises(OtolaneError) as err:
        LaneKey.load(ec_key)
    assert (err.value.code, err.value.params) == ("signing_key_bad", {"path": str(ec_key)})
    assert err.value.message == f"{ec_key} is not an Ed25519 key"
    LaneKey.create(tmp_path / "open.key")
    (tmp_path / "open.key").chmod(0o640)
    with pytest.raises(OtolaneError) as err:
        LaneKey.load(tmp_path / "open.key")
    assert err.value.code == "key_file_open"


def test_signed_heads_name_every_head_the_card_and_the_key(tmp_path: Path) -> None:
    key = LaneKey(Ed25519PrivateKey.generate())
    anchor = sign_heads(key, HEADS, "card-1")
    body = {
        "heads": {"journal": [9, "b" * 64], "readings": [3, "a" * 64]},
        "subject": "card-1",
        "key": key.fingerprint,
    }
    assert anchor == body | {"sig": anchor["sig"]}
    assert verify_signature(key.public, anchor["sig"], canonical(body))
    assert verify_signed_heads(key.public, anchor)
    assert not verify_signed_heads(key.public, anchor | {"subject": "card-2"})
    assert not verify_signed_heads(LaneKey(Ed25519PrivateKey.generate()).public, anchor)


def _lines(path: Path) -> list[dict]:
    return [json.loads(raw) for raw in path.read_bytes().splitlines() if raw.strip()]


def test_each_checkpoint_links_to_the_one_before_and_is_signed(tmp_path: Path) -> None:
    key = LaneKey(Ed25519PrivateKey.generate())
    path = tmp_path / "state" / "anchors" / "checkpoints.jsonl"  # folders made as needed
    log = AnchorLog(path, key)
    assert log.last() is None
    first = log.append(HEADS, "start")
    assert path.stat().st_mode & 0o777 == 0o600
    assert first == Checkpoint(1, first.ts, "start", HEADS, key.fingerprint) if first else False
    assert log.append(dict(HEADS), "again") is None  # the same heads: nothing new to say
    moved = HEADS | {"readings": (4, "c" * 64)}
    second = log.append(moved, "card")
    assert second is not None and (second.n, second.reason, second.heads) == (2, "card", moved)
    raw = path.read_bytes().splitlines()
    lines = _lines(path)
    assert len(lines) == 2
    assert set(lines[0]) == {"n", "ts", "reason", "heads", "prev", "key", "sig"}
    assert lines[0]["prev"] == GENESIS and lines[1]["prev"] == hashlib.sha256(raw[0]).hexdigest()
    assert lines[0]["heads"] == {"journal": [9, "b" * 64], "readings": [3, "a" * 64]}
    assert lines[0]["ts"] == round(lines[0]["ts"], 3)
    for line, r in zip(lines, raw, strict=True):
        body = {k: v for k, v in line.items() if k != "sig"}
        assert verify_signature(key.public, line["sig"], canonical(body))
        assert r == canonical(line)
    assert log.last() == second
    checkpoints, problems = read_checkpoints(path, key.public)
    assert problems == [] and [c.n for c in checkpoints] == [1, 2] and checkpoints[1] == second


def test_a_long_file_is_read_from_its_end(tmp_path: Path) -> None:
    """The last line is found across 4 KiB reads (a file of many, long checkpoints)."""
    key = LaneKey(Ed25519PrivateKey.generate())
    log = AnchorLog(tmp_path / "c.jsonl", key)
    for i in range(40):
        heads = {f"table{t}": (i, f"{i:064x}") for t in range(12)}
        log.append(heads, f"pass {i}")
    assert (tmp_path / "c.jsonl").stat().st_size > 3 * 4096
    last = log.last()
    assert last is not None and (last.n, last.reason) == (40, "pass 39")
    assert read_checkpoints(tmp_path / "c.jsonl", key.public)[1] == []


def test_a_torn_last_line_is_counted_and_the_chain_of_lines_goes_on(tmp_path: Path) -> None:
    """A power cut mid-write leaves half a line: the next checkpoint numbers past it, links to it,
    and the reader names the damaged line."""
    key = LaneKey(Ed25519PrivateKey.generate())
    path = tmp_path / "c.jsonl"
    log = AnchorLog(path, key)
    log.append(HEADS, "one")
    with path.open("ab") as f:
        f.write(b'{"n": 2, "ts": 1')
    assert log.last() is None  # the last line is no checkpoint
    third = log.append(HEADS | {"x": (1, "d" * 64)}, "after the cut")
    assert third is not None and third.n == 3
    lines = path.read_bytes().splitlines()
    assert json.loads(lines[2])["prev"] == hashlib.sha256(lines[1]).hexdigest()
    checkpoints, problems = read_checkpoints(path, key.public)
    assert [c.n for c in checkpoints] == [1, 3]
    assert problems == ["c.jsonl line 2: not a checkpoint (damaged)"]


def test_every_damage_to_the_file_is_named_with_its_line(tmp_path: Path) -> None:
    key = LaneKey(Ed25519PrivateKey.generate())
    path = tmp_path / "c.jsonl"
    log = AnchorLog(path, key)
    for i in range(4):
        log.append({"journal": (i + 1, f"{i:064x}")}, f"r{i}")
    raw = path.read_bytes().splitlines()
    # line 2 removed: line 3 links to nothing and comes out of turn
    path.write_bytes(b"\n".join([raw[0], raw[2], raw[3]]) + b"\n")
    assert read_checkpoints(path, key.public)[1] == [
        "c.jsonl line 2: link to the previous checkpoint broken (a line removed or changed)",
        "c.jsonl line 2: checkpoint 3 where 2 was due",
    ]
    # a line's reason changed: its signature fails, and the next line's link
    edited = json.loads(raw[1])
    edited["reason"] = "forged"
    path.write_bytes(b"\n".join([raw[0], canonical(edited), raw[2], raw[3]]) + b"\n\n")
    assert read_checkpoints(path, key.public)[1] == [
        "c.jsonl line 2: signature does not verify with the lane's key",
        "c.jsonl line 3: link to the previous checkpoint broken (a line removed or changed)",
    ]
    # an empty line (an editor's) is no checkpoint and no damage: the lines after it are read
    path.write_bytes(b"\n".join([raw[0], b"", raw[1], raw[2], raw[3]]) + b"\n")
    checkpoints, problems = read_checkpoints(path, key.public)
    assert problems == [] and [c.n for c in checkpoints] == [1, 2, 3, 4]
    path.write_bytes(b"\n".join([raw[0], canonical(edited), raw[2], raw[3]]) + b"\n")
    # without the public key the signatures are not looked at, the links still are
    assert read_checkpoints(path, None)[1] == [
        "c.jsonl line 3: link to the previous checkpoint broken (a line removed or changed)",
    ]
    # a file signed by another key
    path.write_bytes(b"\n".join(raw) + b"\n")
    other = LaneKey(Ed25519PrivateKey.generate())
    problems = read_checkpoints(path, other.public)[1]
    assert problems == [
        f"c.jsonl line {i}: signature does not verify with the lane's key" for i in range(1, 5)
    ]


@pytest.mark.parametrize("content", [b"", b"\n\n", b"[1, 2]\n", b'{"n": "x"}\n'])
def test_the_last_checkpoint_of_an_empty_or_damaged_file_is_none(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(content)
    os.chmod(path, 0o600)
    assert AnchorLog(path, LaneKey(Ed25519PrivateKey.generate())).last() is None


def test_a_signature_with_stray_characters_is_not_a_signature() -> None:
    """Strict base64: a signature padded with characters a lenient decoder would skip is refused."""
    key = LaneKey(Ed25519PrivateKey.generate())
    sig = key.sign(b"data")
    assert verify_signature(key.public, sig, b"data")
    assert not verify_signature(key.public, sig[:10] + "!" + sig[10:], b"data")
    assert not verify_signature(key.public, sig + "\n", b"data")


def test_the_exchanges_alone_moving_make_no_checkpoint_but_are_signed_with_the_next(tmp_path: Path) -> None:
    """Issue #21 item 3: the exchanges with EIS are a chain; an idle lane polls EIS each minute, so
    their move alone makes no checkpoint (a line a minute for ever); the next move of another chain
    signs their head too."""
    log = AnchorLog(tmp_path / "anchors.log", LaneKey.create(tmp_path / "lane.key"))
    first = dict(HEADS, eis_exchanges=(1, "c" * 64))
    assert log.append(first, "start") is not None
    assert log.append(dict(first, eis_exchanges=(7, "d" * 64)), "periodic") is None
    moved = dict(first, journal=(10, "e" * 64), eis_exchanges=(7, "d" * 64))
    cp = log.append(moved, "periodic")
    assert cp is not None and cp.heads["eis_exchanges"] == (7, "d" * 64)
    # a lane migrated to the exchanges' chain signs it at once
    older = AnchorLog(tmp_path / "old.log", log.key)
    assert older.append(HEADS, "start") is not None
    assert older.append(dict(HEADS, eis_exchanges=(3, "f" * 64)), "periodic") is not None

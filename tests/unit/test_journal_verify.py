"""``otolane journal verify`` holds an export to a key it does not carry (issue #21 (6), R3.19): an
export with an entry removed, re-chained and re-signed with a key of the forger's own is valid by its
own key — so without the lane's key the command says only that, and exits 3; with the lane's key
(``--public-key`` or ``--config``) the forgery is named and the command exits 1."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from app.eis import history
from app.journal import Journal
from app.storage.anchor import LaneKey, canonical, write_public
from app.storage.chain import row_hash
from app.storage.db import close_db, open_db


def _verify(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "journal", "verify", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


async def _export(tmp_path: Path) -> tuple[dict[str, Any], LaneKey]:
    await open_db(f"sqlite://{tmp_path / 'lane.db'}")
    try:
        journal = Journal()
        for i in range(5):
            await journal.write("operator", "card_refused" if i == 2 else "login", n=i)
        key = LaneKey.create(tmp_path / "keys" / "lane-sign.key")
        write_public(tmp_path / "keys" / "lane-sign.key", key)
        return await history.export(key, "L1", time.time() - 60, time.time() + 60), key
    finally:
        await close_db()


def _forged(doc: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The export without its card_refused entry, re-chained and re-signed by another key."""
    entries = [e for e in doc["entries"] if e["action"] != "card_refused"]
    prev = entries[0]["prev_hash"]
    for seq, e in enumerate(entries, start=entries[0]["seq"]):
        e |= {"seq": seq, "prev_hash": prev}
        e["hash"] = prev = row_hash("journal", e)
    other = LaneKey.create(tmp_path / "other.key")
    body = {k: v for k, v in doc.items() if k != "signature"} | {
        "entries": entries,
        "public_key": other.public_pem(),
        "chain": {"head_seq": entries[-1]["seq"], "head_hash": entries[-1]["hash"]},
    }
    return body | {"signature": other.sign(canonical(body))}


async def test_an_export_re_signed_by_another_key_is_valid_only_by_its_own_key(tmp_path: Path) -> None:
    doc, key = await _export(tmp_path)
    (tmp_path / "true.json").write_text(json.dumps(doc))
    forged = _forged(doc, tmp_path)
    assert history.verify(forged) == []  # by the key it carries, the forgery holds
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    pub = str(tmp_path / "keys" / "lane-sign.key.pub")

    alone = _verify(tmp_path, "forged.json")
    assert alone.returncode == 3, alone.stdout + alone.stderr
    assert "signed by the key it carries (SHA256:" in alone.stdout and "--public-key" in alone.stdout
    held = _verify(tmp_path, "forged.json", "--public-key", pub)
    assert held.returncode == 1 and "signature: does not match" in held.stdout, held.stdout
    assert "names another key" not in held.stdout  # the signature already says it

    ok = _verify(tmp_path, "true.json", "--public-key", pub, "--json")
    said = json.loads(ok.stdout)
    assert ok.returncode == 0 and said["valid"] and said["key_checked"]
    assert said["signed_by"] == history.fingerprint(key.public)
    untied = json.loads(_verify(tmp_path, "true.json", "--json").stdout)
    assert (untied["valid"], untied["key_checked"], untied["problems"]) == (False, False, [])


async def test_the_lanes_own_key_is_found_by_its_configuration(tmp_path: Path) -> None:
    """``--config``: the key the lane's configuration names (storage.signing_key_file + .pub)."""
    doc, _ = await _export(tmp_path)
    (tmp_path / "true.json").write_text(json.dumps(doc))
    (tmp_path / "forged.json").write_text(json.dumps(_forged(doc, tmp_path)))
    cfg = tmp_path / "lane.toml"
    cfg.write_text(
        '[lane]\nname = "L1"\n[storage]\nsigning_key_file = "keys/lane-sign.key"\n'
        '[eis]\nurl = "http://127.0.0.1:9/api"\n'
    )
    assert _verify(tmp_path, "true.json", "--config", str(cfg)).returncode == 0
    assert _verify(tmp_path, "forged.json", "--config", str(cfg)).returncode == 1

"""The check's part on the witness outside the lane (R3.10, R3.13, ``app/eis/witness.py``): the
checkpoint file's last line against the last checkpoint EIS acknowledged. Whoever can write the
lane's disk can cut the journal's tail and the file's last lines together, and every chain and the
file still fit; the witness cannot be rewritten from the lane. EIS is asked (the answer traced in
the exchange journal); when it cannot be, the acknowledgement the lane kept is used, and the report
says which.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.eis import idkey
from app.eis.client import make_client
from app.eis.contract import CONTRACT_VERSION
from app.eis.exchanges import ExchangeLog
from app.eis.witness import Held, last_acknowledged, number
from app.errors import OtolaneError

if TYPE_CHECKING:
    from app.config import Config
    from app.integrity.check import Checker
    from app.storage.store import Store

_SHA256 = re.compile(r"[0-9a-f]{64}")


async def ask(cfg: Config, store: Store) -> tuple[Held | None, str]:
    """The last checkpoint EIS acknowledged for this lane, or why there is none to compare."""
    if not cfg.eis.get("url"):
        return None, "no EIS is configured"
    try:
        key, _ = idkey.read(cfg.path(cfg.eis["identification_key_file"]), store.keyring)
    except OtolaneError as exc:
        return None, exc.message
    ca_file = str(cfg.path(cfg.eis["ca_file"])) if cfg.eis["ca_file"] else None
    client = make_client(cfg.eis, lambda: key.value, ca_file)
    try:
        if cfg.lane["training"] and await client.production() is not False:
            return None, "a training lane asks no production endpoint"
        ask_key = f"witness-{uuid.uuid4()}"
        msg = {"contract": CONTRACT_VERSION, "lane": cfg.lane["name"], "witness": True}
        result = await client.send("requests", msg, ask_key)
        await ExchangeLog(store.keyring).trace("requests", "", result, 1, ask_key)
    finally:
        await client.close()
    if result.outcome != "accepted":
        return None, f"it did not answer ({result.detail[:160]})"
    held = result.data.get("witness") if isinstance(result.data, dict) else None
    if held is None:
        return None, "it holds no checkpoint of this lane yet"
    if not _shaped(held):
        return None, "its answer names no checkpoint"
    return Held(int(held["n"]), str(held["sha256"]), float(held["at"]), "EIS"), ""


def _shaped(held: Any) -> bool:
    return (
        isinstance(held, dict)
        and type(held.get("n")) is int
        and held["n"] > 0
        and isinstance(held.get("sha256"), str)
        and bool(_SHA256.fullmatch(held["sha256"]))
        and isinstance(held.get("at"), int | float)
    )


def _file(path: Path, wanted: set[int]) -> tuple[int, dict[int, str]]:
    """The file's last checkpoint number and the SHA-256 of the lines numbered ``wanted``."""
    last, found = 0, {}
    try:
        with path.open("rb") as f:
            for raw in f:
                n = number(raw)
                if n is None:
                    continue
                last = max(last, n)
                if n in wanted:
                    found[n] = hashlib.sha256(raw.rstrip(b"\n")).hexdigest()
    except FileNotFoundError:
        pass
    return last, found


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).isoformat(sep=" ", timespec="seconds")


async def witness(ck: Checker) -> None:
    held: list[Held] = []
    eis, why = await ask(ck.cfg, ck.store)
    if eis is not None:
        held.append(eis)
    else:
        ck.report.ok(f"witness: EIS not asked or holds nothing: {why}")
    try:
        kept = await last_acknowledged()
    except Exception as exc:  # a dropped table: the walk names it
        kept = None
        ck.report.ok(f"witness: the lane's acknowledgements cannot be read ({type(exc).__name__})")
    if kept is not None:
        held.append(kept)
    if not held:
        return
    path = ck.cfg.path(ck.cfg.storage["anchor_file"])
    last, lines = _file(path, {h.n for h in held})
    for h in held:
        if h.n > last:
            ck.report.bad(
                "checkpoint file",
                f"{path.name} ends at checkpoint {last}, but {h.by} acknowledged checkpoint {h.n} "
                f"on {_when(h.at)}: its last lines were cut off (and the rows they named, perhaps)",
            )
        elif not lines.get(h.n, "").startswith(h.sha256):
            ck.report.bad(
                "checkpoint file",
                f"checkpoint {h.n} in {path.name} is not the one {h.by} acknowledged on {_when(h.at)}: "
                "the file was rewritten",
            )
        else:
            ck.report.ok(f"witness: {h.by} acknowledged checkpoint {h.n} ({_when(h.at)}); the file holds it")

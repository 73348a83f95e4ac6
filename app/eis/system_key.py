"""The centre's own NCA key (a legal entity's, BIN of the centre): the WS-Security transport signature
the e-government gateway expects on every message (G1, G3), for the messages no employee signs —
inspection events, the operator's requests, log-history answers — and for a card formed in a
password session. A card formed in a key session keeps its employee's signature.

Installed by the administrator as a key file (``eis.system_key``) and the file of its password
(``eis.system_key_password_file``, 0600); checked at start against the lane's NCA trust store
(chain, dates, CRL, the centre's BIN) like an employee's key. A key that cannot be used does not stop
the lane: it is journalled (``eis_system_key_refused``) with the reason, and the messages go unsigned
(an EIS that wants signatures rejects them, visibly) until a good key is installed and the daemon
restarted.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from app.eds.errors import EdsError
from app.eds.signer import Signer, open_and_check, read_container, trust_from_config
from app.errors import OtolaneError
from app.storage.crypto import check_private


def _password(cfg: Any) -> str:
    path = cfg.path(cfg.eis["system_key_password_file"])
    try:
        check_private(path)
        return path.read_text(encoding="utf-8").split("\n", 1)[0]
    except (OSError, UnicodeDecodeError) as e:
        raise OtolaneError(
            "eis_system_key_password", f"cannot read the key's password file {path}: {e}", path=str(path)
        ) from e


def open_system_key(cfg: Any) -> Signer:
    """The centre's signer, checked; an :class:`EdsError` or :class:`OtolaneError` saying why not."""
    data = read_container(cfg.path(cfg.eis["system_key"]))
    signer = open_and_check(data, _password(cfg), trust_from_config(cfg), datetime.now(UTC))
    verdict = signer.verdict
    if not verdict.valid:
        raise EdsError(
            f"eds_{verdict.reason}", f"the centre's key is refused: {verdict.reason} {verdict.detail}"
        )
    centre = cfg.eds["centre_bin"]
    if centre and signer.info.bin != centre:
        raise EdsError("eds_not_employee", f"the key is of BIN {signer.info.bin}, not the centre's {centre}")
    return signer


async def load(cfg: Any, journal: Any) -> Signer | None:
    """At start: the centre's signer, or None (not configured, or refused — journalled)."""
    if not cfg.eis["system_key"]:
        return None
    try:
        signer = await asyncio.to_thread(open_system_key, cfg)
    except OtolaneError as e:
        await journal.write("laned", "eis_system_key_refused", code=e.code, reason=e.message[:200])
        return None
    await journal.write(
        "laned",
        "eis_system_key",
        serial=signer.info.serial,
        bin=signer.info.bin,
        not_after=str(signer.info.not_after),
    )
    return signer

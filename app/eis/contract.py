"""The EIS contract as we implement it: a diagnostic card as JSON, validated on both sides.

The real ЕИС «Техосмотр» payload schema is not public (``shared/reference/eis-shep-nca.md`` §5): this
contract is ours, documented in ``docs/eis.md``, and the one place to change when АО «НИТ» gives the
specification. Both the client and the local simulator validate against :func:`validate_card`.
"""

from __future__ import annotations

import json
from typing import Any

CONTRACT_VERSION = "otolane-eis/1"
#: G3: the employee's detached CMS signature of the body, base64, in this header (REST route)
SIGNATURE_HEADER = "X-Signature"


def body(card: dict[str, Any]) -> bytes:
    """The exact bytes a card travels as: the employee signs these, the client sends these. Keys
    sorted, so the body does not depend on the order a dict was built or read back in."""
    return json.dumps(card, ensure_ascii=False, sort_keys=True).encode()


VERDICTS = ("admitted", "not_admitted")

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "contract": str,
    "card_id": str,
    "inspection_id": str,
    "training": bool,
    "lane": dict,
    "vehicle": dict,
    "inspector": dict,
    "started": str,
    "finished": str,
    "duration_s": (int, float),
    "verdict": str,
    "items": list,
    "readings": int,
}


def validate_card(card: Any) -> list[str]:
    """Problems with a card message; empty when it is valid."""
    if not isinstance(card, dict):
        return ["card: expected an object"]
    errors = []
    for key, typ in _REQUIRED.items():
        if key not in card:
            errors.append(f"{key}: missing")
        elif not isinstance(card[key], typ) or (typ is int and isinstance(card[key], bool)):
            errors.append(f"{key}: wrong type")
    if errors:
        return errors
    if card["contract"] != CONTRACT_VERSION:
        errors.append(f"contract: expected {CONTRACT_VERSION}")
    if card["verdict"] not in VERDICTS:
        errors.append("verdict: unknown")
    if not card["vehicle"].get("plate"):
        errors.append("vehicle.plate: missing")
    if not card["inspector"].get("username"):
        errors.append("inspector.username: missing")
    for i, item in enumerate(card["items"]):
        if not isinstance(item, dict) or not {"id", "value", "norm", "passed"} <= item.keys():
            errors.append(f"items[{i}]: needs id, value, norm, passed")
    failed = any(isinstance(i, dict) and i.get("passed") is False for i in card["items"])
    if card["verdict"] == "admitted" and failed:
        errors.append("verdict: 'admitted' with a failed item")
    return errors

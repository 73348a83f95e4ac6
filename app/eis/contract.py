"""The EIS contract as we implement it: the messages as JSON, validated on both sides against the
JSON schemas in ``app/eis/schema/`` (docs/eis-contract.md explains them field by field).

The real ЕИС «Техосмотр» payload schema is not public (``shared/reference/eis-shep-nca.md`` §5): this
contract is ours, and the one place to change when АО «НИТ» gives the specification. The REST route
sends a message as its JSON body; the SOAP route (``app/eis/soap.py``) carries the same content as
XML. Both the lane and the local simulator validate with :func:`problems`.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

CONTRACT_VERSION = "otolane-eis/1"
HISTORY_FORMAT = "otolane-journal-export/1"
#: G3: the employee's detached CMS signature of the body, base64, in this header (REST route)
SIGNATURE_HEADER = "X-Signature"
#: R4: the software's identification key, on every message
KEY_HEADER = "X-SPO-Key"
#: what the lane sends, by the schema each is checked against
SCHEMAS = ("card", "events", "history", "photo", "requests")
VERDICTS = ("admitted", "not_admitted")


def body(message: dict[str, Any]) -> bytes:
    """The exact bytes a message travels as: the employee signs these, the client sends these. Keys
    sorted, so the body does not depend on the order a dict was built or read back in."""
    return json.dumps(message, ensure_ascii=False, sort_keys=True).encode()


def card_message(card: dict[str, Any]) -> dict[str, Any]:
    """The card as it travels and is signed: its photos named by id and SHA-256, without their bytes
    (each goes in a photo message of its own, :func:`photo_messages`). Signing a card then costs the
    same with or without photos (Streebog over a JPEG in pure Python is ≈ 5 ms a kilobyte)."""
    if not card.get("photos"):
        return card
    return card | {"photos": [{k: v for k, v in p.items() if k != "jpeg"} for p in card["photos"]]}


def photo_message(card_id: str, photo: dict[str, Any], jpeg_b64: str) -> dict[str, Any]:
    """The message of one of a card's photos, which goes before the card (idempotency key: the
    photo id); ``photo`` is the card's record of it (id and SHA-256)."""
    return {
        "contract": CONTRACT_VERSION,
        "card_id": card_id,
        "photo_id": photo["photo_id"],
        "sha256": photo["sha256"],
        "jpeg": jpeg_b64,
    }


def photo_messages(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The photo messages of a card that carries its images (see :func:`photo_message`)."""
    return [photo_message(card["card_id"], p, p["jpeg"]) for p in card.get("photos", []) if p.get("jpeg")]


def schema(kind: str) -> dict[str, Any]:
    """The JSON schema of one kind of message, as published in docs/eis-contract.md."""
    text = resources.files("app.eis").joinpath("schema", f"{kind}.schema.json").read_text("utf-8")
    return dict(json.loads(text))


_formats = FormatChecker()


@_formats.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    # RFC 3339 with a zone: what fromisoformat reads and a zone it names (a naive time is refused)
    return not isinstance(value, str) or dt.datetime.fromisoformat(value).tzinfo is not None


@cache
def _validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(schema(kind), format_checker=_formats)


def _where(path: Any) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def problems(kind: str, message: Any) -> list[str]:
    """What is wrong with a message, each as ``field: what``; empty when it is valid."""
    if not isinstance(message, dict):
        return [f"{kind}: expected an object"]
    errors = sorted(_validator(kind).iter_errors(message), key=lambda e: list(map(str, e.absolute_path)))
    out = [f"{_where(e.absolute_path) or kind}: {_say(e)}" for e in errors]
    if not out and kind == "card":
        out = _card_rules(message)
    return out


def _say(error: Any) -> str:
    """A short message for one schema error (jsonschema's own repeats the whole instance)."""
    v = error.validator
    if v == "required":
        return f"missing {error.message.split(' ')[0]}"
    if v == "type":
        return f"expected {error.validator_value}"
    if v in ("enum", "const"):
        return (
            f"expected one of {error.validator_value}"
            if v == "enum"
            else f"expected {error.validator_value!r}"
        )
    if v == "pattern":
        return f"does not match {error.validator_value}"
    if v == "format":
        return f"not a {error.validator_value} with a time zone"
    return str(error.message)[:160]


def _card_rules(card: dict[str, Any]) -> list[str]:
    """What a schema cannot say about a card."""
    failed = any(i.get("passed") is False for i in card["items"])
    if card["verdict"] == "admitted" and failed:
        return ["verdict: 'admitted' with a failed item"]
    if any("jpeg" in p for p in card.get("photos", [])):
        return ["photos: the images travel in photo messages of their own, not in the card"]
    return []


def validate_card(card: Any) -> list[str]:
    return problems("card", card)

"""What makes a printed card verifiable by anyone (issue #22 (9), R3.6, T2): its QR code and the
signed card carried inside the PDF.

The QR code holds ``OTO1|card id|number|EIS receipt|card SHA-256|key|signature``: the
card's id is the lane's unique number for it (EIS keeps it too, and its own receipt once it has
answered); the hash is of the card as stored (photos by their SHA-256, not their bytes); the
signature is the lane's Ed25519 key (the one that signs the journal's checkpoints) over everything
before it. It fits a 20 mm QR code and is read from paper with any phone.

The PDF carries the card itself (canonical JSON, compressed, in the document's *Subject*) so that
``otolane card verify`` can hold what is printed against what was signed: the card drawn again from
it must print the same words, and the photos in the PDF must be the ones whose hashes it names.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.eis.contract import card_message
from app.storage.anchor import canonical as canonical_json

PREFIX = "OTO1"
#: the lane key is named in the code by this many hex digits of its fingerprint (64 bits)
KEY_DIGITS = 16
#: the Subject of a card's PDF: this, the copy flag, then the card (zlib, base64)
SUBJECT = "otolane-card/1"
#: a card's JSON inside a PDF, at most (a card is ~10 KB; a PDF from elsewhere is not trusted)
MAX_CARD_JSON = 2 * 1024 * 1024


def canonical(card: dict[str, Any]) -> bytes:
    """The card as stored and as it travels (its photos by record, their bytes apart), in the lane's
    canonical JSON — the very forms the EIS contract and the checkpoints use."""
    return canonical_json(card_message(card))


def card_hash(card: dict[str, Any]) -> str:
    """SHA-256 of the card as stored: what the QR code and the footer carry."""
    return hashlib.sha256(canonical(card)).hexdigest()


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Seal:
    """The QR code's content."""

    card_id: str
    number: str
    receipt: str  # EIS's registration of the card, "" until EIS answered
    sha256: str
    key: str  # the lane key that signed: the first 16 hex digits of its fingerprint
    signature: str  # base64url, no padding

    def signed_part(self) -> str:
        # the hash as base64url (43 characters, not 64): a smaller code reads better off paper
        digest = _b64u(bytes.fromhex(self.sha256))
        return "|".join((PREFIX, self.card_id, self.number, self.receipt, digest, self.key))

    def payload(self) -> str:
        return f"{self.signed_part()}|{self.signature}"

    def verifies(self, public: Ed25519PublicKey) -> bool:
        try:
            public.verify(_unb64u(self.signature), self.signed_part().encode())
            return True
        except (InvalidSignature, ValueError):
            return False


def make_seal(card: dict[str, Any], receipt: str, fingerprint: str, sign: Any) -> Seal:
    """The card's seal; ``sign(bytes) -> base64`` is the lane key's (``LaneKey.sign``)."""
    key = fingerprint[:KEY_DIGITS]
    unsigned = Seal(str(card["card_id"]), str(card["number"]), receipt, card_hash(card), key, "")
    sig = base64.b64decode(sign(unsigned.signed_part().encode()))
    return Seal(unsigned.card_id, unsigned.number, receipt, unsigned.sha256, key, _b64u(sig))


class SealUnreadable(ValueError):
    """The text is no seal of an otolane card."""


def parse_seal(text: str) -> Seal:
    parts = text.strip().split("|")
    if len(parts) != 7 or parts[0] != PREFIX:
        raise SealUnreadable("not an otolane card's QR code (OTO1|…, 7 fields)")
    _, card_id, number, receipt, digest, key, sig = parts
    try:
        raw = _unb64u(digest)
    except ValueError:
        raw = b""
    if len(digest) != 43 or len(raw) != 32:
        raise SealUnreadable("the card's hash in the QR code is not a SHA-256")
    sha = raw.hex()
    if len(card_id) > 64 or len(number) > 32 or len(receipt) > 100 or len(key) > 64 or len(sig) > 120:
        raise SealUnreadable("a field of the QR code is longer than a card's")
    return Seal(card_id, number, receipt, sha, key, sig)


def subject(card: dict[str, Any], copy: bool) -> str:
    """The PDF Subject carrying the signed card (see the module's docstring)."""
    packed = _b64u(zlib.compress(canonical(card), 9))
    return f"{SUBJECT} copy={int(copy)} {packed}"


def card_from_subject(text: str) -> tuple[dict[str, Any], bool]:
    """The card and the copy flag a PDF's Subject carries; :class:`SealUnreadable` if none."""
    parts = text.strip().split(" ")
    if len(parts) != 3 or parts[0] != SUBJECT or parts[1] not in ("copy=0", "copy=1"):
        raise SealUnreadable("the PDF carries no otolane card")
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(_unb64u(parts[2]), MAX_CARD_JSON)
        if inflater.unconsumed_tail:
            raise SealUnreadable("the card inside the PDF is larger than any card")
        card = json.loads(raw)
    except (ValueError, RecursionError, zlib.error) as e:  # RecursionError: nested too deep
        raise SealUnreadable(f"the card inside the PDF cannot be read ({e.__class__.__name__})") from None
    if not isinstance(card, dict):
        raise SealUnreadable("the card inside the PDF is not a card")
    return card, parts[1] == "copy=1"

"""``otolane card verify``: anyone holding a card's PDF (or a photo of the paper, or the QR code's
text) and the lane's public key checks that the card is the lane's and unchanged (issue #22 (9)).

Each check is named with what it found:

* ``qr`` — the QR code is an otolane card's (read from page 1 as a printer or a phone would see it);
* ``signature`` — the lane's key signed it (the key's fingerprint is named when another signed);
* ``card`` — the card carried in the PDF is the one the QR code names (its SHA-256);
* ``printed`` — what is printed is what was signed: the card drawn again from the signed card must
  print the same words, line for line (an edited value is named with both texts);
* ``photos`` — the photos in the PDF are the ones whose hashes the signed card names;
* ``anchor`` — the chain heads the card was formed on are signed by the same key, and, given the
  lane's checkpoint file, a checkpoint covers them;
* ``employee`` — given the employee's signature beside the PDF (a detached CMS), it is over this very
  card as EIS received it, by the certificate the card names.

Poppler's tools read the PDF (``pdfinfo``, ``pdftotext``, ``pdfimages``, ``pdftoppm``), OpenCV reads
the QR code; nothing from the file is trusted before it is checked, and every size is bounded.
"""

from __future__ import annotations

import difflib
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.documents.seal import Seal, SealUnreadable, card_from_subject, card_hash, parse_seal
from app.storage.anchor import read_checkpoints, verify_signed_heads

#: a card's PDF is well under this (a card with two photos: ~1 MB)
MAX_PDF_BYTES = 50 * 1024 * 1024
TOOL_TIMEOUT_S = 60.0


@dataclass
class Check:
    name: str
    ok: bool | None  # None: not checked (what is missing to check it is said)
    said: str


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    seal: Seal | None = None

    def add(self, name: str, ok: bool | None, said: str) -> None:
        self.checks.append(Check(name, ok, said))

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok is not False for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        seal = self.seal
        return {
            "ok": self.ok,
            "card_id": seal.card_id if seal else None,
            "number": seal.number if seal else None,
            "receipt": seal.receipt if seal else None,
            "sha256": seal.sha256 if seal else None,
            "checks": [{"check": c.name, "ok": c.ok, "said": c.said} for c in self.checks],
        }


class Unreadable(Exception):
    """The file is no card's PDF nor an image with a card's QR code."""


def _run(args: list[str]) -> bytes:
    try:
        done = subprocess.run(args, capture_output=True, timeout=TOOL_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise Unreadable(f"{args[0]} is not installed (Debian: poppler-utils)") from None
    except subprocess.TimeoutExpired:
        raise Unreadable(f"{args[0]} took longer than {TOOL_TIMEOUT_S:g} s on this file") from None
    if done.returncode != 0:
        raise Unreadable(f"{args[0]}: {done.stderr.decode(errors='replace').strip()[:200]}")
    return done.stdout


def qr_of_image(image: Any) -> str | None:
    """The text of the first QR code OpenCV finds in ``image`` (grey), or None. The ArUco-based
    detector finds the card's code where the classic one misses one in ten; both are asked."""
    import cv2

    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        text, _, _ = detector.detectAndDecode(image)
        if text:
            return str(text)
    return None


def is_pdf(path: Path) -> bool:
    """A PDF by its first bytes (the file is not read whole for that)."""
    with path.open("rb") as f:
        return f.read(5) == b"%PDF-"


def qr_of_file(path: Path) -> str | None:
    """A QR code on page 1 of a PDF (drawn at 300 dpi, as a scanner would) or in a scan or photo of
    the paper."""
    import cv2
    import numpy as np

    from drivers.camera.base import too_large
    from drivers.camera.web import image_size

    if is_pdf(path):
        png = _run(["pdftoppm", "-r", "300", "-f", "1", "-l", "1", "-png", str(path)])
        data = np.frombuffer(png, np.uint8)
    else:
        raw = path.read_bytes()
        size = image_size(raw)
        if size is None or too_large(*size):
            raise Unreadable("not a PDF, nor a JPEG or PNG image a camera or scanner makes")
        data = np.frombuffer(raw, np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise Unreadable("the image cannot be decoded")
    return qr_of_image(image)


def verify_seal(report: Report, text: str, public: Ed25519PublicKey | None, fingerprint: str) -> Seal | None:
    try:
        seal = parse_seal(text)
    except SealUnreadable as e:
        report.add("qr", False, str(e))
        return None
    report.seal = seal
    report.add("qr", True, f"card {seal.card_id}, № {seal.number}, SHA-256 {seal.sha256[:16]}…")
    if public is None:
        report.add("signature", None, "not checked: give the lane's public key (--public-key)")
    elif seal.key != fingerprint[: len(seal.key)] or len(seal.key) < 16:
        report.add(
            "signature",
            False,
            f"signed by key {seal.key[:16] or '(none)'}, not the lane's {fingerprint[:16]}",
        )
    elif not seal.verifies(public):
        report.add("signature", False, "the signature does not match the QR code's content")
    else:
        report.add("signature", True, f"signed by the lane's key {fingerprint[:16]}")
    return seal


def _printed_lines(pdf: Path) -> list[str]:
    out = _run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"]).decode("utf-8", errors="replace")
    return [line.strip() for line in out.splitlines() if line.strip()]


def _placeholders(card: dict[str, Any]) -> dict[str, Any]:
    """The card with a grey image in place of each photo: the words drawn depend on the photos'
    recorded sizes only, and the bytes are checked apart."""
    import base64

    import cv2
    import numpy as np

    out = dict(card)
    photos = []
    for p in card.get("photos", []):
        w = max(1, min(int(p.get("width", 4)), 64))
        h = max(1, min(int(p.get("height", 3)), 64))
        ok, enc = cv2.imencode(".jpg", np.full((h, w, 3), 128, np.uint8))
        photos.append(p | {"jpeg": base64.b64encode(enc.tobytes()).decode()})
    out["photos"] = photos
    return out


def _check_printed(report: Report, pdf: Path, card: dict[str, Any], copy: bool, seal: Seal) -> None:
    from app.documents.card_pdf import render_card

    with tempfile.TemporaryDirectory() as tmp:
        again = Path(tmp) / "again.pdf"
        again.write_bytes(render_card(_placeholders(card), copy=copy, seal=seal))
        want = _printed_lines(again)
    got = _printed_lines(pdf)
    if got == want:
        report.add("printed", True, f"every printed line ({len(got)}) is the signed card's")
        return
    changed = [
        f"printed “{' / '.join(got[i1:i2]) or '—'}”, the signed card says “{' / '.join(want[j1:j2]) or '—'}”"
        for tag, j1, j2, i1, i2 in difflib.SequenceMatcher(a=want, b=got, autojunk=False).get_opcodes()
        if tag != "equal"
    ]
    report.add(
        "printed",
        False,
        "; ".join(changed[:3]) + (f"; and {len(changed) - 3} more" if len(changed) > 3 else ""),
    )


def _check_photos(report: Report, pdf: Path, card: dict[str, Any]) -> None:
    import hashlib

    shown = card.get("photos", [])[:2]  # the card sheet shows two
    with tempfile.TemporaryDirectory() as tmp:
        _run(["pdfimages", "-j", "-f", "1", "-l", "1", str(pdf), str(Path(tmp) / "img")])
        found = {hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(Path(tmp).glob("img-*.jpg"))}
    missing = [p for p in shown if p.get("sha256") not in found]
    if not shown:
        report.add("photos", True, "the card has no photo")
    elif missing:
        names = ", ".join(
            f"{(p.get('camera') or {}).get('id', '?')} ({str(p.get('sha256', ''))[:12]}…)" for p in missing
        )
        report.add("photos", False, f"not the photos the lane took: {names} is not in the PDF")
    else:
        report.add("photos", True, f"{len(shown)} photo(s), each the one the lane took (SHA-256)")


def _check_anchor(
    report: Report, card: dict[str, Any], public: Ed25519PublicKey | None, anchors: Path | None
) -> None:
    anchor = card.get("anchor")
    if not isinstance(anchor, dict):
        report.add("anchor", False, "the card carries no signed chain heads")
        return
    if public is None:
        report.add("anchor", None, "not checked: give the lane's public key (--public-key)")
        return
    if anchor.get("subject") != card.get("card_id") or not verify_signed_heads(public, anchor):
        report.add(
            "anchor", False, "the chain heads in the card are not signed by the lane's key for this card"
        )
        return
    if anchors is None:
        report.add("anchor", True, "the chain heads the card was formed on are signed by the lane's key")
        return
    checkpoints, problems = read_checkpoints(anchors, public)
    if problems:
        report.add("anchor", False, f"{anchors.name}: {problems[0]}")
        return
    cards_head = (anchor.get("heads") or {}).get("cards")
    covering = [
        c
        for c in checkpoints
        if cards_head
        and c.heads.get("cards")
        and c.heads["cards"][0] > cards_head[0]  # the heads are read before the card's own row
    ]
    if not covering:
        report.add(
            "anchor", False, f"no checkpoint of {anchors.name} reaches the card (the file ends before it)"
        )
    else:
        report.add("anchor", True, f"checkpoint {covering[0].n} of {anchors.name} covers the card")


def _check_cms(report: Report, card: dict[str, Any], cms_der: bytes) -> None:
    """G3, R3.1: the employee's detached CMS is over this very card, as EIS received it, and by the
    certificate the card names (owner's IIN and serial printed on it). Whether that certificate may
    sign (chain to the NCA, revocation) is the lane's and EIS's check at the time; named here."""
    from app.eds.cms import verify_detached
    from app.eds.errors import EdsError
    from app.eis.contract import body, card_message

    try:
        cert = verify_detached(cms_der, body(card_message(card)))
    except EdsError:
        report.add("employee", False, "the employee's signature is not over this card (or was changed)")
        return
    serial = format(cert.serial_number, "x")
    printed = ((card.get("inspector") or {}).get("certificate") or {}).get("serial", "")
    if printed and printed.lower().lstrip("0") != serial.lstrip("0"):
        report.add("employee", False, f"signed by certificate {serial}, the card names {printed}")
        return
    subject = cert.subject.native  # asn1crypto: a GOST certificate the cryptography package cannot read
    who = ", ".join(str(subject[k]) for k in ("common_name", "serial_number") if subject.get(k))[:80]
    report.add("employee", True, f"the card as EIS received it, signed by {who} (certificate {serial})")


def verify_file(
    path: Path,
    public: Ed25519PublicKey | None,
    fingerprint: str = "",
    anchors: Path | None = None,
    cms: bytes | None = None,
) -> Report:
    """Every check of a card's PDF, or of a photo or scan of the paper (the QR code only); ``cms``:
    the employee's signature beside the PDF (``GET /v1/cards/{id}/signature``)."""
    if path.stat().st_size > MAX_PDF_BYTES:
        raise Unreadable(f"larger than {MAX_PDF_BYTES // 2**20} MB: no card's PDF is")
    report = Report()
    text = qr_of_file(path)
    if text is None:
        report.add("qr", False, "no QR code found (on page 1 of a PDF, or in the image)")
        return report
    seal = verify_seal(report, text, public, fingerprint)
    if seal is None or not is_pdf(path):
        return report
    info = _run(["pdfinfo", "-enc", "UTF-8", str(path)]).decode("utf-8", errors="replace")
    subject = next((line[8:].strip() for line in info.splitlines() if line.startswith("Subject:")), "")
    try:
        card, copy = card_from_subject(subject)
    except SealUnreadable as e:
        report.add("card", False, str(e))
        return report
    if card_hash(card) != seal.sha256 or str(card.get("card_id")) != seal.card_id:
        report.add(
            "card", False, "the card inside the PDF is not the one the QR code names (its SHA-256 differs)"
        )
        return report
    report.add("card", True, "the card inside the PDF is the one the QR code names")
    _check_printed(report, path, card, copy, seal)
    _check_photos(report, path, card)
    _check_anchor(report, card, public, anchors)
    if cms is not None:
        _check_cms(report, card, cms)
    return report

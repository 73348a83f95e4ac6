"""``otolane card verify``: a card's PDF, a photo or scan of the paper, or the QR code's text, held
to the lane's public key (``app/documents/verify.py``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.commands.lane import _public_key
from app.errors import OtolaneError


def cmd_card_verify(args: argparse.Namespace) -> int:
    """Exit 0 when every check holds, 1 when one does not, 3 when nothing failed but the signature
    was not checked (no key given: anyone can make a QR code)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from app.documents.verify import Report, Unreadable, verify_file, verify_seal
    from app.storage.anchor import key_fingerprint

    public, source = _public_key(args)
    if public is not None and not isinstance(public, Ed25519PublicKey):
        raise OtolaneError("export_unreadable", f"{source} is not the lane's Ed25519 public key")
    fingerprint = key_fingerprint(public) if public is not None else ""
    anchors = Path(args.anchors) if args.anchors else None
    if args.qr:
        report = Report()
        verify_seal(report, args.qr, public, fingerprint)
    elif args.file:
        try:
            cms = Path(args.cms).read_bytes() if args.cms else None
            report = verify_file(Path(args.file), public, fingerprint, anchors, cms)
        except (Unreadable, OSError) as e:
            raise OtolaneError(
                "card_unreadable", f"{args.file}: {e}", file=args.file, reason=str(e)
            ) from None
    else:
        raise OtolaneError("card_unreadable", "give a card's PDF (or a photo of it), or --qr TEXT")
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        what = args.file or "QR code"
        for c in report.checks:
            mark = {True: "✓", False: "✗", None: "·"}[c.ok]
            print(f"{mark} {c.name}: {c.said}")
        verdict = (
            "GENUINE" if report.ok and public is not None else "NOT VERIFIED" if report.ok else "NOT GENUINE"
        )
        print(f"{what}: {verdict}")
    if not report.ok:
        return 1
    return 0 if public is not None else 3

"""Issuing a formed card on paper: its PDF, printing it, a print job's status, and the international
certificate of technical inspection of a passing card.

Owns the rule that every issue is journalled (``card_issued``, ``certificate_issued``: the PDF's
hash, and the CUPS job when printed) and that any issue after the first is a COPY; a certificate
keeps its number on a reprint. Documents are rendered from the stored card only; it never changes
a card.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from app.config import Config
from app.documents.printing import PrintJob, job_done, print_pdf
from app.documents.seal import make_seal
from app.domain.clock import LaneClock
from app.domain.periodicity import lane_date
from app.errors import Forbidden, OtolaneError
from app.journal import Journal
from app.personal import masked
from app.rights import card_needs
from app.storage.anchor import LaneKey
from app.storage.crypto import Keyring
from app.storage.models import Card, Outbox


def formed_by(card: dict[str, Any]) -> str:
    """The user name of the employee who formed a card."""
    return str((card.get("inspector") or {}).get("username") or card.get("operator") or "")


class Reader(Protocol):
    """Who asks for a card: their name and their permissions (a session of ``app/auth.py``)."""

    username: str

    def may(self, permission: str) -> bool: ...


class Issuer:
    def __init__(
        self,
        cfg: Config,
        clock: LaneClock,
        keyring: Keyring,
        journal: Journal,
        with_images: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
        key: LaneKey,
    ) -> None:
        """``with_images``: the card with its photos' images read from the photo store; ``key``: the
        lane's signing key, which seals each printed card's QR code (``app/documents/seal.py``)."""
        self.key = key
        self.cfg = cfg
        self.with_images = with_images
        self.clock = clock
        self.keyring = keyring
        self.journal = journal

    async def _stored(self, card_id: str) -> dict[str, Any]:
        """A stored card as formed (it is never changed after); its photos by reference."""
        row = await Card.get_or_none(card_id=card_id[:36])
        if row is None:
            raise OtolaneError("card_unknown", "no such card", status=404, card_id=card_id[:40])
        return dict(self.keyring.open_json(row.sealed, f"cards:{row.card_id}"))

    async def allowed(self, who: Reader, card: dict[str, Any], is_copy: bool = False) -> None:
        """R10.4: another's card needs ``card_view_others``, an issue after the first ``card_copy``
        (``app/rights.py: card_needs``); a refusal is journalled like the API's."""
        for need in card_needs(who.username, formed_by(card), is_copy):
            if not who.may(need):
                await self.journal.write(
                    who.username, "access_denied", card_id=card["card_id"], permission=need
                )
                raise Forbidden(need, "see this card" if need == "card_view_others" else "issue a copy")

    async def card(self, who: Reader, card_id: str, full: bool = False) -> dict[str, Any]:
        """A stored card, its photos' images beside their records, its personal data masked
        (``app/personal.py``) — in full only when asked by someone with ``personal_data_view``,
        journalled ``personal_data_shown`` (R11)."""
        card = await self._stored(card_id)
        await self.allowed(who, card)
        if full and not who.may("personal_data_view"):
            await self.journal.write(
                who.username, "access_denied", card_id=card["card_id"], permission="personal_data_view"
            )
            raise Forbidden("personal_data_view", "see personal data in full")
        ids = {
            "card_id": card["card_id"],
            "inspection_id": card["inspection_id"],
            "number": card.get("number"),
            "formed_by": formed_by(card),
        }
        await self.journal.write(who.username, "card_viewed", **ids)  # R11: who read it, from where
        shown, hidden = masked(card)
        if full:
            shown = card
            await self.journal.write(who.username, "personal_data_shown", **ids, fields=hidden)
        return {**await self.with_images(shown), "masked": [] if full else hidden}

    async def card_pdf(self, who: Reader, card_id: str) -> tuple[bytes, bool]:
        """The card's PDF and whether it is a copy: every issue is journalled (``card_issued``), and
        any issue after the first is marked COPY on every page."""
        pdf, is_copy, _ = await self._issue_card(who, card_id, to_printer=False)
        return pdf, is_copy

    async def print_card(self, who: Reader, card_id: str) -> dict[str, Any]:
        """The card printed on the lane's CUPS queue; journalled with the job, like a download."""
        _, is_copy, job = await self._issue_card(who, card_id, to_printer=True)
        assert job is not None
        return {"job": job.job, "queue": job.queue, "location": job.location, "copy": is_copy}

    async def signature(self, who: Reader, card_id: str) -> tuple[bytes, str]:
        """G3: the employee's signature of the card as EIS received it — a detached CMS of the body
        (REST route) or the signed SOAP envelope — and its media type; ``card_unsigned`` when no
        employee signed it (a password session: the centre's key signed the message)."""
        card = await self._stored(card_id)
        await self.allowed(who, card)
        row = await Outbox.get_or_none(card_id=card["card_id"])
        if row is None or not row.signature:
            raise OtolaneError("card_unsigned", "no employee signed this card", status=404)
        if row.signature.lstrip().startswith("<"):
            return row.signature.encode(), "application/xml"
        return base64.b64decode(row.signature), "application/pkcs7-signature"

    async def print_status(self, job: str) -> dict[str, Any]:
        done = await asyncio.to_thread(job_done, job[:80], self.cfg.printer["server"])
        return {"job": job, "done": done}

    async def certificate(
        self, who: Reader, card_id: str, to_printer: bool = False
    ) -> tuple[bytes, str, bool, PrintJob | None]:
        """The international certificate of technical inspection for a passing card: its own number
        (kept on a reprint, then marked COPY), journalled; printed on the lane's queue when asked."""
        card = await self._stored(card_id)  # the certificate shows no photo: none is read
        due = (card.get("next_inspection") or {}).get("due")
        if card["verdict"] != "admitted" or not due:
            raise OtolaneError("certificate_not_admitted", "a certificate needs a passing card", status=409)
        today = lane_date(self.clock.now()).isoformat()
        if due <= today:
            raise OtolaneError("certificate_expired", "the card's validity is over", due=due, status=409)
        before = await self.journal.of_card("certificate_issued", card["card_id"])
        await self.allowed(who, card, bool(before))
        if before:
            number = str(before[0].details["number"])
        else:
            slug = "".join(c for c in str(self.cfg.lane["name"]).upper() if c.isascii() and c.isalnum())[:12]
            number = f"{slug or 'LANE'}-ITC-{await self.journal.cards_named('certificate_issued') + 1:06d}"
        from app.documents.certificate_pdf import render_certificate  # reportlab: loaded when first used

        pdf = await asyncio.to_thread(render_certificate, card, number, due, copy=bool(before))
        ids = {"card_id": card["card_id"], "inspection_id": card["inspection_id"], "number": number}
        ids["formed_by"] = formed_by(card)
        job = await self._issued(
            who.username,
            "certificate_issued",
            pdf,
            f"certificate {number}",
            ids,
            to_printer,
            valid_until=due,
            copy=bool(before),
        )
        return pdf, number, bool(before), job

    async def _issue_card(
        self, who: Reader, card_id: str, to_printer: bool
    ) -> tuple[bytes, bool, PrintJob | None]:
        card = await self._stored(card_id)
        is_copy = bool(await self.journal.of_card("card_issued", card["card_id"]))
        await self.allowed(who, card, is_copy)
        card = await self.with_images(card)
        from app.documents.card_pdf import render_card  # reportlab: loaded when first used

        outbox = await Outbox.get_or_none(card_id=card["card_id"])
        receipt = outbox.receipt if outbox is not None and outbox.status == "accepted" else ""
        seal = make_seal(card, receipt[:100], self.key.fingerprint, self.key.sign)
        pdf = await asyncio.to_thread(render_card, card, copy=is_copy, seal=seal)
        ids = {
            "card_id": card["card_id"],
            "inspection_id": card["inspection_id"],
            "formed_by": formed_by(card),
        }
        job = await self._issued(
            who.username, "card_issued", pdf, f"card {card['number']}", ids, to_printer, copy=is_copy
        )
        return pdf, is_copy, job

    async def _issued(
        self,
        actor: str,
        action: str,
        pdf: bytes,
        title: str,
        ids: dict[str, Any],
        to_printer: bool,
        **details: Any,
    ) -> PrintJob | None:
        """The document to the printer when asked, then its issue journalled with the PDF's hash and the
        CUPS job (or that it was downloaded). A printer's refusal is journalled (``card_print_failed``)
        and raised: nothing was issued."""
        job = None
        if to_printer:
            try:
                job = await asyncio.to_thread(
                    print_pdf, pdf, self.cfg.printer["queue"], self.cfg.printer["server"], title
                )
            except OtolaneError as exc:
                await self.journal.write(actor, "card_print_failed", **ids, code=exc.code, **exc.params)
                raise
        await self.journal.write(
            actor,
            action,
            **ids,
            **details,
            sha256=hashlib.sha256(pdf).hexdigest(),
            **({"queue": job.queue, "job": job.job} if job else {"download": True}),
        )
        return job

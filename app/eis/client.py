"""Delivery of one message to EIS over REST/JSON (G1, G2). The SOAP/WS-Security route through ВШЭП
plugs in beside it when its signer arrives (R3.1, G3)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from app.eis.contract import SIGNATURE_HEADER
from app.eis.contract import body as contract_body


@dataclass(frozen=True)
class Delivery:
    outcome: str  # accepted / rejected / retry
    receipt: str = ""
    detail: str = ""
    # G2: what the exchange was, for the exchange journal
    route: str = "rest"
    http_status: int = 0
    duration_ms: float = 0.0
    request_digest: str = ""
    response: str = ""


class RestClient:
    def __init__(self, base_url: str, identification_key: str | Callable[[], str], timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        # a callable: the current key at each message (R5: replaced while the daemon runs)
        self._key = identification_key if callable(identification_key) else (lambda: identification_key)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def submit_card(
        self, card: dict[str, Any], idempotency_key: str, signature: str | None = None
    ) -> Delivery:
        headers = {
            "Idempotency-Key": idempotency_key,
            "X-SPO-Key": self._key(),  # R4: the software's identification key, on every card
            "Content-Type": "application/json",
        }
        if signature:  # G3: signed by the employee who formed the card (detached CMS, base64)
            headers[SIGNATURE_HEADER] = signature
        body = contract_body(card)
        facts = {"request_digest": hashlib.sha256(body).hexdigest()}
        t0 = time.monotonic()

        def ms() -> float:
            return round((time.monotonic() - t0) * 1000, 1)

        try:
            http = await self._http()
            async with http.post(f"{self.base_url}/cards", data=body, headers=headers) as r:
                text = await r.text()
                got = facts | {"http_status": r.status, "duration_ms": ms(), "response": text[:2000]}
                if r.status in (200, 201):
                    data = json.loads(text)
                    return Delivery("accepted", str(data.get("receipt", "")), **got)
                if r.status in (400, 409, 422):
                    return Delivery("rejected", detail=f"HTTP {r.status}: {text[:300]}", **got)
                return Delivery("retry", detail=f"HTTP {r.status}", **got)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            return Delivery("retry", detail=f"{type(exc).__name__}: {exc}"[:300], duration_ms=ms(), **facts)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

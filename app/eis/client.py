"""Delivery of one message to EIS (G1, G2) by the route the configuration names: REST/JSON with a
detached CMS signature in a header, or SOAP with a WS-Security signature in the envelope (the ВШЭП
way). The rest of the lane knows only :meth:`EisClient.send` ("submit this") and
:meth:`EisClient.sign` (the employee's signature in the form the route carries).

Both routes: HTTPS with the server checked against ``eis.ca_file`` (or the system's CAs), the
identification key (R4) and the idempotency key as HTTP headers, so a key replaced while a signed
message waits (R5) does not break its signature.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from app.eds.cms import sign_detached
from app.eds.ncalayer import TokenSigner
from app.eds.signer import Signer
from app.eds.xmldsig import sign_soap
from app.eis import endpoint, soap
from app.eis.contract import KEY_HEADER, SIGNATURE_HEADER
from app.eis.contract import body as contract_body
from app.far_side import read_body

#: REST paths of the message kinds, under the base URL
PATHS = {
    "card": "cards",
    "events": "events",
    "history": "history",
    "requests": "requests",
    "photo": "photos",
    "checkpoint": "checkpoints",
}
#: how long the production check of an endpoint holds before it is made again
PRODUCTION_RECHECK_S = 300.0


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
    data: Any = None  # the answer's content when accepted


class EisClient:
    """One route to EIS; :func:`make_client` picks it from the configuration."""

    route = ""

    def __init__(
        self,
        base_url: str,
        identification_key: str | Callable[[], str],
        timeout_s: float,
        ca_file: str | None = None,
        production_hosts: Iterable[str] = (),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # a callable: the current key at each message (R5: replaced while the daemon runs)
        self._key = identification_key if callable(identification_key) else (lambda: identification_key)
        self.timeout_s = timeout_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.tls: ssl.SSLContext | None = (
            endpoint.tls_context(ca_file) if base_url.startswith("https:") else None
        )
        self.production_hosts = tuple(production_hosts)
        self._production: tuple[float, bool] | None = None
        self.production_error = ""  # why the last check could not tell
        self._session: aiohttp.ClientSession | None = None

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            conn = aiohttp.TCPConnector(ssl=self.tls if self.tls is not None else True)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=conn)
        return self._session

    async def production(self) -> bool | None:
        """Whether this endpoint is production by its URL or certificate; None when it cannot be told
        now (the server does not answer): a training card then waits."""
        now = time.monotonic()
        if self._production and now - self._production[0] < PRODUCTION_RECHECK_S:
            return self._production[1]
        try:
            found = await endpoint.is_production(
                self.base_url, self.tls, self.timeout_s, self.production_hosts
            )
        except (OSError, TimeoutError, ssl.SSLError, ValueError) as exc:
            self.production_error = f"{type(exc).__name__}: {exc}"[:200]
            return None
        self._production, self.production_error = (now, found), ""
        return found

    def sign(self, message: dict[str, Any], signer: Signer, kind: str = "card") -> str:
        """The employee's signature of a message as this route carries it (G3), by a key in memory."""
        raise NotImplementedError

    async def sign_by(
        self, message: dict[str, Any], signer: Signer | TokenSigner, kind: str = "card"
    ) -> str | None:
        """The same by whichever signer the session has: a key file's (in a thread: Streebog over a
        card takes tens of ms) or a token's through NCALayer (the person confirms with the PIN).
        None: this route cannot carry a token's signature (NCALayer makes no WS-Security)."""
        if isinstance(signer, TokenSigner):
            if self.route != "rest":
                return None
            return base64.b64encode(await signer.cms_detached(contract_body(message))).decode()
        return await asyncio.to_thread(self.sign, message, signer, kind)

    def _request(
        self, kind: str, message: dict[str, Any], signature: str | None
    ) -> tuple[str, bytes, dict[str, str]]:
        raise NotImplementedError

    def _outcome(self, status: int, text: str) -> tuple[str, Any, str]:
        """(outcome, answer, detail) of an HTTP answer."""
        raise NotImplementedError

    async def send(
        self, kind: str, message: dict[str, Any], idempotency_key: str, signature: str | None = None
    ) -> Delivery:
        url, body, headers = self._request(kind, message, signature)
        headers |= {"Idempotency-Key": idempotency_key, KEY_HEADER: self._key()}
        facts = {"route": self.route, "request_digest": hashlib.sha256(body).hexdigest()}
        t0 = time.monotonic()

        def ms() -> float:
            return round((time.monotonic() - t0) * 1000, 1)

        try:
            http = await self._http()
            # never to another host: a redirect would take the key header and the card wherever it
            # names (a training card to production, plain HTTP included)
            async with http.post(url, data=body, headers=headers, allow_redirects=False) as r:
                text = await _bounded_text(r)
                got = facts | {"http_status": r.status, "duration_ms": ms(), "response": text[:2000]}
                if 300 <= r.status < 400:
                    where = r.headers.get("Location", "")[:200]
                    return Delivery("retry", detail=redirected(r.status, where), **got)
                outcome, data, detail = self._outcome(r.status, text)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            return Delivery("retry", detail=f"{type(exc).__name__}: {exc}"[:300], duration_ms=ms(), **facts)
        if outcome == "accepted" and (why := unbound(data, idempotency_key, facts["request_digest"])):
            outcome, detail, data = "retry", f"EIS answered HTTP {got['http_status']} but {why}", None
        receipt = str(data.get("receipt", "")) if isinstance(data, dict) else ""
        return Delivery(outcome, receipt, detail, data=data, **got)

    async def submit_card(
        self, card: dict[str, Any], idempotency_key: str, signature: str | None = None
    ) -> Delivery:
        return await self.send("card", card, idempotency_key, signature)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


#: the largest answer read from EIS (a receipt is a few hundred bytes; a list of requests a few KB)
MAX_ANSWER = 1 << 20
#: what an answer must say for its message to count as taken
TAKEN = ("accepted", "duplicate")


async def _bounded_text(r: aiohttp.ClientResponse) -> str:
    return (await read_body(r, MAX_ANSWER)).decode("utf-8", errors="replace")


def redirected(status: int, where: str) -> str:
    return (
        f"EIS answered HTTP {status}, a redirect to {where or 'no address'}: the lane follows no "
        "redirect (the endpoint is wrong or not EIS); check eis.url with the EIS operator"
    )


def unbound(data: Any, key: str, digest: str) -> str:
    """Why an answer does not prove that EIS took this very message, or "": it must be an object
    with a taken status that names the message's idempotency key and the SHA-256 of its body."""
    if not isinstance(data, dict):
        return "its answer is not an object"
    status = data.get("status")
    if status not in TAKEN:
        return f"its answer's status is {str(status)[:40]!r}, not accepted"
    if data.get("idempotency_key") != key:
        return f"its answer names another message ({str(data.get('idempotency_key'))[:80]!r})"
    if data.get("digest") != digest:
        return "its answer names another body than the one sent (SHA-256 differs)"
    return ""


#: EIS refuses the identification key (unknown, expired): not the message's fault — it waits for a
#: new key, and is never marked rejected
KEY_REFUSED = 401


class RestClient(EisClient):
    route = "rest"

    def sign(self, message: dict[str, Any], signer: Signer, kind: str = "card") -> str:
        # a detached CMS (CAdES-BES) of the exact body, base64, for the X-Signature header
        return base64.b64encode(sign_detached(signer, contract_body(message))).decode()

    def _request(
        self, kind: str, message: dict[str, Any], signature: str | None
    ) -> tuple[str, bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        if signature:
            headers[SIGNATURE_HEADER] = signature
        return f"{self.base_url}/{PATHS[kind]}", contract_body(message), headers

    def _outcome(self, status: int, text: str) -> tuple[str, Any, str]:
        if status in (200, 201):
            return "accepted", json.loads(text), ""
        if status == KEY_REFUSED:
            return "retry", None, f"EIS refused the identification key (HTTP 401): {text[:200]}"
        if status in (400, 409, 422):
            return "rejected", None, f"HTTP {status}: {text[:300]}"
        return "retry", None, f"HTTP {status}"


class SoapClient(EisClient):
    route = "soap"

    def sign(self, message: dict[str, Any], signer: Signer, kind: str = "card") -> str:
        # the whole envelope, signed in its WS-Security header: it is sent as it was signed
        return sign_soap(soap.envelope(kind, message), signer).decode()

    def _request(
        self, kind: str, message: dict[str, Any], signature: str | None
    ) -> tuple[str, bytes, dict[str, str]]:
        body = signature.encode() if signature else soap.envelope(kind, message)
        headers = {"Content-Type": soap.CONTENT_TYPE, "SOAPAction": f'"{soap.NS}#{kind}"'}
        return f"{self.base_url}/soap", body, headers

    def _outcome(self, status: int, text: str) -> tuple[str, Any, str]:
        try:
            code, data = soap.read_answer(text.encode())
        except soap.SoapError as e:
            return "retry", None, f"HTTP {status}: {e.message}"
        if code == "ok" and status == 200:
            return "accepted", data, ""
        if status == KEY_REFUSED:
            return "retry", None, f"EIS refused the identification key (HTTP 401): {data}"[:300]
        if code == "Client":
            return "rejected", None, f"HTTP {status}: {data}"[:300]
        return "retry", None, f"HTTP {status}: {data}"[:300]


ROUTES: dict[str, type[EisClient]] = {"rest": RestClient, "soap": SoapClient}


def make_client(eis: dict[str, Any], identification_key: Callable[[], str], ca_file: str | None) -> EisClient:
    """The client of the route ``eis.transport`` names."""
    return ROUTES[eis["transport"]](
        eis["url"],
        identification_key,
        eis["timeout_s"],
        ca_file=ca_file,
        production_hosts=eis.get("production_hosts", ()),
    )

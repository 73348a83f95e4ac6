"""NCALayer: keys on tokens and ID cards (R3.1), through NCA's local WebSocket service.

The employee's token stays in NCALayer: the daemon asks it to sign a fresh challenge
(``kz.gov.pki.knca.commonUtils`` / ``createCAdESFromBase64`` with the content attached — the protocol
as public NCALayer clients speak it, reference/eis-shep-nca.md §3); NCALayer asks the person to pick
the key and type its PIN in its own dialog; the daemon checks the returned CMS (the challenge is its
content, the signature verifies with the certificate inside) and then the certificate, like a key file.
The PIN never reaches the lane.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp
from asn1crypto import x509

from app.eds import certs
from app.eds.cms import verify_detached
from app.eds.errors import EdsError

MODULE = "kz.gov.pki.knca.commonUtils"
#: storage types NCALayer knows (ncalayer-client.js); PKCS12 = a file chosen in NCALayer's dialog
STORAGES = (
    "PKCS12",
    "AKKaztokenStore",
    "AKKZIDCardStore",
    "AKEToken72KStore",
    "AKEToken5110Store",
    "AKJaCartaStore",
)


def _context(url: str, cafile: str | None) -> ssl.SSLContext | None:
    if not url.startswith("wss://"):
        return None
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
    return ctx


async def sign_challenge(
    url: str, storage: str, challenge: bytes, timeout: float = 120.0, cafile: str | None = None
) -> bytes:
    """DER of the attached CMS NCALayer returns over ``challenge``, or an :class:`EdsError`."""
    return await create_cades(url, storage, challenge, True, timeout, cafile)


async def create_cades(
    url: str, storage: str, data: bytes, attach: bool, timeout: float = 120.0, cafile: str | None = None
) -> bytes:
    """DER of the CMS NCALayer makes of ``data`` (attached or detached), or an :class:`EdsError`."""
    if storage not in STORAGES:
        raise EdsError("eds_ncalayer_storage", f"unknown key storage {storage[:40]}", storage=storage[:40])
    request = {
        "module": MODULE,
        "method": "createCAdESFromBase64",
        "args": [storage, "SIGNATURE", base64.b64encode(data).decode(), attach],
    }
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(url, ssl=_context(url, cafile) or True, heartbeat=30) as ws,
        ):
            hello = await asyncio.wait_for(ws.receive_json(), 10)
            if not isinstance(hello, dict) or "result" not in hello:
                raise EdsError("eds_ncalayer_unreachable", "the service on the NCALayer port is not NCALayer")
            await ws.send_str(json.dumps(request))
            # the person picks the key and types the PIN in NCALayer's own dialog: give them time
            answer: Any = await asyncio.wait_for(ws.receive_json(), timeout)
    except EdsError:
        raise
    except (aiohttp.ClientError, OSError, ValueError, TypeError) as e:
        raise EdsError(
            "eds_ncalayer_unreachable", f"NCALayer does not answer at {url}; is it running?", url=url
        ) from e
    except TimeoutError as e:
        raise EdsError("eds_ncalayer_timeout", "NCALayer gave no signature in time") from e
    if not isinstance(answer, dict):
        raise EdsError("eds_ncalayer_failed", "NCALayer answered something unexpected")
    if answer.get("message") == "action.canceled":
        raise EdsError("eds_ncalayer_canceled", "the signature was cancelled in NCALayer")
    if str(answer.get("code")) != "200" or not isinstance(answer.get("responseObject"), str):
        raise EdsError("eds_ncalayer_failed", f"NCALayer refused: {str(answer.get('message', ''))[:120]}")
    try:
        return base64.b64decode(answer["responseObject"], validate=True)
    except ValueError as e:
        raise EdsError("eds_ncalayer_failed", "NCALayer's signature is not base64") from e


@dataclass(frozen=True)
class TokenSigner:
    """The signer of an NCALayer session (G3): the key stays on the token; each signature is asked
    of NCALayer (the person confirms it with the PIN) and must come from the key that signed in."""

    url: str
    storage: str
    cafile: str | None
    certificate: x509.Certificate
    info: certs.CertInfo

    async def cms_detached(self, data: bytes) -> bytes:
        der = await create_cades(self.url, self.storage, data, False, cafile=self.cafile)
        cert = await asyncio.to_thread(verify_detached, der, data)
        if cert.dump() != self.certificate.dump():
            raise EdsError(
                "eds_signature_invalid", "NCALayer signed with another key than the one that signed in"
            )
        return der

"""OCSP (RFC 6960), when a lane configures a responder (``[eds] ocsp_url``, NCA's is
``http://ocsp.pki.gov.kz/``): the certificate's status asked at login, in addition to the CRL.

The request names the certificate by a SHA-1 CertID and carries a nonce; the answer is accepted only
when it is signed by the issuing CA itself or by a responder certificate that CA issued for OCSP
signing (id-kp-OCSPSigning), names our certificate, is current, and echoes our nonce when it carries
one. Anything else — no answer, an error status, a wrong signature — is ``revocation_unknown``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import aiohttp
from asn1crypto import ocsp, x509

from app.eds import asn1, signature
from app.eds.errors import EdsError
from app.far_side import TooLarge, read_body

SKEW = timedelta(minutes=5)
#: an OCSP response is a few KB; more is not read
MAX_RESPONSE = 1 << 20
OCSP_SIGNING = "1.3.6.1.5.5.7.3.9"


def _sha1(data: bytes) -> bytes:
    return hashlib.sha1(data, usedforsecurity=False).digest()  # RFC 6960 CertID: a name, not a seal


def key_hash(cert: x509.Certificate) -> bytes:
    """SHA-1 of the subject public key's BIT STRING value (its unused-bits byte left out)."""
    return _sha1(cert["tbs_certificate"]["subject_public_key_info"]["public_key"].contents[1:])


def cert_id(cert: x509.Certificate, issuer: x509.Certificate) -> ocsp.CertId:
    return ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "sha1"},
            "issuer_name_hash": _sha1(issuer.subject.dump()),
            "issuer_key_hash": key_hash(issuer),
            "serial_number": cert.serial_number,
        }
    )


def build_request(cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes) -> bytes:
    return ocsp.OCSPRequest(
        {
            "tbs_request": {
                "request_list": [{"req_cert": cert_id(cert, issuer)}],
                "request_extensions": [{"extn_id": "nonce", "critical": False, "extn_value": nonce}],
            }
        }
    ).dump()


def _unknown(why: str) -> EdsError:
    return EdsError("eds_revocation_unknown", f"the OCSP answer cannot be used: {why}")


def _responder(basic: ocsp.BasicOCSPResponse, issuer: x509.Certificate, at: datetime) -> x509.Certificate:
    rid = basic["tbs_response_data"]["responder_id"]
    included = list(basic["certs"]) if basic["certs"].native else []
    for c in [issuer, *included]:
        named = (rid.name == "by_key" and rid.chosen.native == key_hash(c)) or (
            rid.name == "by_name" and rid.chosen == c.subject
        )
        if not named:
            continue
        if c.dump() == issuer.dump():
            return c
        # a delegated responder: issued by the CA for OCSP signing, and valid now
        tbs_alg = c["signature_algorithm"]["algorithm"].dotted
        eku = [str(u) for u in (c.extended_key_usage_value.native if c.extended_key_usage_value else [])]
        if (
            signature.verify(tbs_alg, issuer, c["tbs_certificate"].dump(), c["signature_value"].native)
            and ("ocsp_signing" in eku or OCSP_SIGNING in eku)
            and c.not_valid_before <= at <= c.not_valid_after
        ):
            return c
    raise _unknown("it is signed by no one the issuing CA authorised")


def read_response(
    der: bytes, cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes, at: datetime
) -> tuple[str, str]:
    """``("good"|"revoked"|"unknown", detail)`` from a responder's answer, or ``revocation_unknown``."""
    asn1.register()
    try:
        resp = ocsp.OCSPResponse.load(der)
        status = resp["response_status"].native
        if status != "successful":
            raise _unknown(f"the responder says {status}")
        basic = resp["response_bytes"]["response"].parsed
        tbs = basic["tbs_response_data"]
        signer = _responder(basic, issuer, at)
        alg = basic["signature_algorithm"]["algorithm"].dotted
        if not signature.verify(alg, signer, tbs.dump(), basic["signature"].native):
            raise _unknown("its signature does not verify")
        for ext in tbs["response_extensions"]:
            if ext["extn_id"].native == "nonce" and ext["extn_value"].native != nonce:
                raise _unknown("it answers another request (nonce)")
        want = cert_id(cert, issuer)
        for single in tbs["responses"]:
            cid = single["cert_id"]
            if (
                cid["issuer_name_hash"].native,
                cid["issuer_key_hash"].native,
                cid["serial_number"].native,
            ) != (
                want["issuer_name_hash"].native,
                want["issuer_key_hash"].native,
                want["serial_number"].native,
            ):
                continue
            if single["this_update"].native > at + SKEW:
                raise _unknown("it is dated in the future")
            nxt = single["next_update"].native
            if nxt is not None and nxt < at - SKEW:
                raise _unknown("it is out of date")
            state = single["cert_status"]
            if state.name == "revoked":
                info = state.chosen
                reason = info["revocation_reason"].native or "unspecified"
                return "revoked", f"{reason} since {info['revocation_time'].native.isoformat()} (OCSP)"
            return state.name, ""
    except EdsError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise _unknown(f"it is not an OCSP response ({type(e).__name__})") from e
    raise _unknown("it does not name this certificate")


async def status(
    url: str, cert: x509.Certificate, issuer: x509.Certificate, at: datetime, timeout: float = 10.0
) -> tuple[str, str]:
    nonce = secrets.token_bytes(16)
    body = build_request(cert, issuer, nonce)
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
            # only the responder the lane was configured with: no redirect is followed
            http.post(
                url, data=body, headers={"Content-Type": "application/ocsp-request"}, allow_redirects=False
            ) as r,
        ):
            if 300 <= r.status < 400:
                raise _unknown(f"the responder answered HTTP {r.status}, a redirect: the lane follows none")
            if r.status != 200:
                raise _unknown(f"the responder answered HTTP {r.status}")
            der = await read_body(r, MAX_RESPONSE)
    except EdsError:
        raise
    except TooLarge as e:
        raise _unknown(f"the responder's {e}") from e
    except (aiohttp.ClientError, OSError, TimeoutError) as e:
        raise _unknown(f"the responder {url} does not answer") from e
    return read_response(der, cert, issuer, nonce, at)

"""Detached CMS signatures (CAdES-BES) by an employee's key, for messages to EIS (G3).

A SignedData without its content: the signer's certificate, and signed attributes content-type,
signing-time, message-digest and ESS signing-certificate-v2 (what makes CMS into CAdES-BES, ETSI
EN 319 122-1 §5.2). GOST keys: digest Streebog-512 (NCA's OID 1.2.398.3.10.1.3.3), signature
GOST 2015-512 in NCA's byte order; RSA keys: SHA-256 with PKCS#1 v1.5 — checked by ``openssl cms
-verify`` in tests/unit/test_eds_cms.py. No independent verifier for NCA's GOST flavour exists on
this machine (OpenSSL has no Kazakh GOST); GOST signatures are checked by :func:`verify_detached`,
whose arithmetic is itself checked against the standard's example and NCA's certificates.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from asn1crypto import algos, cms, core, x509

from app.eds import asn1, gost, signature
from app.eds.errors import EdsError
from app.eds.signer import Signer

_DIGEST = {asn1.GOST2015_512_SIG: asn1.GOST2015_512_HASH, signature.RSA_SHA256: "sha256"}


class _EssCertIdV2(core.Sequence):
    """RFC 5035 ESSCertIDv2; the hash algorithm is left out, which means SHA-256 (its DEFAULT)."""

    _fields = [
        ("hash_algorithm", algos.DigestAlgorithm, {"optional": True}),
        ("cert_hash", core.OctetString),
    ]


class _EssCertIdsV2(core.SequenceOf):
    _child_spec = _EssCertIdV2


class _SigningCertificateV2(core.Sequence):
    _fields = [("certs", _EssCertIdsV2)]


class _SigningCertificateV2s(core.SetOf):
    _child_spec = _SigningCertificateV2


def _register() -> None:
    """asn1crypto 1.5 knows neither NCA's Streebog OID nor ESS signing-certificate-v2 (RFC 5035)."""
    asn1.register()
    algos.DigestAlgorithmId._map.setdefault(asn1.GOST2015_512_HASH, "streebog512_nca")
    cms.CMSAttributeType._map.setdefault("1.2.840.113549.1.9.16.2.47", "signing_certificate_v2")
    cms.CMSAttribute._oid_specs.setdefault("signing_certificate_v2", _SigningCertificateV2s)


def _digest(alg: str, data: bytes) -> bytes:
    if alg in (asn1.GOST2015_512_HASH, "streebog512_nca"):
        return gost.streebog512(data)
    if alg == "sha256":
        return hashlib.sha256(data).digest()
    raise EdsError("eds_unknown_algorithm", f"digest {alg} is not supported", algorithm=alg)


def sign_detached(signer: Signer, data: bytes, at: datetime | None = None, attach: bool = False) -> bytes:
    """DER of a ContentInfo(SignedData) over ``data``, the content left out (or kept: ``attach``)."""
    _register()
    sig_alg = signer.algorithm
    dig_alg = _DIGEST[sig_alg]
    cert = signer.certificate
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["data"]},
            {
                "type": "signing_time",
                "values": [cms.Time({"utc_time": (at or datetime.now(UTC)).replace(microsecond=0)})],
            },
            {"type": "message_digest", "values": [_digest(dig_alg, data)]},
            {
                "type": "signing_certificate_v2",
                "values": [{"certs": [{"cert_hash": hashlib.sha256(cert.dump()).digest()}]}],
            },
        ]
    )
    # RFC 5652 §5.4: the signature covers the attributes' DER with the SET OF tag
    sig = signer.sign(attrs.dump())
    info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {"issuer_and_serial_number": {"issuer": cert.issuer, "serial_number": cert.serial_number}}
            ),
            "digest_algorithm": {"algorithm": dig_alg},
            "signed_attrs": attrs,
            "signature_algorithm": {"algorithm": sig_alg},
            "signature": sig,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": dig_alg}],
            "encap_content_info": {"content_type": "data", "content": data if attach else None},
            "certificates": [cert],
            "signer_infos": [info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


def verify_attached(der: bytes) -> tuple[x509.Certificate, bytes]:
    """The signer's certificate and the content of an attached signature (what NCALayer's
    ``createCAdESFromBase64`` with attach returns)."""
    _register()
    try:
        content = cms.ContentInfo.load(der)["content"]["encap_content_info"]["content"].native
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise EdsError(
            "eds_signature_invalid", "the signature does not match the message or its certificate"
        ) from e
    if not isinstance(content, bytes):
        raise EdsError("eds_signature_invalid", "the signature carries no content")
    return verify_detached(der, content), content


def verify_detached(der: bytes, data: bytes) -> x509.Certificate:
    """The signer's certificate when the detached signature over ``data`` is intact; otherwise
    :class:`EdsError` ``eds_signature_invalid``. (Whether the certificate may sign is
    :func:`app.eds.certs.check`'s question.)"""
    _register()
    bad = EdsError("eds_signature_invalid", "the signature does not match the message or its certificate")
    try:
        ci = cms.ContentInfo.load(der)
        signed = ci["content"]
        info = signed["signer_infos"][0]
        sid = info["sid"].chosen
        cert = next(
            c.chosen
            for c in signed["certificates"]
            if c.chosen.serial_number == sid["serial_number"].native and c.chosen.issuer == sid["issuer"]
        )
        attrs = info["signed_attrs"]
        digest = next(a["values"][0].native for a in attrs if a["type"].native == "message_digest")
        dig_alg = info["digest_algorithm"]["algorithm"].native
        sig_alg = info["signature_algorithm"]["algorithm"].dotted
        signed_der = attrs.untag().dump() if attrs.explicit or attrs.implicit else attrs.dump()
    except (ValueError, TypeError, KeyError, IndexError, StopIteration) as e:
        raise bad from e
    if digest != _digest(dig_alg, data):
        raise bad
    if not signature.verify(sig_alg, cert, signed_der, info["signature"].native):
        raise bad
    return cert

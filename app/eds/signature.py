"""Verify a signature by the key in a certificate: GOST 2015 (NCA byte order) or RSA."""

from __future__ import annotations

from asn1crypto import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.eds import asn1, gost

_RSA_HASHES = {
    "1.2.840.113549.1.1.11": hashes.SHA256,
    "1.2.840.113549.1.1.12": hashes.SHA384,
    "1.2.840.113549.1.1.13": hashes.SHA512,
    "1.2.840.113549.1.1.5": hashes.SHA1,
}
RSA_SHA256 = "1.2.840.113549.1.1.11"


def curve_of(cert: x509.Certificate) -> gost.Curve | None:
    params = cert["tbs_certificate"]["subject_public_key_info"]["algorithm"]["parameters"].native
    first = next(iter(params.values()), None) if isinstance(params, dict) else None
    return gost.CURVES.get(str(first))


def signature_algorithm_for(cert: x509.Certificate) -> str:
    """The signature algorithm OID a key of this certificate signs with."""
    return asn1.GOST2015_512_SIG if asn1.key_algorithm(cert) == asn1.GOST2015_512_KEY else RSA_SHA256


def verify(algorithm: str, signer: x509.Certificate, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` over ``data`` was made by the key of ``signer`` with ``algorithm``."""
    asn1.register()
    key_alg = asn1.key_algorithm(signer)
    if algorithm == asn1.GOST2015_512_SIG:
        curve = curve_of(signer) if key_alg == asn1.GOST2015_512_KEY else None
        return curve is not None and gost.nca_verify(curve, asn1.public_key_bytes(signer), data, signature)
    hash_cls = _RSA_HASHES.get(algorithm)
    if hash_cls is None or key_alg != "1.2.840.113549.1.1.1":
        return False
    key = serialization.load_der_public_key(asn1.public_key_bytes(signer))
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, data, padding.PKCS1v15(), hash_cls())
    except InvalidSignature:
        return False
    return True

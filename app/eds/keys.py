"""Private keys of both families behind one interface: sign bytes, show the public key.

A key never leaves the daemon's memory: it has no export, no ``repr`` of its secret, and is only
made by opening a container (:mod:`app.eds.container`).
"""

from __future__ import annotations

from typing import Protocol

from asn1crypto import keys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.eds import asn1, gost
from app.eds.errors import EdsError


class PrivateKey(Protocol):
    algorithm: str  # "gost2015_512" or "rsa"

    def sign(self, data: bytes) -> bytes: ...

    def public_bytes(self) -> bytes: ...


class GostKey:
    """A GOST R 34.10-2015 key; signs with Streebog-512, NCA byte order."""

    algorithm = "gost2015_512"

    def __init__(self, curve: gost.Curve, d_le: bytes) -> None:
        self._curve = curve
        self._d = d_le
        self._public = gost.nca_public(curve, d_le)

    def sign(self, data: bytes) -> bytes:
        return gost.nca_sign(self._curve, self._d, data)

    def public_bytes(self) -> bytes:
        return self._public

    def __repr__(self) -> str:
        return f"GostKey({self._curve.name})"


class RsaKey:
    """An RSA key; signs PKCS#1 v1.5 with SHA-256 (sha256WithRSAEncryption, as NCA's RSA keys do)."""

    algorithm = "rsa"

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def public_bytes(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def __repr__(self) -> str:
        return f"RsaKey({self._key.key_size})"


def load_private_key(info: keys.PrivateKeyInfo) -> PrivateKey:
    """A key from its PKCS#8 structure; an algorithm we do not sign with is refused by name."""
    asn1.register()
    alg = info["private_key_algorithm"]
    oid = alg["algorithm"].dotted
    if oid == asn1.GOST2015_512_KEY:
        params = alg["parameters"].native or {}
        param_oid = str(next(iter(params.values()), "")) if isinstance(params, dict) else ""
        curve = gost.CURVES.get(param_oid)
        if curve is None:
            raise EdsError(
                "eds_unknown_algorithm", f"GOST key on unknown parameters {param_oid}", algorithm=param_oid
            )
        raw = info["private_key"].parsed.native
        if not isinstance(raw, bytes) or len(raw) != curve.size:
            raise EdsError("eds_corrupt", "the GOST private key has the wrong length")
        return GostKey(curve, raw)
    if oid == "1.2.840.113549.1.1.1":
        key = serialization.load_der_private_key(info.dump(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise EdsError("eds_corrupt", "the RSA key does not load")
        return RsaKey(key)
    raise EdsError(
        "eds_unknown_algorithm", f"keys of algorithm {oid} cannot sign on this lane", algorithm=str(oid)
    )

"""NCA's object identifiers and the one adjustment asn1crypto needs to read GOST certificates.

asn1crypto looks up how to parse a public key by its algorithm name and raises for any key it does
not know; an NCA GOST key is an OCTET STRING inside the BIT STRING (little-endian x‖y). ``register``
teaches it the NCA names and reads an unknown key as opaque bits (as RFC 8410 keys already are), so a
GOST certificate, CRL and PKCS#8 key can be parsed like any other. It changes no known algorithm.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import algos, core, keys, x509

# 1.2.398.3.10.1.1.2.* : GOST R 34.10-2015 on NCA's arc (reference/nca-test/README.md, eis-shep-nca §2.3)
GOST2015_512_KEY = "1.2.398.3.10.1.1.2.2"
GOST2015_512_PARAMS_A = "1.2.398.3.10.1.1.2.2.1"
GOST2015_256_KEY = "1.2.398.3.10.1.1.2.1"
GOST2015_512_SIG = "1.2.398.3.10.1.1.2.3.2"
GOST2015_256_SIG = "1.2.398.3.10.1.1.2.3.1"
GOST2015_512_HASH = "1.2.398.3.10.1.3.3"
GOST2004_KEY = "1.2.398.3.10.1.1.1.1"
GOST2004_SIG = "1.2.398.3.10.1.1.1.2"

# NCA role OIDs in extended key usage (eis-shep-nca §2.2)
ROLES = {
    "1.2.398.3.3.4.1.1": "individual",
    "1.2.398.3.3.4.1.2": "organisation",
    "1.2.398.3.3.4.1.2.1": "head",
    "1.2.398.3.3.4.1.2.2": "sign_right",
    "1.2.398.3.3.4.1.2.3": "finance",
    "1.2.398.3.3.4.1.2.4": "hr",
    "1.2.398.3.3.4.1.2.5": "employee",
}
EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"
CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"

_registered = False


def register() -> None:
    """Teach asn1crypto the NCA names once (idempotent)."""
    global _registered
    if _registered:
        return
    keys.PublicKeyAlgorithmId._map.update(
        {GOST2015_512_KEY: "gost2015_512", GOST2015_256_KEY: "gost2015_256"}
    )
    keys.PrivateKeyAlgorithmId._map.update(
        {GOST2015_512_KEY: "gost2015_512", GOST2015_256_KEY: "gost2015_256"}
    )
    algos.SignedDigestAlgorithmId._map.update(
        {GOST2015_512_SIG: "gost2015_512", GOST2015_256_SIG: "gost2015_256"}
    )
    known = keys.PublicKeyInfo._spec_callbacks["public_key"]

    def public_key_spec(self: keys.PublicKeyInfo) -> Any:
        if self["algorithm"]["algorithm"].native in ("gost2015_512", "gost2015_256"):
            return (core.OctetBitString, None)
        return known(self)

    keys.PublicKeyInfo._spec_callbacks = {"public_key": public_key_spec}
    known_private = keys.PrivateKeyInfo._spec_callbacks["private_key"]

    def private_key_spec(self: keys.PrivateKeyInfo) -> Any:
        if self["private_key_algorithm"]["algorithm"].native in ("gost2015_512", "gost2015_256"):
            return core.OctetString
        return known_private(self)

    keys.PrivateKeyInfo._spec_callbacks = {"private_key": private_key_spec}
    _registered = True


def key_algorithm(cert: x509.Certificate) -> str:
    """The certificate's key algorithm OID (dotted)."""
    return str(cert["tbs_certificate"]["subject_public_key_info"]["algorithm"]["algorithm"].dotted)


def public_key_bytes(cert: x509.Certificate) -> bytes:
    """The subject's public key as the signer compares it: DER SPKI for RSA, raw 2×n LE bytes for GOST."""
    register()
    spki = cert["tbs_certificate"]["subject_public_key_info"]
    if key_algorithm(cert) in (GOST2015_512_KEY, GOST2015_256_KEY):
        return bytes(core.OctetString.load(spki["public_key"].native).native)
    return bytes(spki.dump())

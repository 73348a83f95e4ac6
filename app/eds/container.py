"""Open an NCA key container (PKCS#12) of either family, RSA or GOST 2015, in pure Python.

NCA writes its containers the legacy way (RFC 7292): an HMAC-SHA1 over the contents, the key in a
``pkcs8ShroudedKeyBag`` under ``pbeWithSHAAnd3-KeyTripleDES-CBC`` and the certificates under
``pbeWithSHAAnd40BitRC2-CBC``; newer tools use PBES2 with AES. ``cryptography`` opens the RSA ones but
not the GOST ones (it does not know the key), so every container goes through this one reader:
asn1crypto for the structure, ``cryptography`` for SHA/HMAC/3DES/AES/PBKDF2, :mod:`app.eds.rc2` for
RC2-40. The key is proven to belong to the certificate before the container is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import algos, keys, pkcs12, x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from app.eds import asn1, rc2
from app.eds.errors import EdsError
from app.eds.keys import PrivateKey, load_private_key

# RFC 7292 Appendix B.3: purposes of the derived material
_KEY, _IV, _MAC = 1, 2, 3
_HASHES = {
    "sha1": (hashlib.sha1, 20, 64),
    "sha256": (hashlib.sha256, 32, 64),
    "sha512": (hashlib.sha512, 64, 128),
}
# legacy PBE: (cipher, key bytes, effective key bits)
_LEGACY = {
    "pkcs12_sha1_tripledes_3key": ("3des", 24, 0),
    "pkcs12_sha1_tripledes_2key": ("3des", 16, 0),
    "pkcs12_sha1_rc2_40": ("rc2", 5, 40),
    "pkcs12_sha1_rc2_128": ("rc2", 16, 128),
}


@dataclass(frozen=True)
class Container:
    """What a container holds once opened: the key, its certificate, and any other certificates."""

    key: PrivateKey
    certificate: x509.Certificate
    others: list[x509.Certificate] = field(default_factory=list)


def pkcs12_kdf(
    hash_name: str, password: bytes, salt: bytes, purpose: int, iterations: int, size: int
) -> bytes:
    """RFC 7292 Appendix B.2; ``password`` already as BMPString with its two zero bytes."""
    fn, u, v = _HASHES[hash_name]
    d = bytes([purpose]) * v

    def fill(b: bytes) -> bytes:  # repeat to a whole number of v-byte blocks
        n = v * ((len(b) + v - 1) // v)
        return (b * (n // len(b) + 1))[:n] if b else b""

    i = bytearray(fill(salt) + fill(password))
    out = b""
    while len(out) < size:
        a = fn(d + bytes(i)).digest()
        for _ in range(iterations - 1):
            a = fn(a).digest()
        out += a
        b = int.from_bytes((a * (v // u + 1))[:v], "big")
        for at in range(0, len(i), v):
            block = (int.from_bytes(i[at : at + v], "big") + b + 1) % (1 << (8 * v))
            i[at : at + v] = block.to_bytes(v, "big")
    return out[:size]


def _bmp(password: str) -> bytes:
    return password.encode("utf-16-be") + b"\x00\x00" if password else b""


def _unpad(data: bytes) -> bytes:
    n = data[-1] if data else 0
    if not 1 <= n <= 16 or data[-n:] != bytes([n]) * n:
        # a padding error after the MAC passed: the bag itself is damaged
        raise EdsError("eds_corrupt", "the key container is damaged (a bag does not decrypt)")
    return data[:-n]


def _decrypt(alg: algos.EncryptionAlgorithm, password: str, data: bytes) -> bytes:
    name = alg["algorithm"].native
    if name in _LEGACY:
        cipher, size, bits = _LEGACY[name]
        params = alg["parameters"]
        salt, rounds = params["salt"].native, params["iterations"].native
        pw = _bmp(password)
        key = pkcs12_kdf("sha1", pw, salt, _KEY, rounds, size)
        iv = pkcs12_kdf("sha1", pw, salt, _IV, rounds, 8)
        if cipher == "rc2":
            return _unpad(rc2.cbc_decrypt(key, bits, iv, data))
        if len(key) == 16:
            key += key[:8]
        d = Cipher(TripleDES(key), modes.CBC(iv)).decryptor()
        return _unpad(d.update(data) + d.finalize())
    if name == "pbes2":
        if alg.kdf != "pbkdf2" or alg.encryption_cipher != "aes":
            what = f"{alg.kdf}/{alg.encryption_cipher}"
            raise EdsError(
                "eds_unknown_algorithm",
                f"the key container uses an encryption this lane does not know ({what})",
                algorithm=what,
            )
        hash_cls = {"sha1": "SHA1", "sha256": "SHA256", "sha512": "SHA512"}.get(alg.kdf_hmac)
        if hash_cls is None:
            raise EdsError(
                "eds_unknown_algorithm", f"unknown PBKDF2 hash {alg.kdf_hmac}", algorithm=alg.kdf_hmac
            )
        from cryptography.hazmat.primitives import hashes

        kdf = PBKDF2HMAC(getattr(hashes, hash_cls)(), alg.key_length, alg.kdf_salt, alg.kdf_iterations)
        key = kdf.derive(password.encode("utf-8"))
        d = Cipher(algorithms.AES(key), modes.CBC(alg.encryption_iv)).decryptor()
        return _unpad(d.update(data) + d.finalize())
    raise EdsError(
        "eds_unknown_algorithm",
        f"the key container uses an encryption this lane does not know ({name})",
        algorithm=str(name),
    )


def _check_mac(pfx: pkcs12.Pfx, password: str, content: bytes) -> None:
    mac = pfx["mac_data"]
    if mac.native is None:
        return  # an unprotected container: the key bag's own encryption still needs the password
    hname = mac["mac"]["digest_algorithm"]["algorithm"].native
    if hname not in _HASHES:
        raise EdsError("eds_unknown_algorithm", f"the container's MAC uses {hname}", algorithm=str(hname))
    salt, rounds = mac["mac_salt"].native, mac["iterations"].native
    size = _HASHES[hname][1]
    key = pkcs12_kdf(hname, _bmp(password), salt, _MAC, rounds, size)
    got = hmac.new(key, content, _HASHES[hname][0]).digest()
    if not hmac.compare_digest(got, mac["mac"]["digest"].native):
        raise EdsError(
            "eds_wrong_password", "the password does not open this key container (or the file was changed)"
        )


def _bags(pfx: pkcs12.Pfx, password: str) -> list[pkcs12.SafeBag]:
    out: list[pkcs12.SafeBag] = []
    for info in pfx.authenticated_safe:
        kind = info["content_type"].native
        if kind == "data":
            raw = info["content"].native
        elif kind == "encrypted_data":
            eci = info["content"]["encrypted_content_info"]
            raw = _decrypt(eci["content_encryption_algorithm"], password, eci["encrypted_content"].native)
        else:
            raise EdsError(
                "eds_unknown_algorithm", f"a container part of type {kind} is not supported", algorithm=kind
            )
        out.extend(pkcs12.SafeContents.load(raw))
    return out


def open_container(data: bytes, password: str) -> Container:
    """The key and certificate of a container, or an :class:`EdsError` that says what is wrong."""
    asn1.register()
    try:
        return _open(data, password)
    except EdsError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as e:
        # asn1crypto parses lazily: a damaged part fails where it is first read, anywhere below
        raise EdsError(
            "eds_corrupt", f"this file is not a readable key container ({type(e).__name__})"
        ) from e


def _open(data: bytes, password: str) -> Container:
    pfx = pkcs12.Pfx.load(data)
    content = pfx["auth_safe"]["content"].native
    if not isinstance(content, bytes):
        raise ValueError("no data content")
    _check_mac(pfx, password, content)
    key: PrivateKey | None = None
    certs: list[x509.Certificate] = []
    for bag in _bags(pfx, password):
        kind = bag["bag_id"].native
        value: Any = bag["bag_value"]
        try:
            if kind == "pkcs8_shrouded_key_bag":
                plain = _decrypt(value["encryption_algorithm"], password, value["encrypted_data"].native)
                key = load_private_key(keys.PrivateKeyInfo.load(plain))
            elif kind == "key_bag":
                key = load_private_key(value)
            elif kind == "cert_bag" and value["cert_id"].native == "x509":
                cert = x509.Certificate.load(value["cert_value"].parsed.dump())
                cert.native  # noqa: B018 - parse it whole now, inside this reader's error handling
                certs.append(cert)
        except EdsError as e:
            if e.code == "eds_corrupt" and pfx["mac_data"].native is None:
                # without a MAC, a wrong password shows only as a bag that does not decrypt
                raise EdsError("eds_wrong_password", "the password does not open this key container") from e
            raise
    if key is None:
        raise EdsError("eds_no_key", "the container holds no private key")
    own = [c for c in certs if key.public_bytes() == asn1.public_key_bytes(c)]
    if not own:
        raise EdsError("eds_key_mismatch", "the key in the container does not belong to its certificate")
    return Container(key=key, certificate=own[0], others=[c for c in certs if c is not own[0]])

"""A training PKI, shaped as NCA makes its own (reference/nca-test): a root, an issuing CA, employee
certificates with IIN and BIN, a CRL, and PKCS#12 containers encrypted the legacy way (SHA-1 MAC,
3DES bags). The demo signs its operator in with it and the tests make fresh ones (dates relative to
now). Its CA names say TRAINING: no production lane's ``[eds] ca`` should ever list it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import cms, core, crl, keys, pkcs12, x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from app.eds import asn1, gost
from app.eds.container import pkcs12_kdf
from app.storage.crypto import write_secret_file

CURVE = gost.PARAMSET_A_512
_KEY_PARAMS = bytes.fromhex("3016060a2a830e030a010102020106082a830e030a010303")  # NCA's, verbatim
_SIG_ALG = {"algorithm": asn1.GOST2015_512_SIG, "parameters": core.Null()}


@dataclass
class Issued:
    cert: x509.Certificate
    d_le: bytes

    @property
    def der(self) -> bytes:
        return self.cert.dump()


def _key() -> bytes:
    return (secrets.randbelow(CURVE.q - 1) + 1).to_bytes(64, "little")


def _spki(d_le: bytes) -> keys.PublicKeyInfo:
    asn1.register()
    return keys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": asn1.GOST2015_512_KEY, "parameters": core.Any.load(_KEY_PARAMS)},
            "public_key": core.OctetString(gost.nca_public(CURVE, d_le)).dump(),
        }
    )


def _ski(d_le: bytes) -> bytes:
    return hashlib.sha1(gost.nca_public(CURVE, d_le), usedforsecurity=False).digest()  # RFC 5280 key id


def issue(
    subject: dict[str, str],
    issuer: Issued | None,
    *,
    ca: bool = False,
    days: tuple[int, int] = (-30, 365),
    eku: tuple[str, ...] = (asn1.EMAIL_PROTECTION, "1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.2"),
    usage: frozenset[str] = frozenset({"digital_signature", "non_repudiation"}),
) -> Issued:
    asn1.register()
    d = _key()
    now = datetime.now(UTC).replace(microsecond=0)
    name = x509.Name.build(subject)
    signer_d = issuer.d_le if issuer else d
    exts = [
        {
            "extn_id": "key_usage",
            "critical": True,
            "extn_value": set(usage) if not ca else {"key_cert_sign", "crl_sign"},
        },
        {"extn_id": "key_identifier", "critical": False, "extn_value": _ski(d)},
        {
            "extn_id": "authority_key_identifier",
            "critical": False,
            "extn_value": {"key_identifier": _ski(signer_d)},
        },
    ]
    if ca:
        exts.insert(0, {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": True}})
    else:
        exts.append({"extn_id": "extended_key_usage", "critical": False, "extn_value": list(eku)})
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": int.from_bytes(os.urandom(16), "big"),
            "signature": _SIG_ALG,
            "issuer": issuer.cert.subject if issuer else name,
            "validity": {
                "not_before": x509.Time({"utc_time": now + timedelta(days=days[0])}),
                "not_after": x509.Time({"utc_time": now + timedelta(days=days[1])}),
            },
            "subject": name,
            "subject_public_key_info": _spki(d),
            "extensions": exts,
        }
    )
    sig = gost.nca_sign(CURVE, signer_d, tbs.dump())
    cert = x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": _SIG_ALG, "signature_value": sig})
    return Issued(x509.Certificate.load(cert.dump()), d)


def revocation_list(
    issuer: Issued, revoked: list[Issued], reason: str = "certificate_hold", days: int = 7
) -> bytes:
    now = datetime.now(UTC).replace(microsecond=0)
    tbs = crl.TbsCertList(
        {
            "version": "v2",
            "signature": _SIG_ALG,
            "issuer": issuer.cert.subject,
            "this_update": x509.Time({"utc_time": now - timedelta(hours=1)}),
            "next_update": x509.Time({"utc_time": now + timedelta(days=days)}),
            "revoked_certificates": [
                {
                    "user_certificate": r.cert.serial_number,
                    "revocation_date": x509.Time({"utc_time": now - timedelta(hours=2)}),
                    "crl_entry_extensions": [
                        {"extn_id": "crl_reason", "critical": False, "extn_value": reason}
                    ],
                }
                for r in revoked
            ],
        }
    )
    sig = gost.nca_sign(CURVE, issuer.d_le, tbs.dump())
    return crl.CertificateList(
        {"tbs_cert_list": tbs, "signature_algorithm": _SIG_ALG, "signature": sig}
    ).dump()


def _encrypt_3des(password: str, data: bytes) -> tuple[dict, bytes]:
    salt, rounds = os.urandom(8), 2048
    pw = password.encode("utf-16-be") + b"\x00\x00"
    key = pkcs12_kdf("sha1", pw, salt, 1, rounds, 24)
    iv = pkcs12_kdf("sha1", pw, salt, 2, rounds, 8)
    n = 8 - len(data) % 8
    enc = Cipher(TripleDES(key), modes.CBC(iv)).encryptor()
    ct = enc.update(data + bytes([n]) * n) + enc.finalize()
    return {"algorithm": "pkcs12_sha1_tripledes_3key", "parameters": {"salt": salt, "iterations": rounds}}, ct


def container(who: Issued, password: str, chain: list[Issued] = ()) -> bytes:  # type: ignore[assignment]
    """A PKCS#12 file as NCA writes it (3DES here for both bags; NCA's RC2-40 certificate bag is
    covered by its own test files)."""
    asn1.register()
    info = keys.PrivateKeyInfo(
        {
            "version": 0,
            "private_key_algorithm": {
                "algorithm": asn1.GOST2015_512_KEY,
                "parameters": core.Any.load(_KEY_PARAMS),
            },
            "private_key": core.OctetString(who.d_le),
        }
    )
    alg, ct = _encrypt_3des(password, info.dump())
    local_id = [{"type": "local_key_id", "values": [hashlib.sha1(who.der, usedforsecurity=False).digest()]}]
    key_bag = pkcs12.SafeBag(
        {
            "bag_id": "pkcs8_shrouded_key_bag",
            "bag_value": {"encryption_algorithm": alg, "encrypted_data": ct},
            "bag_attributes": local_id,
        }
    )
    cert_bags = pkcs12.SafeContents(
        [
            pkcs12.SafeBag(
                {
                    "bag_id": "cert_bag",
                    "bag_value": {"cert_id": "x509", "cert_value": c.cert},
                    "bag_attributes": local_id if c is who else [],
                }
            )
            for c in [who, *chain]
        ]
    )
    alg2, ct2 = _encrypt_3des(password, cert_bags.dump())
    safe = pkcs12.AuthenticatedSafe(
        [
            cms.ContentInfo({"content_type": "data", "content": pkcs12.SafeContents([key_bag]).dump()}),
            cms.ContentInfo(
                {
                    "content_type": "encrypted_data",
                    "content": {
                        "version": "v0",
                        "encrypted_content_info": {
                            "content_type": "data",
                            "content_encryption_algorithm": alg2,
                            "encrypted_content": ct2,
                        },
                    },
                }
            ),
        ]
    )
    body = safe.dump()
    salt, rounds = os.urandom(8), 2048
    mac_key = pkcs12_kdf("sha1", password.encode("utf-16-be") + b"\x00\x00", salt, 3, rounds, 20)
    return pkcs12.Pfx(
        {
            "version": "v3",
            "auth_safe": {"content_type": "data", "content": body},
            "mac_data": {
                "mac": {
                    "digest_algorithm": {"algorithm": "sha1"},
                    "digest": hmac.new(mac_key, body, hashlib.sha1).digest(),
                },
                "mac_salt": salt,
                "iterations": rounds,
            },
        }
    ).dump()


@dataclass
class Pki:
    root: Issued
    ca: Issued
    crl: bytes

    def write(self, folder: Path) -> tuple[Path, Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "root.cer").write_bytes(self.root.der)
        (folder / "ca.cer").write_bytes(self.ca.der)
        (folder / "ca.crl").write_bytes(self.crl)
        return folder / "root.cer", folder / "ca.cer", folder / "ca.crl"


def employee(iin: str, bin_: str = "123456789021", name: str = "ТЕСТОВ ТЕСТ") -> dict[str, str]:
    return {
        "common_name": name,
        "serial_number": f"IIN{iin}",
        "country_name": "KZ",
        "organization_name": 'ТОО "ОТО"',
        "organizational_unit_name": f"BIN{bin_}",
    }


def make_pki(revoked: list[Issued] | None = None) -> Pki:
    root = issue(
        {"common_name": "OTOLANE TRAINING ROOT (GOST) — NOT NCA", "country_name": "KZ"},
        None,
        ca=True,
        days=(-365, 3650),
    )
    ca = issue(
        {"common_name": "OTOLANE TRAINING CA (GOST) — NOT NCA", "country_name": "KZ"},
        root,
        ca=True,
        days=(-300, 3000),
    )
    return Pki(root, ca, revocation_list(ca, revoked or []))


#: the demo's operator key: IIN and BIN of NCA's own test identities' shape
DEMO_IIN = "900101300123"
DEMO_BIN = "123456789021"
#: the demo centre's head, whose key signs for the centre
DEMO_HEAD_IIN = "800101300111"


#: the demo centre's own key (the transport signature of messages no employee signs) and its password
CENTRE_KEY, CENTRE_KEY_PASSWORD = "keys/centre.p12", "keys/centre.pw"


def ensure_demo_keys(home: Path, password: str) -> None:
    """The demo lane's training PKI, its operator's key file (``keys/usb/operator.p12``) and the
    centre's key (``keys/centre.p12``, its password in ``keys/centre.pw``), made once."""
    pki_dir, usb = home / "pki", home / "keys" / "usb"
    made = (usb / "operator.p12", pki_dir / "ca.crl", home / CENTRE_KEY, home / CENTRE_KEY_PASSWORD)
    if all(p.exists() for p in made):
        return
    pki = make_pki()
    pki.crl = revocation_list(pki.ca, [], days=3650)
    pki.write(pki_dir)
    who = issue(employee(DEMO_IIN, DEMO_BIN, "ЖАҚСЫБЕКОВА ӘЙГЕРІМ"), pki.ca, days=(-1, 5 * 365))
    usb.mkdir(parents=True, exist_ok=True)
    path = usb / "operator.p12"
    path.write_bytes(container(who, password, [pki.ca]))
    path.chmod(0o600)
    centre = issue(employee(DEMO_HEAD_IIN, DEMO_BIN, "ДИРЕКТОР ДЕМО"), pki.ca, days=(-1, 5 * 365))
    secret = secrets.token_hex(8)
    (home / CENTRE_KEY).write_bytes(container(centre, secret, [pki.ca]))
    (home / CENTRE_KEY).chmod(0o600)
    write_secret_file(home / CENTRE_KEY_PASSWORD, secret + "\n")


def training_signer(folder: Path, iin: str = DEMO_IIN) -> Any:
    """An admitted signer of a fresh training PKI written to ``folder`` (for tests and benchmarks)."""
    from app.eds import certs
    from app.eds.signer import open_and_check

    pki = make_pki()
    who = issue(employee(iin), pki.ca)
    root, ca, crl = pki.write(folder)
    secret = "training"  # noqa: S105 - the throw-away container of a training key
    trust = certs.TrustStore.from_files([root, ca], [crl])
    return open_and_check(container(who, secret, [pki.ca]), secret, trust)

"""NCA certificates: the facts a lane needs (IIN, BIN, roles) and the check that admits a key.

The check follows NCA's conventions (reference/nca-test/README.md, eis-shep-nca.md §2): a chain to a
configured NCA root, each link's signature (GOST 2015 or RSA), validity dates, revocation from NCA's
CRLs (parsed by asn1crypto, which also reads the 2026 GOST CRL that stricter parsers refuse), key
usage digitalSignature, and the IIN in the subject's serialNumber. Current GOST keys carry no
clientAuth usage, so login does not ask for it. Every refusal is one stable ``reason``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import crl, pem, x509

from app.eds import asn1, signature
from app.eds.errors import EdsError

REASONS = (
    "untrusted",  # no chain to a configured NCA root (another CA)
    "bad_signature",  # a link's signature does not verify (a changed certificate)
    "expired",
    "not_yet_valid",
    "revoked",  # listed in the issuer's CRL (also "on hold": detail names the CRL reason)
    "revocation_unknown",  # no current CRL of the issuer while one is required
    "wrong_usage",  # no digitalSignature key usage
    "no_iin",  # no IIN in the subject
)
_IIN = re.compile(r"^IIN(\d{12})$")
_BIN = re.compile(r"^BIN(\d{12})$")
_MAX_CHAIN = 6


@dataclass(frozen=True)
class CertInfo:
    """What the lane shows and binds of a certificate (no key material)."""

    subject: str
    common_name: str
    iin: str | None
    bin: str | None
    organisation: str
    roles: tuple[str, ...]
    algorithm: str
    serial: str
    issuer: str
    not_before: datetime
    not_after: datetime
    fingerprint: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "common_name": self.common_name,
            "iin": self.iin,
            "bin": self.bin,
            "organisation": self.organisation,
            "roles": list(self.roles),
            "algorithm": self.algorithm,
            "serial": self.serial,
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "fingerprint": self.fingerprint,
        }


def _name_text(name: x509.Name) -> str:
    return ", ".join(f"{k}={v}" for k, v in name.native.items())


def _ext(cert: x509.Certificate, name: str) -> Any:
    for e in cert["tbs_certificate"]["extensions"]:
        if e["extn_id"].native == name:
            return e["extn_value"].native
    return None


def info(cert: x509.Certificate) -> CertInfo:
    asn1.register()
    subj = cert.subject.native
    iin_m = _IIN.match(str(subj.get("serial_number", "")))
    bin_m = _BIN.match(str(subj.get("organizational_unit_name", ""))) or _BIN.match(
        str(subj.get("serial_number", ""))
    )
    eku = [str(u) for u in (_ext(cert, "extended_key_usage") or [])]
    alg = asn1.key_algorithm(cert)
    return CertInfo(
        subject=_name_text(cert.subject),
        common_name=str(subj.get("common_name", "")),
        iin=iin_m.group(1) if iin_m else None,
        bin=bin_m.group(1) if bin_m else None,
        organisation=str(subj.get("organization_name", "")),
        roles=tuple(asn1.ROLES[u] for u in eku if u in asn1.ROLES),
        algorithm="gost2015_512"
        if alg == asn1.GOST2015_512_KEY
        else "rsa"
        if alg.startswith("1.2.840.113549")
        else alg,
        serial=format(cert.serial_number, "x"),
        issuer=_name_text(cert.issuer),
        not_before=cert.not_valid_before,
        not_after=cert.not_valid_after,
        fingerprint=hashlib.sha256(cert.dump()).hexdigest(),
    )


def _der_items(data: bytes) -> list[bytes]:
    return [der for _, _, der in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Certificates from a DER or PEM file; a file that is not one says so by name."""
    asn1.register()
    try:
        out = [x509.Certificate.load(der) for der in _der_items(path.read_bytes())]
        for c in out:
            c.native  # noqa: B018 - parse now, so a bad file fails here and not in a later check
        return out
    except OSError as e:
        raise EdsError("eds_file_unreadable", f"{path}: {e.strerror}", path=str(path)) from e
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        # asn1crypto meets a damaged structure with any of these (an ObjectDescriptor has no .native)
        raise EdsError("eds_not_certificate", f"{path} is not a certificate", path=str(path)) from e


def load_crl(path: Path) -> crl.CertificateList:
    asn1.register()
    try:
        items = _der_items(path.read_bytes())
        lst = crl.CertificateList.load(items[0])
        lst["tbs_cert_list"]["revoked_certificates"].native  # noqa: B018 - parse now
        return lst
    except OSError as e:
        raise EdsError("eds_file_unreadable", f"{path}: {e.strerror}", path=str(path)) from e
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise EdsError("eds_not_crl", f"{path} is not a certificate revocation list", path=str(path)) from e


@dataclass
class TrustStore:
    """The NCA roots the lane trusts, the intermediates it knows, and the CRLs it has."""

    roots: list[x509.Certificate] = field(default_factory=list)
    intermediates: list[x509.Certificate] = field(default_factory=list)
    crls: list[crl.CertificateList] = field(default_factory=list)
    require_crl: bool = True

    @classmethod
    def from_files(cls, cas: Iterable[Path], crls: Iterable[Path], require_crl: bool = True) -> TrustStore:
        store = cls(require_crl=require_crl)
        for p in cas:
            for c in load_certificates(p):
                (store.roots if c.self_signed == "maybe" or c.self_issued else store.intermediates).append(c)
        store.crls = [load_crl(p) for p in crls]
        return store

    def is_root(self, cert: x509.Certificate) -> bool:
        der = cert.dump()
        return any(r.dump() == der for r in self.roots)


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: str | None
    info: CertInfo
    detail: str = ""
    chain: tuple[str, ...] = ()
    #: the certificates of the chain, leaf first (for OCSP: the issuer is ``links[1]``)
    links: tuple[x509.Certificate, ...] = field(default=(), compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        d = self.info.as_dict()
        return {
            "valid": self.valid,
            "reason": self.reason,
            "detail": self.detail,
            **d,
            "chain": list(self.chain),
        }


def _signed_by(child_alg: str, tbs: bytes, sig: bytes, issuer: x509.Certificate) -> bool:
    try:
        return signature.verify(child_alg, issuer, tbs, sig)
    except (ValueError, TypeError, KeyError):
        return False


def _issuers(cert: x509.Certificate, pool: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    aki = cert.authority_key_identifier
    out = []
    for c in pool:
        if c.subject.hashable != cert.issuer.hashable:
            continue
        if aki and c.key_identifier and c.key_identifier != aki:
            continue
        out.append(c)
    return out


def _chain(
    cert: x509.Certificate, trust: TrustStore, others: Sequence[x509.Certificate]
) -> tuple[list[x509.Certificate], str | None, str]:
    pool = [*trust.roots, *trust.intermediates, *others]
    chain = [cert]
    current = cert
    for _ in range(_MAX_CHAIN):
        if trust.is_root(current):
            return chain, None, ""
        candidates = _issuers(current, pool)
        if not candidates:
            return chain, "untrusted", f"no configured NCA certificate issued {info(current).issuer}"
        alg = current["signature_algorithm"]["algorithm"].dotted
        tbs, sig = current["tbs_certificate"].dump(), current["signature_value"].native
        issuer = next((c for c in candidates if _signed_by(alg, tbs, sig, c)), None)
        if issuer is None:
            return chain, "bad_signature", f"the signature of {info(current).common_name} does not verify"
        if issuer.dump() == current.dump():  # self-signed but not a configured root
            return chain, "untrusted", "a self-signed certificate that is not a configured NCA root"
        chain.append(issuer)
        current = issuer
    return chain, "untrusted", "the chain is too long"


def _revocation(
    cert: x509.Certificate, issuer: x509.Certificate, trust: TrustStore, at: datetime
) -> tuple[str | None, str]:
    found_current = False
    for lst in trust.crls:
        tbs = lst["tbs_cert_list"]
        if tbs["issuer"].hashable != cert.issuer.hashable:
            continue
        alg = lst["signature_algorithm"]["algorithm"].dotted
        if not _signed_by(alg, tbs.dump(), lst["signature"].native, issuer):
            continue  # a CRL that its issuer did not sign is no evidence either way
        this_update, next_update = tbs["this_update"].native, tbs["next_update"].native
        if this_update > at:
            continue
        if next_update is None or next_update >= at:
            found_current = True
        for entry in tbs["revoked_certificates"]:
            if entry["user_certificate"].native != cert.serial_number:
                continue
            if entry["revocation_date"].native > at:
                continue
            why = "unspecified"
            for ext in entry["crl_entry_extensions"]:
                if ext["extn_id"].native == "crl_reason":
                    why = str(ext["extn_value"].native)
            when = entry["revocation_date"].native.isoformat()
            return "revoked", f"{why} since {when}"
    if not found_current and trust.require_crl:
        return "revocation_unknown", "no current revocation list of the issuing CA is installed"
    return None, ""


def check(
    cert: x509.Certificate, trust: TrustStore, at: datetime, others: Sequence[x509.Certificate] = ()
) -> Verdict:
    """Whether ``cert`` may sign on this lane at ``at`` (real UTC time, never the lane's clock)."""
    asn1.register()
    facts = info(cert)
    chain, reason, detail = _chain(cert, trust, others)
    names = tuple(info(c).common_name for c in chain)

    def refuse(why: str, text: str) -> Verdict:
        return Verdict(False, why, facts, text, names, tuple(chain))

    if reason:
        return refuse(reason, detail)
    for c, name in zip(chain, names, strict=True):
        if c.not_valid_after < at:
            return refuse("expired", f"{name}: valid until {c.not_valid_after.isoformat()}")
        if c.not_valid_before > at:
            return refuse("not_yet_valid", f"{name}: valid from {c.not_valid_before.isoformat()}")
    for child, issuer in zip(chain, chain[1:], strict=False):
        if trust.is_root(child):
            break
        reason, detail = _revocation(child, issuer, trust, at)
        if reason == "revocation_unknown" and child is not cert:
            reason = None  # a CRL for an intermediate is used when present, not required
        if reason:
            return refuse(reason, detail)
    if "digital_signature" not in (cert.key_usage_value.native if cert.key_usage_value else set()):
        return refuse("wrong_usage", "the key may not make digital signatures")
    if facts.iin is None:
        return refuse("no_iin", "the certificate names no IIN")
    return Verdict(True, None, facts, "", names, tuple(chain))

"""One signer interface for both key families, and the one way the lane admits a key file.

:func:`open_and_check` is what the CLI (``otolane eds check``) and signature login share: open the
container with its password, check its certificate against the lane's trust store at real time, and
prove possession of the key by signing a fresh challenge and verifying it with the certificate.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import x509

from app.eds import certs, signature
from app.eds.container import Container, open_container
from app.eds.errors import EdsError
from app.eds.keys import PrivateKey

#: a key container is a few kilobytes; anything far larger is not one
MAX_CONTAINER_BYTES = 256 * 1024


@dataclass(frozen=True)
class Signer:
    """An employee's key, opened and admitted: signs with the algorithm its certificate names."""

    key: PrivateKey
    certificate: x509.Certificate
    others: tuple[x509.Certificate, ...]
    verdict: certs.Verdict

    @property
    def info(self) -> certs.CertInfo:
        return self.verdict.info

    @property
    def algorithm(self) -> str:
        """The signature algorithm OID (GOST 2015-512 or sha256WithRSA)."""
        return signature.signature_algorithm_for(self.certificate)

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)

    def verify(self, data: bytes, sig: bytes) -> bool:
        return signature.verify(self.algorithm, self.certificate, data, sig)


def trust_from_config(cfg: Any) -> certs.TrustStore:
    """The trust store the lane's ``[eds]`` table names (paths relative to the config file)."""
    eds = cfg.eds
    return certs.TrustStore.from_files(
        [cfg.path(p) for p in eds["ca"]], [cfg.path(p) for p in eds["crl"]], eds["require_crl"]
    )


def read_container(path: Path) -> bytes:
    try:
        if not path.is_file():
            raise EdsError("eds_file_missing", f"no key file {path}", path=str(path))
        if path.stat().st_size > MAX_CONTAINER_BYTES:
            raise EdsError("eds_corrupt", f"{path} is too large to be a key container", path=str(path))
        return path.read_bytes()
    except OSError as e:
        raise EdsError("eds_file_unreadable", f"{path}: {e.strerror}", path=str(path)) from e


def prove_possession(key: PrivateKey, cert: x509.Certificate) -> None:
    """Sign a fresh challenge with the key and verify it with the certificate's public key."""
    challenge = b"otolane-login:" + secrets.token_bytes(32)
    sig = key.sign(challenge)
    if not signature.verify(signature.signature_algorithm_for(cert), cert, challenge, sig):
        raise EdsError("eds_key_mismatch", "the key does not sign for its certificate")


def open_and_check(data: bytes, password: str, trust: certs.TrustStore, at: datetime | None = None) -> Signer:
    """The admitted signer, or :class:`EdsError` (container problems) — a certificate the trust
    store refuses comes back as a signer whose ``verdict.valid`` is False, with its reason."""
    container: Container = open_container(data, password)
    prove_possession(container.key, container.certificate)
    verdict = certs.check(container.certificate, trust, at or datetime.now(UTC), container.others)
    return Signer(container.key, container.certificate, tuple(container.others), verdict)

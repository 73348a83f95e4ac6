"""Detached CMS (CAdES-BES) signatures by an employee's key (issue #10 for #11; G3): RSA checked by
OpenSSL's own ``cms -verify``; GOST round trips; a changed message or signature is refused."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms

from app.eds import certs
from app.eds import cms as ecms
from app.eds.errors import EdsError
from app.eds.signer import Signer, open_and_check
from app.eds.training import training_signer

NCA = Path(__file__).parents[1] / "data" / "nca-test"


@pytest.fixture(scope="module")
def gost_signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return training_signer(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def rsa_signer() -> Signer:
    trust = certs.TrustStore.from_files([NCA / "root_rsa_test.pem", NCA / "nca_rsa_test.pem"], [])
    return open_and_check((NCA / "personal_sign_2020_expired.p12").read_bytes(), "Qwerty12", trust)


def test_an_rsa_signature_verifies_with_openssl_and_a_changed_message_does_not(
    rsa_signer: Signer, tmp_path: Path
) -> None:
    if not shutil.which("openssl"):
        pytest.fail("openssl is not installed: ./lane installs it")
    sig, data = tmp_path / "sig.der", tmp_path / "card.json"
    sig.write_bytes(ecms.sign_detached(rsa_signer, b'{"card": 1}'))
    data.write_bytes(b'{"card": 1}')
    cmd = [
        "openssl",
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        str(sig),
        "-content",
        str(data),
        "-binary",
        "-noverify",
        "-out",
        "/dev/null",
    ]
    ok = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    data.write_bytes(b'{"card": 2}')
    assert subprocess.run(cmd, capture_output=True, check=False).returncode != 0


def test_a_gost_signature_names_its_signer_and_is_cades_bes(gost_signer: Signer) -> None:
    der = ecms.sign_detached(gost_signer, b"card 7")
    cert = ecms.verify_detached(der, b"card 7")
    assert cert.dump() == gost_signer.certificate.dump()
    info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    types = {a["type"].dotted for a in info["signed_attrs"]}
    assert "1.2.840.113549.1.9.16.2.47" in types  # ESS signing-certificate-v2: CAdES-BES
    assert info["signature_algorithm"]["algorithm"].dotted == "1.2.398.3.10.1.1.2.3.2"
    assert cms.ContentInfo.load(der)["content"]["encap_content_info"]["content"].native is None  # detached


def test_a_changed_message_or_signature_is_refused(gost_signer: Signer) -> None:
    der = ecms.sign_detached(gost_signer, b"card 7")
    with pytest.raises(EdsError) as e:
        ecms.verify_detached(der, b"card 8")
    assert e.value.code == "eds_signature_invalid"
    broken = bytearray(der)
    broken[-10] ^= 0x01  # inside the signature value
    with pytest.raises(EdsError):
        ecms.verify_detached(bytes(broken), b"card 7")
    with pytest.raises(EdsError):
        ecms.verify_detached(b"not cms", b"card 7")

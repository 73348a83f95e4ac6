"""WS-Security signatures of SOAP envelopes by an employee's key (issue #10 for #11; G3): RSA checked by
the independent ``xmlsec1`` (Debian); GOST round trips with Kalkan's URIs; a changed Body, a
signature moved to another element or a changed certificate are refused."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from app.eds import certs, xmldsig
from app.eds.errors import EdsError
from app.eds.signer import Signer, open_and_check
from app.eds.training import training_signer

NCA = Path(__file__).parents[1] / "data" / "nca-test"
ENVELOPE = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header/>'
    b'<soapenv:Body><ns:SendMessage xmlns:ns="http://bip.bee.kz/SyncChannel/v10/Types"><request>'
    b"<requestInfo><messageId>m-1</messageId><serviceId>EIS_TO</serviceId></requestInfo>"
    b"<requestData><data><card>42</card></data></requestData></request></ns:SendMessage></soapenv:Body>"
    b"</soapenv:Envelope>"
)


@pytest.fixture(scope="module")
def rsa_signer() -> Signer:
    trust = certs.TrustStore.from_files([NCA / "root_rsa_test.pem"], [])
    return open_and_check((NCA / "personal_sign_2020_expired.p12").read_bytes(), "Qwerty12", trust)


@pytest.fixture(scope="module")
def gost_signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return training_signer(tmp_path_factory.mktemp("pki"))


def _xmlsec(signed: bytes, cert: bytes, tmp: Path) -> subprocess.CompletedProcess[str]:
    (tmp / "m.xml").write_bytes(signed)
    (tmp / "c.der").write_bytes(cert)
    cmd = [
        "xmlsec1",
        "--verify",
        "--pubkey-cert-der",
        str(tmp / "c.der"),
        "--id-attr:Id",
        "Body",
        "--id-attr:Id",
        "Timestamp",
        str(tmp / "m.xml"),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def test_an_rsa_signed_envelope_verifies_with_xmlsec1_and_a_changed_body_does_not(
    rsa_signer: Signer, tmp_path: Path
) -> None:
    if not shutil.which("xmlsec1"):
        pytest.fail("xmlsec1 is not installed: ./lane installs it")
    signed = xmldsig.sign_soap(ENVELOPE, rsa_signer)
    r = _xmlsec(signed, rsa_signer.certificate.dump(), tmp_path)
    assert r.returncode == 0, r.stderr
    assert xmldsig.verify_soap(signed).dump() == rsa_signer.certificate.dump()
    changed = signed.replace(b"<card>42</card>", b"<card>43</card>")
    assert _xmlsec(changed, rsa_signer.certificate.dump(), tmp_path).returncode != 0
    # the Timestamp is signed too (WS-Security: body and time), and xmlsec1 holds us to it
    assert b"<wsu:Timestamp" in signed and b'URI="#ts-' in signed
    later = re.sub(rb"<wsu:Created>[^<]*<", b"<wsu:Created>2000-01-01T00:00:00Z<", signed)
    assert _xmlsec(later, rsa_signer.certificate.dump(), tmp_path).returncode != 0
    with pytest.raises(EdsError):
        xmldsig.verify_soap(changed)


def test_a_gost_signed_envelope_carries_kalkans_uris_and_the_certificate(gost_signer: Signer) -> None:
    signed = xmldsig.sign_soap(ENVELOPE, gost_signer)
    root = etree.fromstring(signed)
    ns = {"ds": xmldsig.DS, "wsse": xmldsig.WSSE}
    method = root.find(".//ds:SignatureMethod", ns).get("Algorithm")
    assert method == "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-512"
    assert root.find(".//wsse:KeyIdentifier", ns).get("ValueType").endswith("#X509v3")
    assert xmldsig.verify_soap(signed).dump() == gost_signer.certificate.dump()


def test_tampering_is_refused(gost_signer: Signer) -> None:
    signed = xmldsig.sign_soap(ENVELOPE, gost_signer)
    for bad in (
        signed.replace(b"<card>42</card>", b"<card>43</card>"),  # the Body
        signed.replace(b"m-1", b"m-2"),
        signed.replace(b'URI="#id-', b'URI="#other-'),  # the reference no longer names this Body
        re.sub(rb"<wsu:Created>[^<]*<", b"<wsu:Created>2000-01-01T00:00:00Z<", signed),  # the time
        re.sub(rb"<ds:Reference URI=\"#ts-.*?</ds:Reference>", b"", signed, flags=re.S),  # time unsigned
        b"<not-soap/>",
        b"not xml",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "a">]>' + signed.split(b"?>", 1)[1],
    ):
        with pytest.raises(EdsError) as e:
            xmldsig.verify_soap(bad)
        assert e.value.code == "eds_signature_invalid"


def test_an_entity_bomb_is_not_expanded(gost_signer: Signer) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        + ENVELOPE.split(b"?>", 1)[1].replace(b"<card>42</card>", b"<card>&b;</card>")
    )
    with pytest.raises(EdsError):
        xmldsig.sign_soap(bomb, gost_signer)

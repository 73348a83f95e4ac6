"""WS-Security signatures of SOAP messages by an employee's key (the ВШЭП route of EIS; G3).

The shape the public NCA implementations agree on (reference/eis-shep-nca.md §1.5: NCANode's
WsseService, the NCA SpringWS sample): ``wsu:Id`` on ``soap:Body``; in ``soap:Header`` a
``wsse:Security`` (mustUnderstand) holding one ``ds:Signature`` with exclusive C14N, one reference to
the Body (exclusive C14N transform), and a ``wsse:SecurityTokenReference`` whose ``KeyIdentifier``
(X509v3) carries the whole certificate. Algorithm URIs: Kalkan's for GOST 2015-512, the W3C ones
for RSA-SHA256. The GOST SignatureValue is r‖s, each little-endian (Kalkan's convention, third-party
finding in the reference; UNVERIFIED against a live gateway). RSA signatures are checked by
``xmlsec1`` (tests/unit/test_eds_xmldsig.py); nothing outside Kalkan verifies Kazakh GOST XML.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid

from asn1crypto import x509
from lxml import etree

from app.eds import asn1, gost, signature
from app.eds.errors import EdsError
from app.eds.signer import Signer

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
_KALKAN = "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:"
#: signature OID → (SignatureMethod, DigestMethod) URIs
ALGORITHMS = {
    asn1.GOST2015_512_SIG: (_KALKAN + "gostr34102015-gostr34112015-512", _KALKAN + "gostr34112015-512"),
    signature.RSA_SHA256: (
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmlenc#sha256",
    ),
}
_DIGESTS = {
    _KALKAN + "gostr34112015-512": gost.streebog512,
    "http://www.w3.org/2001/04/xmlenc#sha256": lambda b: hashlib.sha256(b).digest(),
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


def _parse(data: bytes) -> etree._Element:
    """XML without a DOCTYPE: no entities, no external references (an entity bomb is refused)."""
    root = etree.fromstring(data, _PARSER)
    if root.getroottree().docinfo.doctype:
        raise EdsError("eds_xml_bad", "a message with a DOCTYPE is refused")
    return root


def _c14n(el: etree._Element) -> bytes:
    return etree.tostring(el, method="c14n", exclusive=True, with_comments=False)


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def sign_soap(envelope: bytes, signer: Signer, created: dt.datetime | None = None) -> bytes:
    """The envelope with its Body and a ``wsu:Timestamp`` (when it was signed) signed in a
    WS-Security header. The Timestamp has no Expires: a card may wait in the outbox for days (R5)."""
    try:
        root = _parse(envelope)
    except etree.XMLSyntaxError as e:
        raise EdsError("eds_xml_bad", f"the message is not XML ({e.msg})") from e
    body = root.find(_q(SOAP, "Body"))
    if root.tag != _q(SOAP, "Envelope") or body is None:
        raise EdsError("eds_xml_bad", "the message is not a SOAP 1.1 envelope with a Body")
    sig_uri, dig_uri = ALGORITHMS[signer.algorithm]
    body_id = body.get(_q(WSU, "Id")) or f"id-{uuid.uuid4()}"
    body.set(_q(WSU, "Id"), body_id)
    header = root.find(_q(SOAP, "Header"))
    if header is None:
        header = etree.Element(_q(SOAP, "Header"))
        root.insert(0, header)
    security = etree.SubElement(header, _q(WSSE, "Security"), nsmap={"wsse": WSSE, "wsu": WSU})
    security.set(_q(SOAP, "mustUnderstand"), "1")
    stamp = etree.SubElement(security, _q(WSU, "Timestamp"))
    stamp.set(_q(WSU, "Id"), f"ts-{uuid.uuid4()}")
    when = (created or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    etree.SubElement(stamp, _q(WSU, "Created")).text = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    sig = etree.SubElement(security, _q(DS, "Signature"), nsmap={"ds": DS})
    info = etree.SubElement(sig, _q(DS, "SignedInfo"))
    etree.SubElement(info, _q(DS, "CanonicalizationMethod"), Algorithm=EXC_C14N)
    etree.SubElement(info, _q(DS, "SignatureMethod"), Algorithm=sig_uri)
    for part in (body, stamp):
        ref = etree.SubElement(info, _q(DS, "Reference"), URI=f"#{part.get(_q(WSU, 'Id'))}")
        transforms = etree.SubElement(ref, _q(DS, "Transforms"))
        etree.SubElement(transforms, _q(DS, "Transform"), Algorithm=EXC_C14N)
        etree.SubElement(ref, _q(DS, "DigestMethod"), Algorithm=dig_uri)
        digest = _DIGESTS[dig_uri](_c14n(part))
        etree.SubElement(ref, _q(DS, "DigestValue")).text = base64.b64encode(digest).decode()
    value = signer.sign(_c14n(info))
    etree.SubElement(sig, _q(DS, "SignatureValue")).text = base64.b64encode(value).decode()
    key_info = etree.SubElement(sig, _q(DS, "KeyInfo"))
    str_ = etree.SubElement(key_info, _q(WSSE, "SecurityTokenReference"))
    kid = etree.SubElement(str_, _q(WSSE, "KeyIdentifier"), ValueType=X509V3, EncodingType=BASE64)
    kid.text = base64.b64encode(signer.certificate.dump()).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def verify_soap(envelope: bytes) -> x509.Certificate:
    """The signer's certificate when the Body (and the Timestamp, when there is one) are the ones
    signed and the signature holds; otherwise ``eds_signature_invalid``. (Whether that certificate
    may sign is :func:`app.eds.certs.check`'s.)"""
    asn1.register()
    bad = EdsError("eds_signature_invalid", "the signature does not match the message or its certificate")
    try:
        root = _parse(envelope)
        security = root.find(f"{_q(SOAP, 'Header')}/{_q(WSSE, 'Security')}")
        sig = security.find(_q(DS, "Signature"))
        body = root.find(_q(SOAP, "Body"))
        if sig is None or body is None:
            raise bad
        stamp = security.find(_q(WSU, "Timestamp"))
        # every signed part must be covered: the Body always, the Timestamp when it is there
        parts = {p.get(_q(WSU, "Id")): p for p in (body, stamp) if p is not None}
        info = sig.find(_q(DS, "SignedInfo"))
        refs = info.findall(_q(DS, "Reference"))
        if sorted(r.get("URI") for r in refs) != sorted(f"#{i}" for i in parts) or None in parts:
            raise bad  # the signature must cover these elements, not others
        sig_uri = info.find(_q(DS, "SignatureMethod")).get("Algorithm")
        dig_uris = {r.find(_q(DS, "DigestMethod")).get("Algorithm") for r in refs}
        alg = next(oid for oid, (s, d) in ALGORITHMS.items() if s == sig_uri and {d} == dig_uris)
        for ref in refs:
            part = parts[ref.get("URI")[1:]]
            dig_uri = ref.find(_q(DS, "DigestMethod")).get("Algorithm")
            if base64.b64decode(ref.findtext(_q(DS, "DigestValue"))) != _DIGESTS[dig_uri](_c14n(part)):
                raise bad
        kid = sig.find(
            f"{_q(DS, 'KeyInfo')}/{_q(WSSE, 'SecurityTokenReference')}/{_q(WSSE, 'KeyIdentifier')}"
        )
        cert = x509.Certificate.load(base64.b64decode(kid.text or ""))
        value = base64.b64decode(sig.findtext(_q(DS, "SignatureValue")) or "")
        ok = signature.verify(alg, cert, _c14n(info), value)
    except EdsError as e:
        raise bad from e
    except (etree.LxmlError, AttributeError, StopIteration, ValueError, TypeError, KeyError) as e:
        raise bad from e
    if not ok:
        raise bad
    return cert

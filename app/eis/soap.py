"""The SOAP route of the EIS contract (the ВШЭП way of the e-government integration rules): the
same message as the REST route, as XML in a SOAP 1.1 envelope, signed by the employee in a
WS-Security header (``app/eds/xmldsig.py``).

The message travels in ``eis:Message`` (its ``kind`` an attribute) as the W3C XPath 3.1
``json-to-xml`` form (``fn:map``, ``fn:array``, ``fn:string``, ``fn:number``, ``fn:boolean``,
``fn:null``, each member named by ``key``): a published, lossless mapping, so the receiver checks the
very same JSON schema (docs/eis-contract.md shows an envelope). Answers come back as ``eis:Answer``
with the same mapping, or as a SOAP Fault: ``soap:Client`` (the message is wrong: not retried) or
``soap:Server`` (try again later).
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from app.eds.xmldsig import DS, SOAP, WSSE, WSU
from app.errors import OtolaneError

NS = "urn:otolane:eis:1"
FN = "http://www.w3.org/2005/xpath-functions"
CONTENT_TYPE = "text/xml; charset=utf-8"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
#: nesting deeper than this is refused (a card is 5 levels deep)
MAX_DEPTH = 32


class SoapError(OtolaneError):
    """A SOAP message that cannot be read: not XML, not an envelope, not our mapping."""

    def __init__(self, message: str) -> None:
        super().__init__("eis_soap_bad", message, status=400)


def _fn(name: str) -> str:
    return f"{{{FN}}}{name}"


def to_xml(value: Any, key: str | None = None, depth: int = 0) -> etree._Element:
    """One JSON value as its XPath ``json-to-xml`` element."""
    if depth > MAX_DEPTH:
        raise SoapError("the message nests too deep")
    if isinstance(value, dict):
        el = etree.Element(_fn("map"), nsmap={"fn": FN})
        for k, v in value.items():
            el.append(to_xml(v, str(k), depth + 1))
    elif isinstance(value, list):
        el = etree.Element(_fn("array"), nsmap={"fn": FN})
        for v in value:
            el.append(to_xml(v, None, depth + 1))
    elif value is None:
        el = etree.Element(_fn("null"), nsmap={"fn": FN})
    elif isinstance(value, bool):
        el = etree.Element(_fn("boolean"), nsmap={"fn": FN})
        el.text = "true" if value else "false"
    elif isinstance(value, int | float):
        el = etree.Element(_fn("number"), nsmap={"fn": FN})
        el.text = json.dumps(value)  # repr: an int stays an int, a float reads back to the same float
    else:
        el = etree.Element(_fn("string"), nsmap={"fn": FN})
        el.text = str(value)
    if key is not None:
        el.set("key", key)
    return el


def from_xml(el: etree._Element, depth: int = 0) -> Any:
    """The JSON value of a ``json-to-xml`` element."""
    if depth > MAX_DEPTH:
        raise SoapError("the message nests too deep")
    tag = etree.QName(el).localname if etree.QName(el).namespace == FN else ""
    kids = [c for c in el if isinstance(c.tag, str)]
    if tag == "map":
        out: dict[str, Any] = {}
        for c in kids:
            k = c.get("key")
            if k is None or k in out:
                raise SoapError("a map member without a key, or a key given twice")
            out[k] = from_xml(c, depth + 1)
        return out
    if tag == "array":
        return [from_xml(c, depth + 1) for c in kids]
    text = el.text or ""
    if tag == "string":
        return text
    if tag == "null":
        return None
    if tag == "boolean" and text in ("true", "false"):
        return text == "true"
    if tag == "number":
        try:
            n = json.loads(text)
        except ValueError:
            n = None
        if isinstance(n, int | float) and not isinstance(n, bool):
            return n
    raise SoapError(f"not a json-to-xml value: <{etree.QName(el).localname}> {text[:40]!r}")


def _envelope(payload: etree._Element) -> bytes:
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP, "eis": NS, "wsu": WSU})
    etree.SubElement(env, f"{{{SOAP}}}Header")
    body = etree.SubElement(env, f"{{{SOAP}}}Body")
    body.append(payload)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def envelope(kind: str, message: dict[str, Any]) -> bytes:
    """A message of the contract (``card``, ``history`` …) as an unsigned SOAP envelope."""
    el = etree.Element(f"{{{NS}}}Message", kind=kind)
    el.append(to_xml(message))
    return _envelope(el)


def answer(message: dict[str, Any]) -> bytes:
    el = etree.Element(f"{{{NS}}}Answer")
    el.append(to_xml(message))
    return _envelope(el)


def fault(code: str, reason: str) -> bytes:
    """``code``: Client (the message is at fault: do not retry) or Server (try again)."""
    f = etree.Element(f"{{{SOAP}}}Fault")
    etree.SubElement(f, "faultcode").text = f"soap:{code}"
    etree.SubElement(f, "faultstring").text = reason
    return _envelope(f)


def _body_child(data: bytes) -> etree._Element:
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as e:
        raise SoapError(f"the message is not XML ({e.msg})") from e
    if root.getroottree().docinfo.doctype:
        raise SoapError("a message with a DOCTYPE is refused")
    body = root.find(f"{{{SOAP}}}Body")
    if root.tag != f"{{{SOAP}}}Envelope" or body is None:
        raise SoapError("not a SOAP 1.1 envelope with a Body")
    kids = [c for c in body if isinstance(c.tag, str)]
    if len(kids) != 1:
        raise SoapError("the Body must hold exactly one element")
    return kids[0]


def _only_value(el: etree._Element) -> Any:
    kids = [c for c in el if isinstance(c.tag, str)]
    if len(kids) != 1:
        raise SoapError(f"<{etree.QName(el).localname}> must hold exactly one value")
    return from_xml(kids[0])


def read(data: bytes) -> tuple[str, Any, bool]:
    """(kind, message, signed) of an envelope the lane sent; ``signed``: it has a WS-Security
    signature (whether it holds is ``xmldsig.verify_soap``'s)."""
    el = _body_child(data)
    if el.tag != f"{{{NS}}}Message" or not el.get("kind"):
        raise SoapError("the Body must hold one eis:Message with its kind")
    header = el.getparent().getparent().find(f"{{{SOAP}}}Header")
    signed = header is not None and header.find(f"{{{WSSE}}}Security/{{{DS}}}Signature") is not None
    return str(el.get("kind")), _only_value(el), signed


def read_answer(data: bytes) -> tuple[str, Any]:
    """An answer: ("ok", message) or ("Client" | "Server", the fault's reason)."""
    el = _body_child(data)
    if el.tag == f"{{{SOAP}}}Fault":
        code = (el.findtext("faultcode") or "").rpartition(":")[2]
        return (code if code in ("Client", "Server") else "Server"), el.findtext("faultstring") or ""
    if el.tag != f"{{{NS}}}Answer":
        raise SoapError("the Body must hold an eis:Answer or a Fault")
    return "ok", _only_value(el)

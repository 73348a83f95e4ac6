"""The identity an IP camera reports: ONVIF's ``GetDeviceInformation`` (ONVIF Core Specification,
device management service, ``http://www.onvif.org/ver10/device/wsdl``) — manufacturer, model,
firmware and serial number, asked over SOAP 1.2 on every (re)connect.

A camera with an account (most are, out of the box) answers only a request that carries a
WS-Security UsernameToken with a password digest (OASIS UsernameToken Profile 1.0; ONVIF Core
§ 5.12): ``Base64(SHA-1(nonce + created + password))`` with a fresh nonce, so the password never
travels. The camera judges ``Created`` by its own clock, which is often not the lane's: its time is
asked first (``GetSystemDateAndTime``, answered without an account) and the token dated by it.
Cameras that take the account at the HTTP layer instead (ONVIF Core § 5.12.1 names HTTP Digest,
RFC 2617/7616, beside the token; some firmware accepts only that) answer 401 with a Digest
challenge, and the request is sent again with its digest (aiohttp's ``DigestAuthMiddleware``).
HTTP Basic, which would carry the password itself over plain HTTP, is never answered.

Both sides live here: the lane's client and the answers the simulated camera gives.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import hashlib
import re
import secrets
import time
from pathlib import Path
from typing import NoReturn
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp
from lxml import etree

from drivers.camera.base import CameraError, CameraIdentity, host_of, redact

SOAP = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TT = "http://www.onvif.org/ver10/schema"
TER = "http://www.onvif.org/ver10/error"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST_TYPE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
FIELDS = ("Manufacturer", "Model", "FirmwareVersion", "SerialNumber", "HardwareId")
#: how far a token's Created may lie from the camera's clock (the simulated camera's window)
TOKEN_WINDOW_S = 300.0
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

Account = tuple[str, str]


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """UsernameToken Profile 1.0 § 3.1: Base64(SHA-1(nonce + created + password))."""
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()  # noqa: S324 - the profile's own digest


def created_text(t: float) -> str:
    """A UsernameToken's ``wsu:Created``: UTC to the second, as cameras expect it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def request(operation: str, account: Account | None = None, at: float = 0.0, nonce: bytes = b"") -> bytes:
    """A device-service request; with an account, its UsernameToken dated ``at`` (camera time)."""
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP})
    if account is not None:
        user, password = account
        nonce = nonce or secrets.token_bytes(16)
        created = created_text(at)
        sec = etree.SubElement(
            etree.SubElement(env, f"{{{SOAP}}}Header"),
            f"{{{WSSE}}}Security",
            nsmap={"wsse": WSSE, "wsu": WSU},
        )
        token = etree.SubElement(sec, f"{{{WSSE}}}UsernameToken")
        etree.SubElement(token, f"{{{WSSE}}}Username").text = user
        etree.SubElement(token, f"{{{WSSE}}}Password", Type=DIGEST_TYPE).text = password_digest(
            nonce, created, password
        )
        etree.SubElement(token, f"{{{WSSE}}}Nonce", EncodingType=BASE64_BINARY).text = base64.b64encode(
            nonce
        ).decode()
        etree.SubElement(token, f"{{{WSU}}}Created").text = created
    etree.SubElement(etree.SubElement(env, f"{{{SOAP}}}Body"), f"{{{TDS}}}{operation}", nsmap={None: TDS})
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def content_type(operation: str) -> str:
    return f'application/soap+xml; charset=utf-8; action="{TDS}/{operation}"'


def account_of(*urls: str) -> Account | None:
    """The camera's account: the user and password of the first URL that carries both (the ONVIF
    URL's, else the stream's — cameras share one account)."""
    for url in urls:
        u = urlsplit(url)
        if u.username and u.password is not None:
            return unquote(u.username), unquote(u.password)
    return None


def read_account(path: Path) -> Account:
    """An account kept in a file as ``user:password`` (the simulated cameras' and the demo's)."""
    user, _, password = path.read_text("utf-8").strip().partition(":")
    return user, password


def bare(url: str) -> str:
    """The URL without its user and password: they go in the token, never in the HTTP request."""
    return urlunsplit(urlsplit(url)._replace(netloc=host_of(url)))


def _answer(body: bytes, namespace: str, name: str) -> etree._Element:
    """The element ``name`` of a camera's answer; a fault or anything else is a CameraError."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise CameraError("onvif_not_xml", detail=str(exc)[:120]) from None
    found = root.find(f".//{{{namespace}}}{name}")
    if found is None:
        _refused(root, f"no {name}")
    return found


def parse_device_information(body: bytes) -> CameraIdentity:
    """The identity in a GetDeviceInformationResponse; a fault or anything else is a CameraError."""
    answer = _answer(body, TDS, "GetDeviceInformationResponse")
    got = {name: (answer.findtext(f"{{{TDS}}}{name}") or "").strip() for name in FIELDS}
    if not got["SerialNumber"]:
        raise CameraError("onvif_no_serial")
    return CameraIdentity(
        got["Manufacturer"][:64], got["Model"][:64], got["SerialNumber"][:64], got["FirmwareVersion"][:64]
    )


def _refused(root: etree._Element, otherwise: str) -> NoReturn:
    """Raise the camera's fault as a CameraError; a refused account is said so, with what to do."""
    codes = " ".join(v.text or "" for v in root.iter(f"{{{SOAP}}}Value"))
    if "NotAuthorized" in codes:
        raise CameraError("onvif_account_refused")
    fault = root.findtext(f".//{{{SOAP}}}Text") or otherwise
    raise CameraError("onvif_refused", fault=fault[:120])


def parse_system_time(body: bytes) -> float:
    """The camera's UTC clock from a GetSystemDateAndTimeResponse, as a POSIX time."""
    utc = _answer(body, TT, "UTCDateTime")
    try:
        parts = [
            int(utc.findtext(f".//{{{TT}}}{n}") or "")
            for n in ("Year", "Month", "Day", "Hour", "Minute", "Second")
        ]
        return float(calendar.timegm((*parts, 0, 0, 0)))
    except (ValueError, OverflowError):
        raise CameraError("onvif_bad_clock") from None


async def device_information(
    url: str, timeout_s: float = 5.0, account: Account | None = None
) -> CameraIdentity:
    """Ask the camera who it is; with an account, a UsernameToken dated by the camera's clock."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    target = bare(url)
    # a camera that wants the account at the HTTP layer challenges with 401 Digest: answered once
    digest = (aiohttp.DigestAuthMiddleware(*account),) if account is not None else ()
    try:
        async with aiohttp.ClientSession(timeout=timeout, middlewares=digest) as http:

            async def ask(operation: str, body: bytes) -> bytes:
                async with http.post(
                    target, data=body, headers={"Content-Type": content_type(operation)}
                ) as resp:
                    if resp.status == 401:  # refused by HTTP (no SOAP fault): the account, too
                        raise CameraError(_http_refusal(resp.headers.getall("WWW-Authenticate", [])))
                    return await resp.content.read(65536)

            offset = 0.0  # the camera's clock less the lane's; if it does not say, the lane's
            if account is not None:
                with contextlib.suppress(CameraError):  # answered without an account (ONVIF Core § 5.12.1)
                    clock = await ask("GetSystemDateAndTime", request("GetSystemDateAndTime"))
                    offset = parse_system_time(clock) - time.time()
            body = await ask(
                "GetDeviceInformation", request("GetDeviceInformation", account, time.time() + offset)
            )
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        if isinstance(exc, aiohttp.ClientError) and "Digest" in str(exc):  # a challenge aiohttp refuses
            raise CameraError("onvif_challenge", detail=str(exc)[:120]) from None
        raise CameraError("onvif_unreachable", url=redact(url), error=type(exc).__name__) from None
    return parse_device_information(body)


def _http_refusal(challenges: list[str]) -> str:
    """What a 401 means: the account refused — or only Basic offered, which the lane never sends."""
    schemes = {c.split(None, 1)[0].lower() for c in challenges if c.strip()}
    basic_only = schemes and "digest" not in schemes and "basic" in schemes
    return "onvif_basic_refused" if basic_only else "onvif_account_refused"


# --- HTTP Digest as the simulated camera checks it (RFC 2617 § 3.2.2, RFC 7616 § 3.4) -----------
_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_PARAM = re.compile(r'\s*([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,|$)')


def digest_challenge(realm: str, nonce: str, algorithm: str = "MD5") -> str:
    """The ``WWW-Authenticate`` of a camera asking for HTTP Digest."""
    return f'Digest realm="{realm}", qop="auth", nonce="{nonce}", algorithm={algorithm}'


def digest_params(header: str) -> dict[str, str]:
    """The parameters of an ``Authorization: Digest …`` header ({} when it is not one)."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    out: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if m is None or m.end() == pos:
            return {}
        quoted, plain = m.group(2), m.group(3)
        out[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain
        pos = m.end()
    return out


def digest_response(account: Account, realm: str, method: str, p: dict[str, str]) -> str:
    """RFC 2617 § 3.2.2.1 with qop=auth: H(H(A1):nonce:nc:cnonce:qop:H(A2))."""
    h = _HASHES[p.get("algorithm", "MD5").upper()]

    def hx(text: str) -> str:
        # any text a damaged header holds, lone surrogates too (a fuzz case): hashed as it came
        return h(text.encode("utf-8", "surrogatepass")).hexdigest()

    ha1 = hx(f"{account[0]}:{realm}:{account[1]}")
    ha2 = hx(f"{method}:{p['uri']}")
    return hx(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:{p['qop']}:{ha2}")


def digest_problem(
    header: str, method: str, path: str, account: Account, realm: str, issued: set[str], seen: set[str]
) -> str:
    """What is wrong with a request's HTTP Digest ``Authorization`` ('' when it passes): a nonce
    the camera issued, the request's own URI, qop=auth, and a nonce count not used before."""
    p = digest_params(header)
    if not p:
        return "no Digest authorization"
    if any(not p.get(k) for k in ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")):
        return "Digest authorization incomplete"
    if p.get("algorithm", "MD5").upper() not in _HASHES or p["qop"] != "auth":
        return "Digest algorithm or qop not offered"
    if p["nonce"] not in issued or p["realm"] != realm:
        return "Digest nonce or realm not the camera's"
    if p["uri"] != path:
        return "Digest uri is not the request's"
    if not re.fullmatch(r"[0-9a-fA-F]{8}", p["nc"]):  # RFC 2617: eight hex digits
        return "Digest nonce count malformed"
    use = f"{p['nonce']}:{p['nc']}"
    if use in seen:
        return "Digest nonce count replayed"
    right = digest_response(account, realm, method, p)
    # any text a damaged header may hold, lone surrogates too (a fuzz case): compared as bytes
    said = p["response"].encode("utf-8", "surrogatepass")
    if p["username"] != account[0] or not secrets.compare_digest(said, right.encode()):
        return "user or password wrong"
    seen.add(use)
    return ""


def system_date_and_time_response(t: float) -> bytes:
    """The simulated camera's clock (GetSystemDateAndTimeResponse, UTC part)."""
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP, "tds": TDS, "tt": TT})
    answer = etree.SubElement(
        etree.SubElement(env, f"{{{SOAP}}}Body"), f"{{{TDS}}}GetSystemDateAndTimeResponse"
    )
    sdt = etree.SubElement(answer, f"{{{TDS}}}SystemDateAndTime")
    etree.SubElement(sdt, f"{{{TT}}}DateTimeType").text = "Manual"
    etree.SubElement(sdt, f"{{{TT}}}DaylightSavings").text = "false"
    utc = etree.SubElement(sdt, f"{{{TT}}}UTCDateTime")
    g = time.gmtime(t)
    for group, names, values in (
        ("Time", ("Hour", "Minute", "Second"), (g.tm_hour, g.tm_min, g.tm_sec)),
        ("Date", ("Year", "Month", "Day"), (g.tm_year, g.tm_mon, g.tm_mday)),
    ):
        el = etree.SubElement(utc, f"{{{TT}}}{group}")
        for name, value in zip(names, values, strict=True):
            etree.SubElement(el, f"{{{TT}}}{name}").text = str(value)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def token_problem(body: bytes, account: Account, now: float, seen: set[str]) -> str:
    """What is wrong with a request's UsernameToken for ``account`` at camera time ``now`` ('' when
    it passes). A nonce is taken once (``seen``): a replayed request is refused."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        return "not XML"
    token = root.find(f".//{{{WSSE}}}UsernameToken")
    if token is None:
        return "no UsernameToken"
    user = token.findtext(f"{{{WSSE}}}Username") or ""
    digest = token.findtext(f"{{{WSSE}}}Password") or ""
    nonce_text = token.findtext(f"{{{WSSE}}}Nonce") or ""
    created = token.findtext(f"{{{WSU}}}Created") or ""
    try:
        nonce = base64.b64decode(nonce_text, validate=True)
        at = calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return "nonce or created unreadable"
    if abs(at - now) > TOKEN_WINDOW_S:
        return "created outside the camera's time window"
    if nonce_text in seen:
        return "nonce replayed"
    right = password_digest(nonce, created, account[1])
    if user != account[0] or not secrets.compare_digest(digest.encode(), right.encode()):
        return "user or password wrong"
    seen.add(nonce_text)
    return ""


def not_authorized(reason: str) -> bytes:
    """A camera's refusal of the account (ONVIF Core § 5.11.2: env:Sender / ter:NotAuthorized)."""
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP, "ter": TER})
    fault = etree.SubElement(etree.SubElement(env, f"{{{SOAP}}}Body"), f"{{{SOAP}}}Fault")
    code = etree.SubElement(fault, f"{{{SOAP}}}Code")
    etree.SubElement(code, f"{{{SOAP}}}Value").text = "s:Sender"
    sub = etree.SubElement(code, f"{{{SOAP}}}Subcode")
    etree.SubElement(sub, f"{{{SOAP}}}Value").text = "ter:NotAuthorized"
    reason_el = etree.SubElement(fault, f"{{{SOAP}}}Reason")
    etree.SubElement(
        reason_el, f"{{{SOAP}}}Text", {"{http://www.w3.org/XML/1998/namespace}lang": "en"}
    ).text = f"Sender not Authorized ({reason})"
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def device_information_response(ident: CameraIdentity) -> bytes:
    """The answer of a camera that is ``ident`` (the simulator's)."""
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP, "tds": TDS})
    answer = etree.SubElement(
        etree.SubElement(env, f"{{{SOAP}}}Body"), f"{{{TDS}}}GetDeviceInformationResponse"
    )
    values = (ident.make, ident.model, ident.firmware, ident.serial, ident.model)
    for name, value in zip(FIELDS, values, strict=True):
        etree.SubElement(answer, f"{{{TDS}}}{name}").text = value
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")

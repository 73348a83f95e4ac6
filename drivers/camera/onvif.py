"""The identity an IP camera reports: ONVIF's ``GetDeviceInformation`` (ONVIF Core Specification,
device management service, ``http://www.onvif.org/ver10/device/wsdl``) — manufacturer, model,
firmware and serial number, asked over SOAP 1.2 on every (re)connect.

Both sides live here: the lane's client and the answer the simulated camera gives.
"""

from __future__ import annotations

import aiohttp
from lxml import etree

from drivers.camera.base import CameraError, CameraIdentity

SOAP = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
REQUEST = (
    f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}"><s:Body>'
    f'<GetDeviceInformation xmlns="{TDS}"/></s:Body></s:Envelope>'
).encode()
CONTENT_TYPE = 'application/soap+xml; charset=utf-8; action="' + TDS + '/GetDeviceInformation"'
FIELDS = ("Manufacturer", "Model", "FirmwareVersion", "SerialNumber", "HardwareId")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def parse_device_information(body: bytes) -> CameraIdentity:
    """The identity in a GetDeviceInformationResponse; a fault or anything else is a CameraError."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise CameraError(f"ONVIF answer is not XML ({exc})") from None
    answer = root.find(f".//{{{TDS}}}GetDeviceInformationResponse")
    if answer is None:
        fault = root.findtext(f".//{{{SOAP}}}Text") or "no GetDeviceInformationResponse"
        raise CameraError(f"ONVIF refused: {fault[:120]}")
    got = {name: (answer.findtext(f"{{{TDS}}}{name}") or "").strip() for name in FIELDS}
    if not got["SerialNumber"]:
        raise CameraError("ONVIF answer names no serial number")
    return CameraIdentity(
        got["Manufacturer"][:64], got["Model"][:64], got["SerialNumber"][:64], got["FirmwareVersion"][:64]
    )


async def device_information(url: str, timeout_s: float = 5.0) -> CameraIdentity:
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(url, data=REQUEST, headers={"Content-Type": CONTENT_TYPE}) as resp,
        ):
            body = await resp.content.read(65536)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise CameraError(f"ONVIF service {url} does not answer ({type(exc).__name__})") from None
    return parse_device_information(body)


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

"""Which EIS endpoint the lane talks to: production or not, whatever the configuration calls it.

``eis.environment`` is a label an installer writes; a training card must never reach production
however the file is written. So an endpoint is production when its host is in a state
domain (the e-government gateway, НИТ, the NCA: ``PRODUCTION_DOMAINS`` and ``eis.production_hosts``)
— by the URL, or, for HTTPS, by the names in the certificate the server presents (an IP address or
a hosts-file alias does not hide a state server).
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

#: domains of the state systems (ВШЭП/SmartBridge sb.egov.kz, НИТ nitec.kz, the bus bip.bee.kz, the
#: state's gov.kz): a host in one of them, or a certificate naming one, is production
PRODUCTION_DOMAINS = ("gov.kz", "egov.kz", "nitec.kz", "bee.kz")


def host_name(name: str) -> str:
    """A host as the URL library resolves it: IDNA (its other full stops, such as "。", are dots;
    letters of another script become their ``xn--`` form), lower case, without a final dot."""
    name = name.strip().rstrip(".。．｡")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:  # not a name IDNA can spell: compared as it is, dots made plain
        for dot in "。．｡":
            name = name.replace(dot, ".")
    return name.lower().rstrip(".")


def in_domains(name: str, domains: Iterable[str]) -> bool:
    name = host_name(name).removeprefix("*.")
    return any(name == d or name.endswith("." + d) for d in (host_name(x).strip(".") for x in domains))


def production_url(url: str, extra: Iterable[str] = ()) -> bool:
    """By the URL alone: its host is in a production domain."""
    host = urlsplit(url).hostname or ""
    return in_domains(host, (*PRODUCTION_DOMAINS, *extra))


def loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: the oldest TLS the lane speaks to EIS (a release never lowers it, R8: ``app/release/baseline.py``)
TLS_MINIMUM = ssl.TLSVersion.TLSv1_2


def tls_context(ca_file: str | Path | None) -> ssl.SSLContext:
    """Server certificates checked against ``eis.ca_file`` when set, else the system's CAs."""
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    ctx.minimum_version = TLS_MINIMUM
    return ctx


async def certificate_names(url: str, ctx: ssl.SSLContext, timeout_s: float) -> list[str]:
    """The DNS names and common name of the certificate an HTTPS endpoint presents."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    async with asyncio.timeout(timeout_s):
        _, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname=host)
    try:
        cert = writer.get_extra_info("peercert") or {}
    finally:
        writer.close()
    names = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
    names += [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
    return names


async def is_production(
    url: str, ctx: ssl.SSLContext | None, timeout_s: float, extra: Iterable[str] = ()
) -> bool:
    """The URL's host, and for HTTPS the certificate's names, against the production domains."""
    extra = tuple(extra)
    if production_url(url, extra):
        return True
    if urlsplit(url).scheme != "https" or ctx is None:
        return False
    names = await certificate_names(url, ctx, timeout_s)
    return any(in_domains(n, (*PRODUCTION_DOMAINS, *extra)) for n in names)

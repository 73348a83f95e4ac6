"""The kiosk's firewall (R10.1, issue #24 (6)), made from the lane's configuration: out, only to what
the lane is configured to reach — the EIS endpoint, the cameras, networked stands, the printer's
CUPS server, a PostgreSQL server, the NCA's OCSP responder, an off-site backup repository — and
DNS and NTP; in, only SSH for the technicians. An nftables ruleset (Debian's ``nftables``), written
by ``otolane firewall --config F`` and loaded with ``nft -f``; made again when the configuration
changes. Names are resolved when the ruleset is made (each address written with its host's name):
a rule never depends on a resolver at the moment a packet leaves."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from app.errors import OtolaneError

if TYPE_CHECKING:
    from app.config import Config

DEFAULT_PORTS = {"https": 443, "http": 80, "rtsp": 554, "wss": 443, "ws": 80, "ipp": 631}
DEFAULT_PORTS |= {"postgres": 5432, "postgresql": 5432}


@dataclass(frozen=True)
class Peer:
    what: str
    host: str
    port: int
    proto: str = "tcp"


def _url_peer(what: str, url: str) -> Peer | None:
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    return Peer(what, parts.hostname, port) if port else None


def peers(cfg: Config) -> list[Peer]:
    """Everything the lane's configuration names on the network."""
    out: list[Peer | None] = [_url_peer("EIS", cfg.eis["url"])]
    for cam in cfg.cameras:
        out.append(_url_peer(f"camera {cam.id}", cam.url))
        if cam.onvif:
            out.append(_url_peer(f"camera {cam.id} (ONVIF)", cam.onvif))
    for d in cfg.devices:
        if d.port.startswith("socket://"):
            out.append(_url_peer(f"stand {d.id}", d.port))
    server = str(cfg.printer["server"])
    if server and not server.startswith("/"):
        out.append(_url_peer("printer (CUPS)", f"ipp://{server}"))
    if cfg.storage["dsn"].startswith(("postgres://", "postgresql://")):
        out.append(_url_peer("PostgreSQL", cfg.storage["dsn"]))
    if cfg.eds["ocsp_url"]:
        out.append(_url_peer("NCA OCSP", cfg.eds["ocsp_url"]))
    repo = str(cfg.backup["repository"])
    if repo.startswith("rest:"):
        out.append(_url_peer("backup repository", repo.removeprefix("rest:")))
    elif repo.startswith("sftp:"):
        host = repo.removeprefix("sftp:").split(":", 1)[0].rsplit("@", 1)[-1]
        out.append(Peer("backup repository (SFTP)", host, 22))
    return [p for p in out if p is not None]


def _addresses(p: Peer) -> list[str]:
    try:
        ipaddress.ip_address(p.host)
        return [p.host]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(p.host, p.port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise OtolaneError(
            "firewall_unresolved",
            f"{p.what}: the name {p.host} does not resolve ({exc}): the ruleset names addresses, so "
            "make it where the name resolves (or write the address in the configuration)",
            host=p.host,
        ) from None
    return sorted({str(i[4][0]) for i in infos})


def ruleset(cfg: Config, resolve: bool = True) -> str:
    """The nftables ruleset of this lane (``resolve`` False: names left to nft, for a look only)."""
    lines = [
        f"# otolane firewall of lane {cfg.lane['name']!r}, made by `otolane firewall` from {cfg.file}",
        "# out: only what the configuration names, DNS and NTP; in: only SSH (R10.1)",
        "table inet otolane",
        "delete table inet otolane",
        "table inet otolane {",
        "  chain input {",
        "    type filter hook input priority 0; policy drop;",
        "    iif lo accept",
        "    ct state established,related accept",
        "    ct state invalid drop",
        "    meta l4proto { icmp, ipv6-icmp } accept",
        '    tcp dport 22 accept comment "SSH: the technicians"',
        "  }",
        "  chain output {",
        "    type filter hook output priority 0; policy drop;",
        "    oif lo accept",
        "    ct state established,related accept",
        "    meta l4proto { icmp, ipv6-icmp } accept",
        '    meta l4proto { tcp, udp } th dport 53 accept comment "DNS"',
        '    udp dport 123 accept comment "NTP: the lane clock"',
    ]
    seen: set[tuple[str, int]] = set()
    for p in peers(cfg):
        for addr in _addresses(p) if resolve else [p.host]:
            if (addr, p.port) in seen:
                continue
            seen.add((addr, p.port))
            try:
                family = "ip6" if ipaddress.ip_address(addr).version == 6 else "ip"
                if ipaddress.ip_address(addr).is_loopback:
                    continue  # the loopback is open already
            except ValueError:
                family = "ip"
            what = p.what.replace('"', "'")
            lines.append(
                f'    {family} daddr {addr} {p.proto} dport {p.port} accept comment "{what} ({p.host})"'
            )
    lines += [
        '    log prefix "otolane-out-refused " limit rate 6/minute counter',
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"

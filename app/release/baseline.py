"""The protection a release gives, as data, and whether a new one gives less (R8).

Order No. 532 R8: an update must not lower the software's protection. A release's manifest carries
:func:`current` of the code it was built from: the floors and ceilings the settings may take, who
may call each route of the API, the oldest TLS spoken to EIS, the data key's size, the signing key's
kind and the keys the store requires. :func:`weaker` lists what a new release gives up; the updater
refuses a release with anything on that list.
"""

from __future__ import annotations

from typing import Any

#: which way a setting is stronger: "up" — a higher floor is stronger (a longer password);
#: "down" — a lower ceiling is stronger (fewer tries before the lock). A setting not named here is
#: held both ways: its range may narrow, never widen.
STRONGER = {
    "security.password_min_length": "up",
    "security.password_history": "up",
    "security.lockout_minutes": "up",
    "security.lockout_after": "down",
    "security.password_max_age_days": "down",
    "security.session_idle_minutes": "down",
}
TLS_ORDER = ["SSLv3", "TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3"]


def current() -> dict[str, Any]:
    """This code's baseline (imports the API's route table: run at build and by the updater)."""
    from app.api.server import ROUTES
    from app.eis.endpoint import TLS_MINIMUM
    from app.settings import SETTINGS
    from app.storage.crypto import KEY_BITS

    return {
        "settings": {s.key: [s.low, s.high] for s in SETTINGS if s.key.startswith("security.")},
        "routes": {f"{r.method} {r.path}": sorted(r.roles) for r in ROUTES},
        "tls_minimum": TLS_MINIMUM.name,
        "data_key_bits": KEY_BITS,
        "signing_key": "ed25519",
        "keys_required": ["data_key", "signing_key"],
    }


def _range_weaker(key: str, old: list[Any], new: list[Any]) -> str | None:
    (olo, ohi), (nlo, nhi) = old, new
    way = STRONGER.get(key)
    lower_floor = olo is not None and (nlo is None or nlo < olo)
    higher_ceiling = ohi is not None and (nhi is None or nhi > ohi)
    if (way in ("up", None) and lower_floor) or (way in ("down", None) and higher_ceiling):
        return f"{key}: allowed {olo}–{ohi}, the new release allows {nlo}–{nhi}"
    return None


def weaker(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What ``new`` protects less than ``old`` — each as a line; empty when nothing."""
    out: list[str] = []
    for key, rng in old.get("settings", {}).items():
        got = new.get("settings", {}).get(key)
        if got is None:
            out.append(f"{key}: no longer a checked setting")
        elif (why := _range_weaker(key, rng, got)) is not None:
            out.append(why)
    old_routes, new_routes = old.get("routes", {}), new.get("routes", {})
    for route, roles in new_routes.items():
        before = old_routes.get(route)
        if before is None:
            if not roles:
                out.append(f"{route}: a new route open to anyone without a session")
        elif before and not roles:
            out.append(f"{route}: was for {', '.join(before)}, now open to anyone")
        elif set(roles) - set(before):
            out.append(f"{route}: now also for {', '.join(sorted(set(roles) - set(before)))}")
    tls_old, tls_new = old.get("tls_minimum", ""), new.get("tls_minimum", "")
    if tls_old in TLS_ORDER and (
        tls_new not in TLS_ORDER or TLS_ORDER.index(tls_new) < TLS_ORDER.index(tls_old)
    ):
        out.append(f"TLS to EIS: from {tls_old} down to {tls_new or 'unknown'}")
    if int(new.get("data_key_bits") or 0) < int(old.get("data_key_bits") or 0):
        out.append(f"data key: {old.get('data_key_bits')} bits, the new release {new.get('data_key_bits')}")
    if new.get("signing_key") != old.get("signing_key"):
        out.append(f"signing key: {old.get('signing_key')}, the new release {new.get('signing_key')}")
    for key in old.get("keys_required", []):
        if key not in new.get("keys_required", []):
            out.append(f"{key}: the new release would not require it")
    return out

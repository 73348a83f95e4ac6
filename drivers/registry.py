"""Every shipped profile by name, with its vehicle scenarios for the simulators."""

from __future__ import annotations

from drivers.brake import profiles as brake
from drivers.gas import profiles as gas
from drivers.glass import profiles as glass
from drivers.headlight import profiles as headlight
from drivers.profile import Profile
from drivers.sideslip import profiles as sideslip
from drivers.smoke import profiles as smoke
from drivers.sound import profiles as sound
from drivers.steering import profiles as steering
from drivers.suspension import profiles as suspension
from drivers.tyres import profiles as tyres

_MODULES = (brake, gas, smoke, sideslip, suspension, sound, steering, tyres, glass, headlight)

PROFILES: dict[str, Profile] = {name: p for m in _MODULES for name, p in m.PROFILES.items()}
SCENARIOS: dict[str, dict[str, dict[str, float | tuple[float, ...]]]] = {
    name: m.SCENARIOS for m in _MODULES for name in m.PROFILES
}
KINDS = sorted({p.kind for p in PROFILES.values()})

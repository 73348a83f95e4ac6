"""The vehicle photo's rules, as pure functions and constants with the clause they come from.

* Order 532, Requirements p. 6 (R6): at least 1280×720 pixels, JPEG or PNG, RGB colour of at least
  16 bits, no greyscale palette — a grey picture stored as RGB (three equal channels) is greyscale
  too.
* Requirements p. 3.9 (R3.9): the photo is taken when the roller brake tester takes the readings of
  the front axle, or of the rear axle of a trailer — by the brake test itself, not by the operator.
"""

from __future__ import annotations

from app.domain.categories import CATEGORIES

MIN_WIDTH = 1280  # R6
MIN_HEIGHT = 720  # R6
FORMATS = ("jpeg", "png")  # R6
MIN_COLOUR_BITS = 16  # R6: bits per pixel of colour
#: mean |R−G|, |G−B| over the picture (0–255) below which it has no colour: a grey scene has
#: some, a colour camera's grey-looking asphalt and car still give several; a grey image gives 0.
#: Ours, from the simulated scenes and the JPEG noise of a grey frame (≤ 0.5).
GREY_CHROMA = 1.5
#: a wheel's brake force (kN) above which the axle is being braked on the rollers: the moment of
#: the photo (R3.9). Idle rollers drag at well under 0.2 kN. Ours.
BRAKING_KN = 0.5
BRAKE_FORCES = ("brake.force.left", "brake.force.right")


def photo_step(category: str, axles: int) -> str:
    """The brake step whose test takes the photo (R3.9): the front axle, or a trailer's rear axle."""
    if CATEGORIES[category].trailer:
        return f"brakes_axle_{max(1, axles)}"
    return "brakes_axle_1"


def triggers(step: str, trigger_step: str, channel: str, value: float, final: bool) -> bool:
    """Does this brake reading, taken in ``step``, trigger the photo? A force of a braked wheel in the
    trigger step's test, or its result if the stand sends no live force."""
    if step != trigger_step:
        return False
    if final:
        return channel.startswith("brake.force.") and channel.endswith(".max")
    return channel in BRAKE_FORCES and value >= BRAKING_KN


#: a frame's moment may lead its step's start by this much (lane seconds): the stand's clock and the
#: camera's frame are read a moment apart; anything earlier was before the car was on the stand
WINDOW_SLACK_S = 0.5


def outside_step(taken: float, started: float, now: float) -> tuple[str, dict[str, object]] | None:
    """A frame taken outside its step's run (lane times) cannot be the step's photo (R3.9)."""
    if taken < started - WINDOW_SLACK_S or taken > now + WINDOW_SLACK_S:
        return ("photo_outside_step", {})
    return None


def problems(
    width: int, height: int, fmt: str, channels: int, bits: int, chroma: float
) -> list[tuple[str, dict[str, object]]]:
    """What keeps a frame from being the card's photo (R6), as catalog codes with parameters; empty
    when it may be. ``chroma``: the frame's mean channel difference (see GREY_CHROMA)."""
    out: list[tuple[str, dict[str, object]]] = []
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        out.append(("photo_too_small", {"size": f"{width}×{height}", "min": f"{MIN_WIDTH}×{MIN_HEIGHT}"}))
    if fmt not in FORMATS:
        out.append(("photo_format", {"format": fmt}))
    if channels != 3 or bits * channels < MIN_COLOUR_BITS:
        out.append(("photo_not_rgb", {"channels": channels, "bits": bits}))
    elif chroma < GREY_CHROMA:
        out.append(("photo_greyscale", {"chroma": round(chroma, 2)}))
    return out

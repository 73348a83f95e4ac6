"""A small picture in a terminal: two pixels a cell, the upper as the colour of '▀', the lower as
its background — works on any terminal with true colour or 256 colours (Rich down-samples), over
SSH too, and needs no graphics protocol."""

from __future__ import annotations

import base64

from rich.style import Style
from rich.text import Text


def halfblock(width: int, height: int, rgb_b64: str) -> Text:
    """``rgb_b64``: width × height RGB bytes, base64 (the daemon's preview)."""
    data = base64.b64decode(rgb_b64)
    if width <= 0 or height <= 0 or len(data) != width * height * 3:
        return Text("")
    out = Text()
    for y in range(0, height - 1, 2):
        for x in range(width):
            i, j = (y * width + x) * 3, ((y + 1) * width + x) * 3
            top = "#" + data[i : i + 3].hex()
            bottom = "#" + data[j : j + 3].hex()
            out.append("▀", Style(color=top, bgcolor=bottom))
        if y + 2 < height - 1:
            out.append("\n")
    return out

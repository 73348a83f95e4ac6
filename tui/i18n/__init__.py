"""Message catalogs: every string on screen comes from here, in Kazakh, Russian or English.

Catalogs are flat TOML tables (``en.toml``, ``ru.toml``, ``kk.toml``); a key missing in one language
falls back to English, then to the key itself, so a gap shows as a key, never as a crash.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

LANGS = ("kk", "ru", "en")
_HERE = Path(__file__).parent


@cache
def catalog(lang: str) -> dict[str, str]:
    with (_HERE / f"{lang}.toml").open("rb") as f:
        data = tomllib.load(f)
    flat: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        for k, v in node.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                walk(key + ".", v)
            else:
                flat[key] = str(v)

    walk("", data)
    return flat


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def translate(lang: str, key: str, /, **params: Any) -> str:
    text = catalog(lang).get(key) or catalog("en").get(key) or key
    try:
        return text.format_map(_SafeDict(params))
    except (ValueError, IndexError):
        return text

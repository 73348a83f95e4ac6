"""The refusals of the signature layer: each a stable code the screens and the CLI can name."""

from __future__ import annotations

from typing import Any

from app.errors import OtolaneError


class EdsError(OtolaneError):
    """A key, certificate or signature that cannot be used, with the reason as a stable ``code``."""

    status = 401

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(code, message, **params)

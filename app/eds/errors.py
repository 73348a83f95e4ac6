"""The refusals of the signature layer: each a stable code the screens and the CLI can name."""

from __future__ import annotations

from app.errors import OtolaneError


class EdsError(OtolaneError):
    """A key, certificate or signature that cannot be used, with the reason as a stable ``code``;
    a refused login answers 401."""

    status = 401

"""One error type for everything a user may be told.

An :class:`OtolaneError` carries a stable ``code`` (the key of a sentence in the message catalogs,
``error.<code>``), the parameters of that sentence, and an English fallback. The API edge turns it
into JSON; the TUI shows the sentence in the user's language. Nothing else reaches a screen.
"""

from __future__ import annotations

from typing import Any


class OtolaneError(Exception):
    status = 400

    def __init__(self, code: str, message: str, status: int | None = None, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "params": self.params}


class ConfigError(OtolaneError):
    def __init__(self, file: str, key: str, expected: str, found: str) -> None:
        super().__init__(
            "config_invalid",
            f"{file}: [{key}] expected {expected}, found {found}",
            file=file,
            key=key,
            expected=expected,
            found=found,
        )


class Forbidden(OtolaneError):
    status = 403

    def __init__(self, permission: str, action: str) -> None:
        super().__init__(
            "forbidden",
            f"you may not {action} (permission {permission})",
            permission=permission,
            action=action,
        )


class Refused(OtolaneError):
    """An act the rules do not allow now (a gate holds); the reasons say which and why."""

    status = 409

    def __init__(self, code: str, message: str, holds: list[dict[str, Any]] | None = None) -> None:
        super().__init__(code, message, holds=holds or [])

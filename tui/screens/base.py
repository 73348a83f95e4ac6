"""What every screen shares: typed access to the app, and the key bar in the user's language."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from tui.app import OtolaneApp


class AppMixin:
    @property
    def app_(self) -> OtolaneApp:
        return cast("OtolaneApp", self.app)  # type: ignore[attr-defined]

    def keybar(self, keys: list[tuple[str, str]]) -> str:
        # compact: every key of a role fits one line of an 80-column console in every language
        return " ".join(f"[b reverse]{k}[/b reverse] {self.app_.t(label)}" for k, label in keys)

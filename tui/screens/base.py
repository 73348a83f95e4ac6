"""What every screen shares: typed access to the app, the key bar in the user's language, and the
guard that keeps a screen alive through an error in one of its handlers (issue #23)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from tui.app import OtolaneApp


class AppMixin:
    @property
    def app_(self) -> OtolaneApp:
        return cast("OtolaneApp", self.app)  # type: ignore[attr-defined]

    async def _dispatch_message(self, message: Any) -> None:
        """One message, its handler's error kept by the app's guard: the screen goes on handling the
        next (Textual stops a widget's message loop at an error it is handed)."""
        await self.app_.guarded(super()._dispatch_message(message))  # type: ignore[misc]

    def keybar(self, keys: list[tuple[str, str]]) -> str:
        # compact: every key of a role fits one line of an 80-column console in every language
        # a label the catalogs lack (a stand's own service command) shows as its last word, not a key
        return " ".join(
            f"[b reverse]{k}[/b reverse] {self.app_.t_or(label, label.rsplit('.', 1)[-1])}"
            for k, label in keys
        )

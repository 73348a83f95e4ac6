"""What every screen shares: typed access to the app, the key bar in the user's language, and the
guard that keeps a screen alive through an error in one of its handlers (issue #23)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.markup import escape
from textual.actions import SkipAction
from textual.binding import Binding
from textual.widgets import Input

from app.api.client import ApiError

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


#: a form's Enter: to the next field at once (priority — see :class:`FormFields`)
ENTER_MOVES_ON = Binding("enter", "next_field", show=False, priority=True)


class FormFields:
    """A form whose Enter moves to the next field and whose last field's Enter submits it (that
    field's Input.Submitted). A screen puts ``ENTER_MOVES_ON`` in its BINDINGS. The move is made
    now, as the app's Tab makes it: Widget.focus() waits behind the messages already queued, so a
    name, Enter and the password sent in one burst (an SSH link, a fast typist) all went into the
    name field."""

    def action_next_field(self) -> None:
        fields = [f for f in self.query(Input) if f.display and not f.disabled]  # type: ignore[attr-defined]
        focused = self.focused  # type: ignore[attr-defined]
        if focused not in fields or focused is fields[-1]:
            raise SkipAction  # the focused widget has the Enter (the last field submits)
        self.set_focus(fields[fields.index(focused) + 1])  # type: ignore[attr-defined]


class PolledStatus(AppMixin):
    """A screen that shows a daemon's job (the integrity check, the backups): its status asked once
    a second while open — the first answer as soon as it is mounted —, actions posted to the
    daemon, an error said on the screen's message line, never raised."""

    #: the status's route, and the screen's message line
    STATUS = ""
    MESSAGE = ""

    async def on_mount(self) -> None:
        self.status: dict[str, Any] = {}
        self.refresh_texts()
        self.call_after_refresh(self.load)  # type: ignore[attr-defined]
        self.set_interval(1.0, self.load)  # type: ignore[attr-defined]

    def refresh_texts(self) -> None:
        raise NotImplementedError

    def show(self) -> None:
        raise NotImplementedError

    async def load(self) -> None:
        await self.ask("GET", self.STATUS)

    async def ask(self, method: str, path: str, data: dict[str, Any] | None = None) -> bool:
        """The daemon's answer becomes the status (shown), or its error the message line."""

        try:
            self.status = await self.app_.client.call(method, path, data if method == "POST" else None)
        except ApiError as exc:
            self.say(f"[red]✗ {escape(self.app_.error_text(exc))}[/red]")
            return False
        self.show()
        return True

    def say(self, text: str) -> None:
        if self.is_mounted:  # type: ignore[attr-defined]
            self.query_one(self.MESSAGE).update(text)  # type: ignore[attr-defined]

    def action_back(self) -> None:
        self.app_.pop_screen()


class RowsScreen(AppMixin):
    """An administrator's list (the settings, the accounts): a title, a table of rows (and, for
    some, a line of detail under it), a message line and the key bar; filled by :meth:`load` once
    mounted. The widgets' ids carry the screen's prefix (``u-table``, ``s-msg``: the stylesheet's)."""

    PREFIX = ""
    DETAIL = False

    def compose(self) -> Any:
        from textual.widgets import DataTable, Static

        yield Static(id=f"{self.PREFIX}-title")
        yield DataTable(id=f"{self.PREFIX}-table", zebra_stripes=True, cursor_type="row")
        if self.DETAIL:
            yield Static(id=f"{self.PREFIX}-detail")
        yield Static(id=f"{self.PREFIX}-msg")
        yield Static(id="keys")

    async def on_mount(self) -> None:
        self.refresh_texts()
        await self.load()

    def refresh_texts(self) -> None:
        raise NotImplementedError

    async def load(self) -> None:
        raise NotImplementedError

    def say(self, text: str, error: bool = False) -> None:
        line = self.query_one(f"#{self.PREFIX}-msg")  # type: ignore[attr-defined]
        line.update(f"[red]✗ {escape(text)}[/red]" if error else escape(text))

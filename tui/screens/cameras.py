"""The lane's cameras (R3.7, R3.16, D2): each camera's state, the identity it reports beside the one
registered, frames per second, size, the age of its last frame. The administrator registers the
camera now on the line — its identity is read from the hardware and shown for confirmation (A, then
A again); the daemon journals it. On a plate camera the administrator marks, once, where the camera
sees the plate (R: the region over the live picture; arrows move it, Shift+arrows or + − size it,
Enter keeps it, Del gives back the whole frame). Other roles see the list; the daemon refuses them
the acts."""

from __future__ import annotations

import base64
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from app.api.client import ApiError
from tui.screens.base import AppMixin
from tui.widgets.halfblock import halfblock
from tui.widgets.lane.stands import camera_facts


class CamerasScreen(AppMixin, Screen[None]):
    BINDINGS = [
        Binding("escape", "back", show=False),
        Binding("f11", "back", show=False),
        Binding("a", "register", show=False),
        Binding("r", "region", show=False),
        Binding("up", "move(0, -1)", show=False),
        Binding("down", "move(0, 1)", show=False),
        Binding("left", "move(-1, 0)", show=False),
        Binding("right", "move(1, 0)", show=False),
        Binding("shift+up", "size(0, -1)", show=False),
        Binding("shift+down", "size(0, 1)", show=False),
        Binding("shift+left", "size(-1, 0)", show=False),
        Binding("shift+right", "size(1, 0)", show=False),
        Binding("plus,equals_sign", "size(1, 1)", show=False),
        Binding("minus", "size(-1, -1)", show=False),
        Binding("enter", "keep_region", show=False),
        Binding("delete,backspace", "whole_frame", show=False),
    ]
    #: the region moves and grows by this share of the frame a key
    STEP = 0.05

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.watch: dict[str, Any] = {}  # the arrival watch (R3.2): what it does, on which camera
        self._confirm = ""  # the camera whose registration waits for the second A
        self.marking: list[float] | None = None  # the plate region being marked (x, y, w, h), or None

    def compose(self) -> ComposeResult:
        yield Static(id="c-title")
        yield DataTable(id="c-table", zebra_stripes=True, cursor_type="row")
        yield Static(id="c-detail")
        yield Static(id="c-pic")
        yield Static(id="c-msg")
        yield Static(id="keys")

    async def on_mount(self) -> None:
        t = self.app_.t
        self.query_one("#c-title", Static).update(f"[b]{t('cameras.title')}[/b]")
        keys = [("Esc", "keys.back")]
        if self.app_.client.role == "admin":
            keys += [("A", "keys.register"), ("R", "keys.plate_region")]
        self.query_one("#keys", Static).update(self.keybar([*keys, ("F10", "keys.lang")]))
        table = self.query_one(DataTable)
        table.add_columns(*(t(f"cameras.{c}") for c in ("id", "kind", "state", "serial_col")))
        await self.load()
        self.set_interval(2.0, self.load)
        table.focus()

    async def _picture(self) -> None:
        """A live look at the highlighted camera in half blocks (where the terminal has room)."""
        c = self._selected()
        pic = self.query_one("#c-pic", Static)
        # what the title, the table, the detail (with the plate region's line) and the bars leave
        rows = self.size.height - 4 - len(self.rows) - 7
        if c is None or rows < 4 or not c["admitted"]:
            pic.update("")
            return
        h = min(24, rows * 2)
        w = min(self.size.width - 2, h * 16 // 9)  # two pixels a cell, one over the other: square
        try:
            got = await self.app_.client.call("GET", f"/v1/cameras/{c['id']}/preview?w={w}&h={h}")
        except ApiError:
            pic.update("")
            return
        rgb = got["rgb"]
        shown = self.marking if self.marking is not None else c.get("roi")
        if shown:
            rgb = marked(got["width"], got["height"], rgb, shown)
        pic.update(halfblock(got["width"], got["height"], rgb))

    async def load(self) -> None:
        t = self.app_.t
        try:
            got = await self.app_.client.call("GET", "/v1/cameras")
            self.rows, self.watch = got["cameras"], got.get("watch") or {}
        except ApiError as exc:
            self.say(self.app_.error_text(exc), error=True)
            return
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for c in self.rows:
            ident = c.get("identity") or {}
            if c["status"] in ("connected", "stale") and not c["admitted"]:
                state = "✗ " + t("dev.not_admitted")
            else:
                state = ("● " if c["status"] == "connected" else "○ ") + t(f"dev.{c['status']}")
            # the two serials whole, one under the other, are in the detail below: here whether they match
            reported, registered = ident.get("serial"), c["registered"]["serial"]
            match = t("cameras.same") if reported == registered else t("cameras.other")
            match = match if reported else "—"
            table.add_row(c["id"], c["kind"].upper(), state, match)
        if self.rows:
            table.move_cursor(row=min(row, len(self.rows) - 1))
        self.show_detail()
        self.run_worker(self._picture, group="picture", exclusive=True)

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._confirm = ""
        self.show_detail()
        self.run_worker(self._picture, group="picture", exclusive=True)

    def _selected(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        return self.rows[table.cursor_row] if self.rows and table.cursor_row < len(self.rows) else None

    def show_detail(self) -> None:
        t = self.app_.t
        c = self._selected()
        if c is None:
            self.query_one("#c-detail", Static).update(t("cameras.none"))
            return
        ident = c.get("identity") or {}
        lines = [
            t(
                "cameras.url",
                url=escape(c["url"]),
                roles=", ".join(self.app_.t_or(f"camera_role.{r}", r) for r in c["roles"]),
            ),
            t(
                "cameras.identity",
                make=escape(ident.get("make", "—")),
                model=escape(ident.get("model", "—")),
                serial=escape(ident.get("serial", "—")),
                firmware=escape(ident.get("firmware", "—")),
            ),
        ]
        lines.append(t("cameras.registered_line", serial=escape(c["registered"]["serial"] or "—")))
        if c["status"] in ("connected", "stale"):
            lines.append(camera_facts(t, c))
        elif c.get("reason"):
            lines.append(
                f"[yellow]{escape(self.app_.reason_text(c.get('reason_why'), c['reason']))}[/yellow]"
            )
        if not c["admitted"] and c.get("why", {}).get("code"):
            lines.append(f"[red]{escape(self.app_.reason_text(c['why'], ''))}[/red]")
        if "plate" in c["roles"]:
            lines.append(region_text(t, self.marking if self.marking is not None else c.get("roi")))
            watch_line = watch_text(t, self.watch, c["id"])
            if watch_line:
                lines.append(watch_line)
        self.query_one("#c-detail", Static).update("\n".join(lines))

    def say(self, text: str, error: bool = False) -> None:
        self.query_one("#c-msg", Static).update(f"[red]✗ {escape(text)}[/red]" if error else escape(text))

    async def action_register(self) -> None:
        """A once shows what will be registered; A again registers it (a journalled admin act)."""
        c = self._selected()
        if c is None:
            return
        ident = c.get("identity") or {}
        if self._confirm != c["id"]:
            self._confirm = c["id"]
            self.say(
                self.app_.t(
                    "cameras.confirm",
                    camera=c["id"],
                    make=ident.get("make", "—"),
                    model=ident.get("model", "—"),
                    serial=ident.get("serial", "—"),
                )
            )
            return
        self._confirm = ""
        try:
            got = await self.app_.client.call("POST", f"/v1/cameras/{c['id']}/register")
        except ApiError as exc:
            self.say(self.app_.error_text(exc), error=True)
            return
        self.say(self.app_.t("cameras.registered", camera=got["id"], serial=got["registered"]["serial"]))
        await self.load()

    # --- the plate region (R3.2) ---------------------------------------------------------------
    def action_region(self) -> None:
        """R starts marking the highlighted plate camera's region: the table lets go of the arrows."""
        c = self._selected()
        if c is None or self.app_.client.role != "admin":
            return
        if "plate" not in c["roles"]:
            self.say(self.app_.t("cameras.not_plate", camera=c["id"]), error=True)
            return
        self.marking = list(c.get("roi") or [0.25, 0.5, 0.5, 0.4])
        self.query_one(DataTable).disabled = True
        self.say(self.app_.t("cameras.region_keys"))
        self._region_changed()

    def _region_changed(self) -> None:
        self.show_detail()
        self.run_worker(self._picture, group="picture", exclusive=True)

    def action_move(self, dx: int, dy: int) -> None:
        self._nudge(dx, dy, 0, 0)

    def action_size(self, dw: int, dh: int) -> None:
        self._nudge(0, 0, dw, dh)

    def _nudge(self, dx: int, dy: int, dw: int, dh: int) -> None:
        """The region being marked moved and sized by steps, kept inside the frame."""
        if self.marking is None:
            return
        x, y, w, h = self.marking
        if dw or dh:
            w = round(min(max(0.1, w + dw * self.STEP), 1 - x), 4)
            h = round(min(max(0.1, h + dh * self.STEP), 1 - y), 4)
        x = round(min(max(0.0, x + dx * self.STEP), 1 - w), 4)
        y = round(min(max(0.0, y + dy * self.STEP), 1 - h), 4)
        self.marking = [x, y, w, h]
        self._region_changed()

    async def action_keep_region(self) -> None:
        if self.marking is not None:
            await self._send_region(self.marking)

    async def action_whole_frame(self) -> None:
        if self.marking is not None:
            await self._send_region(None)

    async def _send_region(self, roi: list[float] | None) -> None:
        c = self._selected()
        if c is None:
            return
        try:
            await self.app_.client.call("POST", f"/v1/cameras/{c['id']}/roi", {"roi": roi})
        except ApiError as exc:
            self.say(self.app_.error_text(exc), error=True)
            return
        self._leave_region()
        self.say(self.app_.t("cameras.region_kept" if roi else "cameras.region_cleared", camera=c["id"]))
        await self.load()

    def _leave_region(self) -> None:
        self.marking = None
        table = self.query_one(DataTable)
        table.disabled = False
        table.focus()

    def action_back(self) -> None:
        if self.marking is not None:  # Esc leaves the marking, not the screen
            self._leave_region()
            self.say("")
            self._region_changed()
            return
        self.app_.pop_screen()


def watch_text(t: Any, watch: dict[str, Any], camera: str) -> str:
    """The arrival watch as a technician checks it (R3.2): whether it looks at this camera, what it
    sees, how many plates it read and frames it could not decode ("" when it looks elsewhere)."""
    state = watch.get("state")
    if state == "off":
        return t("cameras.watch_off")
    if state not in ("moving", "still") or watch.get("camera") != camera:
        return ""
    age = watch.get("arrival_age_s")
    since = "" if age is None else t("cameras.watch_since", age=age)
    counts = t("cameras.watch_counts", reads=watch.get("reads", 0), bad=watch.get("bad_looks", 0))
    return t("cameras.watch", state=t(f"cameras.watch_{state}"), since=since) + "\n" + counts


def region_text(t: Any, roi: list[float] | None) -> str:
    """The plate region in words: where it starts and how large it is, in % of the frame."""
    if not roi:
        return t("cameras.region_whole")
    x, y, w, h = (round(v * 100) for v in roi)
    return t("cameras.region", x=x, y=y, w=w, h=h)


def marked(width: int, height: int, rgb_b64: str, roi: list[float]) -> str:
    """The picture with what lies outside the region dimmed and the region's edge drawn yellow."""
    data = bytearray(base64.b64decode(rgb_b64))
    if len(data) != width * height * 3:
        return rgb_b64
    x0, y0 = int(roi[0] * width), int(roi[1] * height)
    x1, y1 = min(width - 1, int((roi[0] + roi[2]) * width)), min(height - 1, int((roi[1] + roi[3]) * height))
    for y in range(height):
        for x in range(width):
            i = (y * width + x) * 3
            inside = x0 <= x <= x1 and y0 <= y <= y1
            if inside and (x in (x0, x1) or y in (y0, y1)):
                data[i : i + 3] = b"\xff\xd7\x00"
            elif not inside:
                data[i : i + 3] = bytes(v // 3 for v in data[i : i + 3])
    return base64.b64encode(bytes(data)).decode()

"""The users' activity (R11, R10.6; Order 532 p. 10(6), 10(11)): who touched what data, from where
and when.

*Where* is found by the daemon, not believed from the screen: the Unix socket's peer credentials
(``SO_PEERCRED``: the client's process and Unix user) and that process's controlling terminal from
``/proc`` — ``tty1`` is the lane's console, a pseudo-terminal an SSH or tmux session. Only the SSH
client's address is the screen's word (``X-Otolane-Ssh``, from ``SSH_CONNECTION``; the daemon cannot
read another user's environment): it is kept only when it is an IP address, and marked as said.
Every journal entry written while a request is served carries its ``where`` (:data:`WHERE`, set by
the API's middleware), so a login, a refused call, a card read, printed or exported, an inspection
aborted, a plate corrected all say who, where and when in the chained journal.

The activity of a day is read back from the journal by its action index (:data:`KINDS`), folded per
person and day (:func:`per_day`); pure functions, the I/O is the caller's.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import ipaddress
import socket
import struct
from collections.abc import Iterable
from typing import Any

from app.domain.periodicity import KZ_TIME

#: the ``where`` of the request being served (None outside a request: the daemon's own acts)
WHERE: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("where", default=None)
#: the header in which the screen says the SSH client's address
SSH_HEADER = "X-Otolane-Ssh"

#: journal action → the kind of activity it counts as on the activity screen
KINDS: dict[str, str] = {
    "login": "login",
    "login_failed": "login_failed",
    "logout": "logout",
    "session_ended": "session_ended",
    "access_denied": "denied",
    "card_viewed": "viewed",
    "card_issued": "issued",
    "certificate_issued": "issued",
    "card_formed": "formed",
    "inspection_started": "inspection",
    "inspection_aborted": "aborted",
    "plate_corrected": "plate",
    "journal_exported": "exported",
    "activity_exported": "exported",
    "personal_data_shown": "personal",
    "user_added": "accounts",
    "user_role_changed": "accounts",
    "user_rights_changed": "accounts",
    "user_locked": "accounts",
    "user_unlocked": "accounts",
    "password_changed": "accounts",
    "setting_changed": "settings",
    "dlp_alert": "alert",
}
ACTIONS = tuple(KINDS)
#: the columns of the activity screen and export, in order
COLUMNS = (
    "login",
    "login_failed",
    "inspection",
    "formed",
    "viewed",
    "issued",
    "copied",
    "exported",
    "aborted",
    "plate",
    "denied",
    "alert",
)


def terminal(pid: int) -> str:
    """The controlling terminal of a process: ``tty1``, ``pts/3``, or "" (none, or not readable)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
        tty_nr = int(stat[stat.rindex(")") + 2 :].split()[4])  # after "(comm)": state ppid pgrp sid tty
    except (OSError, ValueError, IndexError):
        return ""
    major, minor = (tty_nr >> 8) & 0xFFF, (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)
    if major == 4 and minor < 64:
        return f"tty{minor}"
    if 136 <= major <= 143:
        return f"pts/{(major - 136) * 256 + minor}"
    return ""


def peer(sock: socket.socket | None) -> tuple[int, int]:
    """The Unix socket peer's process and user id, (0, -1) when unknown."""
    if sock is None or sock.family != socket.AF_UNIX:
        return 0, -1
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return 0, -1
    pid, uid, _ = struct.unpack("3i", raw)
    return pid, uid


def kernel_side(sock: socket.socket | None) -> dict[str, str]:
    """What the kernel says of a connection's caller: its terminal and Unix user (the same for the
    connection's life: read once a connection, not once a request)."""
    pid, uid = peer(sock)
    tty = terminal(pid) if pid else ""
    return {k: v for k, v in (("terminal", tty), ("uid", str(uid) if uid >= 0 else "")) if v}


def where(
    sock: socket.socket | None, ssh_said: str = "", kernel: dict[str, str] | None = None
) -> dict[str, str]:
    """Where a request comes from: ``via`` console, ssh or local; the terminal; the Unix user; the
    SSH client's address when the screen said one that is an address. ``kernel``: the connection's
    :func:`kernel_side`, when already read."""
    known = kernel_side(sock) if kernel is None else kernel
    out: dict[str, str] = {}
    try:
        out["address"] = str(ipaddress.ip_address(ssh_said.strip().split(" ")[0][:64]))
    except ValueError:
        pass
    tty = known.get("terminal", "")
    out["via"] = "ssh" if "address" in out else "console" if tty.startswith("tty") else "local"
    return out | known


def described(w: dict[str, str] | None) -> str:
    """A ``where`` as one short text: "console tty1", "ssh 10.0.0.5 pts/2"."""
    if not w:
        return "lane"
    return " ".join(x for x in (w.get("via", ""), w.get("address", ""), w.get("terminal", "")) if x)


def day_of(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, KZ_TIME).date().isoformat()


def kind_of(action: str, details: dict[str, Any]) -> str:
    kind = KINDS.get(action, "")
    return "copied" if kind == "issued" and details.get("copy") else kind


def per_day(entries: Iterable[tuple[float, str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Entries (ts, actor, action, details) folded per person and day: the counts of each kind and
    the places they worked from (each ``where`` once); newest day first, then by name."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for ts, actor, action, details in entries:
        kind = kind_of(action, details)
        if not kind:
            continue
        user = str(details.get("user") or actor) if action == "dlp_alert" else actor
        key = (day_of(ts), user)
        row = rows.setdefault(key, {"day": key[0], "user": user, "counts": {}, "where": []})
        row["counts"][kind] = row["counts"].get(kind, 0) + 1
        place = details.get("where")
        if isinstance(place, dict) and place not in row["where"]:
            row["where"].append(place)
    return sorted(rows.values(), key=lambda r: (r["day"], r["user"]), reverse=True)


def day_bounds(day: str) -> tuple[float, float]:
    """A calendar day in Kazakhstan as [start, end) timestamps; ``activity_day_bad`` on a bad date."""
    d = dt.date.fromisoformat(day)
    start = dt.datetime(d.year, d.month, d.day, tzinfo=KZ_TIME)
    return start.timestamp(), (start + dt.timedelta(days=1)).timestamp()

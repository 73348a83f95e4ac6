"""The lane's settings an administrator changes from the screen (issue #23 (7), D5, R3.15).

The configuration file is what the installer wrote; the administrator's changes of the settings
below are ``setting_changed`` entries of the chained journal, folded over the file at every start
in the journal's order (:func:`fold`, when the store opens: the daemon, the command line and
the integrity check all see them) — as a stand's registration is (``app/lane/stands.py``): the journal is the
one place a change lives, so no table row can change a setting behind it, and the journal says who
changed what from what, when. A setting marked *live* takes effect at once; the others (the EIS
address and route) at the lane's next start, and the screen says so.

Only these settings: what the lane is (its name, training mode, storage, keys, stands and cameras
and their identities) stays the installer's, or has its own registration act (F6).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from app.config import EIS_URL_EXPECTED, Config, eis_url_problem
from app.errors import OtolaneError
from app.journal import Journal

ACTION = "setting_changed"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Setting:
    key: str  # section.name in the configuration file
    kind: str  # text | int | number | choice | url
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    live: bool = True  # takes effect at once; else at the lane's next start

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


#: CUPS names a queue with printable characters but space, '/', '#' and quotes; we take the usual
#: ones. A server is host[:port] or a socket path.
QUEUE = re.compile(r"[A-Za-z0-9_.@-]{1,127}")
SERVER = re.compile(r"[A-Za-z0-9_.:/\[\]-]{1,255}")

SETTINGS: tuple[Setting, ...] = (
    Setting("printer.queue", "text"),
    Setting("printer.server", "text"),
    Setting("eis.url", "url", live=False),
    Setting("eis.transport", "choice", choices=("rest", "soap"), live=False),
    Setting("eis.timeout_s", "number", 1, 120, live=False),
    Setting("eis.poll_s", "number", 5, 3600),
    Setting("security.password_max_age_days", "int", 1, 365),
    Setting("security.password_history", "int", 0, 24),
    Setting("security.password_min_length", "int", 8, 64),
    Setting("security.lockout_after", "int", 3, 20),
    Setting("security.lockout_minutes", "int", 1, 1440),
    Setting("security.session_idle_minutes", "int", 1, 480),
    Setting("lane.latitude", "number", -90, 90),
    Setting("lane.longitude", "number", -180, 180),
)
BY_KEY = {s.key: s for s in SETTINGS}
MAX_TEXT = 300


def setting(key: str) -> Setting:
    found = BY_KEY.get(key)
    if found is None:
        raise OtolaneError(
            "setting_unknown", f"no setting {key[:60]!r} (otolane setting list)", setting=key[:60], status=404
        )
    return found


def parse(s: Setting, text: str, cfg: Config) -> Any:
    """The value an administrator typed, as the setting holds it, or a refusal naming the setting
    and what it takes (in the catalogs' words: ``error.<code>``)."""
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise OtolaneError(
            "setting_too_long", f"{s.key}: at most {MAX_TEXT} characters", setting=s.key, max=MAX_TEXT
        )
    if s.kind in ("int", "number"):
        try:
            value: Any = int(text) if s.kind == "int" else float(text.replace(",", "."))
        except ValueError:
            code = "setting_not_whole" if s.kind == "int" else "setting_not_number"
            what = "a whole number" if s.kind == "int" else "a number"
            raise OtolaneError(code, f"{s.key} takes {what}", setting=s.key, value=text[:40]) from None
        if not math.isfinite(value) or not (s.low is None or s.low <= value <= (s.high or value)):
            raise OtolaneError(
                "setting_out_of_range",
                f"{s.key} must be from {s.low:g} to {s.high:g}",
                setting=s.key,
                low=f"{s.low:g}",
                high=f"{s.high:g}",
            )
        return value
    if s.kind == "choice":  # names of protocols: said in capitals on the screen, taken either way
        text = text.lower()
        if text not in s.choices:
            choices = ", ".join(c.upper() for c in s.choices)
            raise OtolaneError(
                "setting_not_choice", f"{s.key} is one of {choices}", setting=s.key, choices=choices
            )
        return text
    if s.kind == "url":
        return _url(s, text, cfg)
    # printer: empty means none (the queue) or the system's CUPS (the server)
    pattern = QUEUE if s.name == "queue" else SERVER
    if text and not pattern.fullmatch(text):
        raise OtolaneError(
            "setting_characters", f"{s.key}: Latin letters, digits and . _ - @ only", setting=s.key
        )
    return text


def _url(s: Setting, text: str, cfg: Config) -> str:
    try:
        parts = urlsplit(text)
        _ = parts.port  # a port that is no number raises here
    except ValueError:
        raise OtolaneError("eis_url_scheme", f"{s.key}: not a URL", setting=s.key) from None
    if parts.username or parts.password:
        # the journal keeps every value: an address never carries an account
        raise OtolaneError("setting_url_account", f"{s.key}: no user name or password in it", setting=s.key)
    problem = eis_url_problem(text, bool(cfg.lane["training"]), cfg.eis["production_hosts"])
    if problem:
        raise OtolaneError(problem, f"{s.key}: {EIS_URL_EXPECTED[problem]} is needed", setting=s.key)
    return text


async def changes(journal: Journal) -> dict[str, Any]:
    """Every setting the administrator changed, its last value, in the journal's order."""
    out: dict[str, Any] = {}
    for e in await journal.events(ACTION):
        key = e.details.get("setting")
        if key in BY_KEY:
            out[key] = e.details.get("new")
    return out


async def fold(cfg: Config, journal: Journal) -> None:
    """The file's values with the administrator's changes over them, in place: every part built
    after the store opens reads the changed configuration. What the file said is kept in
    ``cfg.file_values`` (once: folding again changes nothing)."""
    for s in SETTINGS:
        cfg.file_values.setdefault(s.key, getattr(cfg, s.section)[s.name])
    for key, value in (await changes(journal)).items():
        s = BY_KEY[key]
        try:  # held to today's rules: a training lane never folds a production address in
            getattr(cfg, s.section)[s.name] = parse(s, str(value), cfg)
        except OtolaneError as exc:
            log.warning("setting %s=%r not taken: %s (the file's value stays)", key, value, exc.code)


class LaneSettings:
    """The settings of a running lane: what is in effect, what the file said, what waits for the
    next start; a change checked, journalled, then applied (``apply`` tells the parts that hold a
    copy of a live value)."""

    def __init__(self, cfg: Config, journal: Journal, apply: Callable[[str, Any], None]) -> None:
        self.cfg = cfg
        self.journal = journal
        self.apply = apply
        self.pending: dict[str, Any] = {}  # changed, in effect at the next start
        self.seen = 0  # the last ``setting_changed`` entry taken

    async def start(self) -> None:
        last = await self.journal.last(ACTION)
        self.seen = last.seq if last is not None else 0

    async def take_new(self) -> list[str]:
        """The changes journalled since the last look — by the command line while the lane runs,
        or this daemon's own (taken again: nothing moves) — taken as the screen's are. Returns the
        settings that changed."""
        changed = []
        for e in await self.journal.events(ACTION, after=self.seen):
            self.seen = e.seq
            s = BY_KEY.get(str(e.details.get("setting")))
            if s is None:
                continue
            try:
                value = parse(s, str(e.details.get("new")), self.cfg)
            except OtolaneError as exc:
                log.warning("setting %s not taken: %s", s.key, exc.code)
                continue
            if self._take(s, value):
                changed.append(s.key)
        return changed

    def _take(self, s: Setting, value: Any) -> bool:
        """A checked value into effect (a live setting) or waiting for the next start."""
        if s.live:
            if value == self.current(s):
                return False
            getattr(self.cfg, s.section)[s.name] = value
            self.apply(s.key, value)
        elif value == self.current(s):
            return self.pending.pop(s.key, None) is not None  # back to what runs
        elif self.pending.get(s.key) != value:
            self.pending[s.key] = value
        else:
            return False
        return True

    def from_file(self, s: Setting) -> Any:
        return self.cfg.file_values.get(s.key, self.current(s))

    def current(self, s: Setting) -> Any:
        return getattr(self.cfg, s.section)[s.name]

    def listing(self) -> list[dict[str, Any]]:
        out = []
        for s in SETTINGS:
            now, filed = self.current(s), self.from_file(s)
            out.append(
                {
                    "key": s.key,
                    "kind": s.kind,
                    "value": now,
                    "file": filed,
                    "changed": now != filed or s.key in self.pending,
                    "pending": self.pending.get(s.key),
                    "has_pending": s.key in self.pending,
                    "live": s.live,
                    "low": s.low,
                    "high": s.high,
                    "choices": list(s.choices),
                }
            )
        return out

    async def change(self, actor: str, key: str, text: str) -> dict[str, Any]:
        s = setting(key)
        value = parse(s, text, self.cfg)
        old = self.pending.get(key, self.current(s))
        if value == old:
            raise OtolaneError("setting_same", f"{key} is that already: nothing changed", setting=key)
        await self.journal.write(
            actor, ACTION, setting=key, old=old, new=value, applies="now" if s.live else "next_start"
        )
        self._take(s, value)
        return next(row for row in self.listing() if row["key"] == key)

"""Leak prevention (R11; Order 532 p. 11 "включить функцию DLP"): rules over the users' activity,
each with its threshold in the configuration (``[dlp]``), each firing an alert.

The rules judge one new activity entry of the journal against the same person's entries of the
hour before it (:func:`judge`, pure); the lane's :class:`Watch` reads those entries, journals an
alert as ``dlp_alert`` (which the admin's screens show, and which travels to EIS as an event when it
is about an inspection's card, and in every log-history answer, R3.19) and tells the screens. A rule
fires at most once an hour per person, so a flood of prints is one alert, not a flood of alerts.

The screen's own lock (a screen with personal data left idle ends its session) is the screen's
``lock_if_idle`` (``tui/app.py``); its log-out says ``reason: idle`` and the rule below alerts.

| rule | fires when |
|---|---|
| ``off_hours`` | a log-in or an act on data outside the work hours and days |
| ``issues_per_hour`` | one person's cards and certificates issued in an hour pass N |
| ``other_card`` | a card another operator formed is read or issued |
| ``export`` | the journal or the activity is exported (data leaves the lane) |
| ``failed_logins`` | N failed log-ins under one name within the window |
| ``idle_screen`` | a screen with personal data was left untouched and locked (``screen_lock_minutes``) |
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from app.activity import KINDS
from app.domain.periodicity import KZ_TIME
from app.journal import Journal

log = logging.getLogger("otolane.dlp")

HOUR = 3600.0
RULES = ("off_hours", "issues_per_hour", "other_card", "export", "failed_logins", "idle_screen")
#: the kinds of activity that count as use of the lane for the off-hours rule
IN_USE = {"login", "inspection", "formed", "viewed", "issued", "exported", "personal"}
#: the journal actions the watch judges (its own alerts never)
WATCHED = frozenset(a for a in KINDS if a != "dlp_alert")
#: entries waiting to be judged before new ones are dropped (and logged)
MAX_WAITING = 10_000


def work_hours(text: str) -> tuple[int, int]:
    """``"07:00-21:00"`` as minutes of the day [start, end); ValueError when it is not that."""
    start, _, end = text.partition("-")
    out = []
    for part in (start, end):
        h, _, m = part.strip().partition(":")
        if not (h.isdigit() and m.isdigit() and len(m) == 2):
            raise ValueError(f"{part.strip()!r} is not HH:MM")
        minutes = int(h) * 60 + int(m)
        if not 0 <= minutes <= 24 * 60:
            raise ValueError(f"{part.strip()!r} is not a time of day")
        out.append(minutes)
    if out[0] >= out[1]:
        raise ValueError("the start is not before the end")
    return out[0], out[1]


def weekdays(text: str) -> frozenset[int]:
    """``"1-5,7"`` as ISO weekdays (1 = Monday); ValueError when it is not that."""
    out: set[int] = set()
    for part in text.replace(" ", "").split(","):
        low, _, high = part.partition("-")
        if not (low.isdigit() and (high.isdigit() or not high)):
            raise ValueError(f"{part!r} is not a day number or a range of them")
        a, b = int(low), int(high or low)
        if not 1 <= a <= b <= 7:
            raise ValueError(f"{part!r}: days are 1–7, the first of a range before the last")
        out.update(range(a, b + 1))
    return frozenset(out)


@dataclass(frozen=True)
class Rules:
    enabled: frozenset[str]
    hours: tuple[int, int]
    days: frozenset[int]  # ISO weekdays, 1 = Monday
    issues_per_hour: int
    failed_logins: int
    failed_window_s: float

    @classmethod
    def from_config(cls, dlp: dict[str, Any]) -> Rules:
        return cls(
            frozenset(dlp["rules"]),
            work_hours(dlp["work_hours"]),
            weekdays(dlp["work_days"]),
            int(dlp["issues_per_hour"]),
            int(dlp["failed_logins"]),
            float(dlp["failed_login_window_minutes"]) * 60,
        )


@dataclass(frozen=True)
class Entry:
    ts: float
    actor: str
    action: str
    details: dict[str, Any]


def _off_hours(rules: Rules, ts: float) -> bool:
    t = dt.datetime.fromtimestamp(ts, KZ_TIME)
    minute = t.hour * 60 + t.minute
    return t.isoweekday() not in rules.days or not rules.hours[0] <= minute < rules.hours[1]


def _fired(rule: str, user: str, since: float, recent: Iterable[Entry]) -> bool:
    return any(
        e.action == "dlp_alert"
        and e.details.get("rule") == rule
        and e.details.get("user") == user
        and e.ts >= since
        for e in recent
    )


def judge(rules: Rules, new: Entry, recent: list[Entry]) -> list[dict[str, Any]]:
    """The alerts one new entry fires, given the entries of the hour before it (the same person's,
    the failed log-ins under the same name, and the alerts already fired). Each alert: ``rule``,
    ``user`` and what it counted."""
    kind = KINDS.get(new.action, "")
    user = new.actor
    out: list[dict[str, Any]] = []

    def fire(rule: str, **figures: Any) -> None:
        if rule in rules.enabled and not _fired(rule, user, new.ts - HOUR, recent):
            out.append({"rule": rule, "user": user, "act": new.action, **figures})

    if kind in IN_USE and _off_hours(rules, new.ts):
        fire("off_hours", at=dt.datetime.fromtimestamp(new.ts, KZ_TIME).strftime("%a %H:%M"))
    if kind == "issued":
        n = 1 + sum(
            1 for e in recent if e.actor == user and KINDS.get(e.action) == "issued" and e.ts > new.ts - HOUR
        )
        if n > rules.issues_per_hour:
            fire("issues_per_hour", count=n, limit=rules.issues_per_hour)
    formed_by = new.details.get("formed_by")
    if kind in ("viewed", "issued") and formed_by and formed_by != user:
        fire("other_card", card_id=new.details.get("card_id"), formed_by=formed_by)
    if kind == "exported":
        fire("export", file=new.details.get("file"), entries=new.details.get("entries"))
    if new.action == "logout" and new.details.get("reason") == "idle":
        fire("idle_screen", screen=new.details.get("screen"))
    if new.action == "login_failed":
        since = new.ts - rules.failed_window_s
        name = str(new.details.get("username") or user)
        n = 1 + sum(
            1
            for e in recent
            if e.action == "login_failed"
            and str(e.details.get("username") or e.actor) == name
            and e.ts >= since
        )
        if n >= rules.failed_logins:
            user = name
            fire("failed_logins", count=n, limit=rules.failed_logins)
    for alert in out:
        for key in ("card_id", "inspection_id", "number"):
            if key in new.details and key not in alert:
                alert[key] = new.details[key]
    return out


class Watch:
    """The lane's DLP: judges each activity entry after it is committed and journals the alerts
    (``dlp_alert``, with the person's ``where``). The alerts are for the administrator's screens
    (``GET /v1/activity``), never on the live stream every operator watches.

    The journal tells it of a row as it is written, maybe inside a transaction still open; the row
    waits in a queue for the watch's own task, started with the daemon outside any transaction, so
    its reads and its alert never run on the writer's connection (on PostgreSQL that fails) and its
    write waits for the writer's lock to be let go."""

    def __init__(
        self,
        rules: Rules,
        recent: Callable[[float, float], Awaitable[list[Entry]]],
        write: Callable[..., Awaitable[None]],
    ) -> None:
        self.rules = rules
        self.recent = recent
        self.write = write
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(MAX_WAITING)
        self.task: asyncio.Task[None] | None = None

    @classmethod
    def on(cls, journal: Journal, dlp: dict[str, Any]) -> Watch:
        """The watch of a lane's journal, with the configuration's rules: it sees every entry.
        Call it where no transaction is open (the daemon's start)."""

        async def recent(start: float, end: float) -> list[Entry]:
            rows = await journal.activity(start, end + 1e-6, None)
            return [Entry(r.ts, r.actor, r.action, dict(r.details or {})) for r in rows]

        watch = cls(Rules.from_config(dlp), recent, journal.write)
        journal.watchers.append(watch.saw)
        watch.task = asyncio.get_running_loop().create_task(watch.run())
        return watch

    def saw(self, row: dict[str, Any]) -> None:
        if row["action"] not in WATCHED:
            return
        try:
            self.queue.put_nowait(row)
        except asyncio.QueueFull:  # a flood no person makes: counted in the log, the lane goes on
            log.error("leak-prevention: %d entries wait already; %s not judged", MAX_WAITING, row["action"])

    async def run(self) -> None:
        while True:
            row = await self.queue.get()
            try:
                await self.judge(row)
            finally:
                self.queue.task_done()

    async def judge(self, row: dict[str, Any]) -> None:
        try:
            new = Entry(float(row["ts"]), str(row["actor"]), str(row["action"]), dict(row["details"]))
            recent = [
                e
                for e in await self.recent(new.ts - HOUR, new.ts)
                if e.ts < new.ts or e.action == "dlp_alert"
            ]
            for alert in judge(self.rules, new, recent):
                where = new.details.get("where")
                await self.write("dlp", "dlp_alert", **alert, **({"where": where} if where else {}))
                log.warning("leak-prevention alert %s for %s", alert["rule"], alert["user"])
        except Exception:  # a rule that cannot be judged is logged; the lane goes on
            log.exception("leak-prevention rule")

    async def stop(self) -> None:
        """What was told is judged (at most a few seconds), then the watch ends."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), 5.0)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def drain(self) -> None:
        """Wait for the entries told so far to be judged (a stop, the tests)."""
        await self.queue.join()

"""The users' activity and leak prevention (issue #25 items 2 and 3; R11, R10.6): who did what to
data, where from and when, in the chained journal; per person and day on the administrator's
screen; exported by an administrator only; the DLP rules alert, journalled. A real lane (daemon,
pty brake tester, loopback EIS); the terminal found through a real pseudo-terminal."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app import activity, dlp
from app.api.client import ApiError, LaneClient
from app.domain.periodicity import KZ_TIME
from tests.rig import PASSWORDS, Rig, run_to_card, start_rig, wait_for

VEHICLE = {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2}


def test_the_terminal_of_a_process_is_read_from_the_kernel() -> None:
    """R11 "where": a process whose controlling terminal is a pseudo-terminal is on ``pts/N``."""
    master, slave = os.openpty()
    name = os.ttyname(slave)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os,sys,time; os.setsid(); fd=os.open(sys.argv[1], os.O_RDWR); time.sleep(30)",
            name,
        ],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=False,
    )
    try:
        for _ in range(100):
            if activity.terminal(proc.pid):
                break
            time.sleep(0.05)
        assert activity.terminal(proc.pid) == name.removeprefix("/dev/")
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
        os.close(slave)
    assert activity.terminal(os.getpid() + 10_000_000) == ""  # no such process: nothing claimed


def test_only_an_address_is_taken_as_the_ssh_clients_word() -> None:
    assert activity.where(None, "10.0.0.5 50022 10.0.0.1 22") == {"address": "10.0.0.5", "via": "ssh"}
    assert activity.where(None, "fe80::1 1 ::1 22")["address"] == "fe80::1"
    for bad in ("evil; rm -rf /", "10.0.0.300", "", "x" * 500):
        assert "address" not in activity.where(None, bad) and activity.where(None, bad)["via"] == "local"


def _e(minutes: float, actor: str, action: str, **details: Any) -> dlp.Entry:
    noon = dt.datetime(2026, 12, 2, 12, 0, tzinfo=KZ_TIME).timestamp()  # a Wednesday
    return dlp.Entry(noon + minutes * 60, actor, action, details)


RULES = dlp.Rules(frozenset(dlp.RULES), (8 * 60, 20 * 60), frozenset({1, 2, 3, 4, 5}), 3, 3, 900.0)


@pytest.mark.parametrize(
    ("new", "recent", "rule"),
    [
        (_e(9 * 60, "dana", "login"), [], "off_hours"),  # 21:00: after hours
        (
            _e(0, "dana", "card_issued"),
            [_e(-5 * i, "dana", "card_issued") for i in range(1, 4)],
            "issues_per_hour",
        ),
        (_e(0, "dana", "card_viewed", formed_by="erlan", card_id="c1"), [], "other_card"),
        (_e(0, "admin", "journal_exported", file="j.json", entries=9), [], "export"),
        (_e(0, "dana", "logout", reason="idle", screen="JournalScreen"), [], "idle_screen"),
        (
            _e(0, "-", "login_failed", username="dana"),
            [_e(-1, "-", "login_failed", username="dana")] * 2,
            "failed_logins",
        ),
    ],
)
def test_each_rule_fires_once_an_hour_per_person(new: dlp.Entry, recent: list[dlp.Entry], rule: str) -> None:
    """R11: each rule fires on its own case, then not again within the hour for the same person."""
    alerts = dlp.judge(RULES, new, recent)
    assert [a["rule"] for a in alerts] == [rule]
    fired = dlp.Entry(new.ts - 60, "dlp", "dlp_alert", alerts[0])
    assert dlp.judge(RULES, new, [*recent, fired]) == []
    off = dataclasses.replace(RULES, enabled=frozenset(set(dlp.RULES) - {rule}))
    assert dlp.judge(off, new, recent) == []


def test_within_the_rules_nothing_fires() -> None:
    assert (
        dlp.judge(RULES, _e(0, "dana", "card_issued", formed_by="dana"), [_e(-90, "dana", "card_issued")] * 9)
        == []
    )
    assert dlp.judge(RULES, _e(0, "dana", "login"), []) == []
    old = [_e(-30, "-", "login_failed", username="dana")] * 5  # outside the 15-minute window
    assert dlp.judge(RULES, _e(0, "-", "login_failed", username="dana"), old) == []


def _off_today() -> str:
    """A [dlp] table whose working days leave out today (Kazakhstan time): every act is off-hours."""
    today = dt.datetime.now(KZ_TIME).isoweekday()
    days = ",".join(str(d) for d in range(1, 8) if d != today)
    return f'\n[dlp]\nwork_days = "{days}"\nissues_per_hour = 1\nfailed_logins = 3\n'


@pytest.fixture
async def watched(tmp_path: Path) -> Any:
    rig = await start_rig(tmp_path / "lane", extra_config=_off_today())
    try:
        yield rig
    finally:
        await rig.close()


async def _alerts(admin: LaneClient) -> list[dict[str, Any]]:
    got = await admin.call("GET", "/v1/activity")
    return [e for e in got["entries"] if e["kind"] == "alert"]


async def test_activity_says_who_where_and_when_and_the_rules_alert(
    watched: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R11, R10.6: logins (one from SSH, by the screen's word), failed logins, a card formed, read
    by another operator and issued twice, an export: each in the activity of its person and day with
    where from; the DLP rules fire (off-hours, another's card, issues per hour, export, failed
    logins), each once, journalled; only an administrator sees or exports it."""
    rig = watched
    admin = await rig.client("admin")
    op = await rig.client("operator")
    card = await run_to_card(op, VEHICLE)
    await admin.call(
        "POST", "/v1/users", {"username": "op2", "role": "operator", "password": PASSWORDS["operator"]}
    )
    await admin.call("POST", "/v1/users/op2/rights", {"permission": "card_view_others", "state": "grant"})
    monkeypatch.setenv("SSH_CONNECTION", "192.0.2.7 50022 192.0.2.1 22")
    op2 = LaneClient(rig.sock)
    rig.clients.append(op2)
    await op2.login("op2", PASSWORDS["operator"])
    await op2.call("POST", "/v1/password", {"old": PASSWORDS["operator"], "new": "Sunny-Road-2027"})
    await op2.call("GET", f"/v1/cards/{card['card_id']}")
    monkeypatch.delenv("SSH_CONNECTION")
    await op.download(f"/v1/cards/{card['card_id']}/pdf")
    await op.download(f"/v1/cards/{card['card_id']}/pdf")  # a copy: two issues in an hour, the limit 1
    for _ in range(3):
        stranger = await rig.client()
        with pytest.raises(ApiError):
            await stranger.login("op2", "wrong-one-1")
    made = await admin.call("POST", "/v1/activity/export", {"from": "2026-01-01", "to": "2026-03-31"})

    async def all_fired() -> bool:
        rules = {(a["user"], a["about"]["rule"]) for a in await _alerts(admin)}
        return rules >= {
            ("op2", "other_card"),
            ("operator", "issues_per_hour"),
            ("op2", "failed_logins"),
            ("admin", "export"),
            ("operator", "off_hours"),
        }

    await wait_for(all_fired, "the leak-prevention alerts")
    got = await admin.call("GET", "/v1/activity")
    rows = {r["user"]: r for r in got["days"]}
    assert rows["operator"]["counts"]["login"] == 1 and rows["operator"]["counts"]["formed"] == 1
    assert rows["operator"]["counts"]["issued"] == 1 and rows["operator"]["counts"]["copied"] == 1
    assert rows["op2"]["counts"]["viewed"] == 1 and rows["op2"]["counts"]["login_failed"] == 3
    assert {"via": "ssh", "address": "192.0.2.7"}.items() <= rows["op2"]["where"][0].items(), rows["op2"]
    assert {w["via"] for w in rows["operator"]["where"]} == {"local"}, rows["operator"]
    assert {w.get("uid") for w in rows["operator"]["where"]} == {str(os.getuid())}  # the kernel's word
    alerts = await _alerts(admin)
    assert len([a for a in alerts if a["about"]["rule"] == "issues_per_hour"]) == 1  # once an hour
    read = next(e for e in got["entries"] if e["action"] == "card_viewed")
    assert read["user"] == "op2" and read["where"]["address"] == "192.0.2.7"

    # the export: 0600, its rows, its digest in the journal
    path = Path(made["file"])
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with path.open() as f:
        assert next(csv.reader(f))[:4] == ["seq", "time", "user", "action"]
    j = await admin.call("GET", "/v1/journal?action=activity_exported&limit=1")
    assert j[0]["details"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()

    for who in (op, op2):  # an operator neither sees nor exports the activity
        with pytest.raises(ApiError) as err:
            await who.call("GET", "/v1/activity")
        assert err.value.status == 403
    with pytest.raises(ApiError) as err:
        await admin.call("GET", "/v1/activity?day=yesterday")
    assert err.value.code == "activity_day_bad"
    with pytest.raises(ApiError) as err:
        await admin.call("POST", "/v1/activity/export", {"from": "2026-03-01", "to": "2026-01-01"})
    assert err.value.code == "activity_period_bad"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_activity_screen_shows_each_person_and_their_alerts_at_80x24(
    watched: Rig, lang: str
) -> None:
    """R11 on the administrator's screen: F2 says today's alerts; its Activity item shows each
    person's day with the alerts in red and where they worked from; X exports the day."""
    from tests.e2e.test_tui_pilot import SIZE, login, text, until_shown
    from tui.app import make_app
    from tui.screens.activity import ActivityScreen

    rig = watched
    op = await rig.client("operator")
    await op.call("GET", "/v1/state")
    admin = await rig.client("admin")

    async def fired() -> bool:
        return bool(await _alerts(admin))

    await wait_for(fired, "an off-hours alert")
    app = make_app(rig.sock, lang)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot, app, "admin")
        await until_shown(pilot, app, "#keys", "F2")
        await pilot.press("f2")
        await until_shown(pilot, app, "#admin-msg", "⚠")
        assert app.t("admin.alerts", count=2, key=9).split(":")[0] in text(app, "#admin-msg")
        await pilot.press("9")
        await pilot.pause(0.5)
        assert isinstance(app.screen, ActivityScreen)
        await until_shown(pilot, app, "#a-detail", app.t("activity.where", places="").split(":")[0])
        users = [r["user"] for r in app.screen.data["days"]]
        for _ in range(users.index("operator")):
            await pilot.press("down")
        await pilot.pause(0.2)
        assert app.t("activity.rule_off_hours") in text(app, "#a-detail")
        await pilot.press("x")
        await until_shown(pilot, app, "#a-msg", ".csv")


async def test_a_personal_data_screen_left_idle_locks_and_alerts(watched: Rig) -> None:
    """R11: the lane screen may stay open; the journal (personal data: names, plates, where from)
    left with no key pressed for the lane's ``screen_lock_minutes`` locks — the session ends,
    journalled with the screen, a leak-prevention alert — and the log-in screen is back."""
    from tests.e2e.test_tui_pilot import SIZE, login
    from tui.app import make_app
    from tui.screens.journal import JournalScreen
    from tui.screens.lane import LaneScreen
    from tui.screens.login import LoginScreen

    rig = watched
    app = make_app(rig.sock, "ru")
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot, app, "admin")
        assert app.client.lock_after_s == 600  # [dlp] screen_lock_minutes = 10, said at log-in
        app.client.lock_after_s = 1.5  # the minutes of a lane, in seconds of a test
        await pilot.pause(3.0)
        assert isinstance(app.screen, LaneScreen)  # no personal data on it: it stays
        await pilot.press("f9")
        await pilot.pause(0.3)
        assert isinstance(app.screen, JournalScreen)
        for _ in range(60):
            await pilot.pause(0.1)
            if isinstance(app.screen, LoginScreen):
                break
        assert isinstance(app.screen, LoginScreen)
        assert not app.client.token
    admin = await rig.client("admin")
    out = await admin.call("GET", "/v1/journal?action=logout&limit=5")
    assert out[0]["details"]["reason"] == "idle" and out[0]["details"]["screen"] == "JournalScreen"

    async def alerted() -> bool:
        return any(
            a["about"].get("rule") == "idle_screen" and a["user"] == "admin" for a in await _alerts(admin)
        )

    await wait_for(alerted, "the idle-screen alert")

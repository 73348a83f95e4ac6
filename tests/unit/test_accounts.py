"""Accounts (R3.17, issue #7 item 7): names compared after Unicode normalisation, look-alikes refused,
weak passwords refused, lock/unlock/role changes end sessions, equal work for unknown and known users,
and the account's record held against the journal. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from tortoise import connections

from app import credentials
from app.auth import DAY, Accounts, Policy, UnknownNames
from app.errors import OtolaneError
from app.journal import Journal
from app.storage.models import JournalEntry, User

GOOD = "Steppe-Wind-77"


async def _refused(coro: object, code: str | None) -> OtolaneError:
    with pytest.raises(OtolaneError) as err:
        await coro  # type: ignore[misc]
    assert code is None or err.value.code == code, err.value.code
    return err.value


async def test_names_are_one_after_unicode_normalisation(db: str) -> None:
    acc = Accounts(Policy(), Journal())
    await acc.add("Aigerim", "operator", GOOD)
    assert await User.filter(username="aigerim").count() == 1
    # Full-width letters and another case are the same name: refused as existing, and they log in.
    await _refused(acc.add("ＡＩＧＥＲＩＭ", "admin", GOOD), "user_exists")
    assert (await acc.login("AIGERIM", GOOD)).username == "aigerim"
    assert (await acc.login("ａｉｇｅｒｉｍ", GOOD)).username == "aigerim"


@pytest.mark.parametrize("shadow", ["аdmin", "admіn", "аdmіn"])
async def test_a_name_in_another_script_that_looks_the_same_is_refused(db: str, shadow: str) -> None:
    acc = Accounts(Policy(), Journal())
    await acc.add("admin", "admin", GOOD)
    with pytest.raises(OtolaneError) as err:
        await acc.add(shadow, "operator", GOOD)
    # Mixed scripts are refused as a bad name; a name all in one script as a look-alike.
    assert err.value.code in ("username_bad", "username_confusable")
    assert await User.all().count() == 1


async def test_an_all_cyrillic_twin_of_a_latin_name_is_refused_as_confusable(db: str) -> None:
    acc = Accounts(Policy(), Journal())
    await acc.add("cop", "operator", GOOD)
    err = await _refused(acc.add("сор", "operator", GOOD), "username_confusable")  # all Cyrillic
    assert err.params["existing"] == "cop"
    await acc.add("сәуле", "operator", GOOD)  # a genuinely Kazakh name is welcome


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "1–32"),
        ("x" * 33, "1–32"),
        ("1admin", "starts with a letter"),
        ("ad min", "' ' cannot"),
        ("ad\u202emin", "cannot"),
        ("ἀδμιν", "Latin or Cyrillic"),
    ],
)
async def test_bad_names_are_refused_with_the_reason(db: str, name: str, why: str) -> None:
    acc = Accounts(Policy(), Journal())
    err = await _refused(acc.add(name, "operator", GOOD), "username_bad")
    assert why in str(err)
    assert await User.all().count() == 0


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("          ", "password_blank"),
        ("\t\t\t\t\t\t\t\t\t\t\t", "password_blank"),
        ("aaaaaaaaaaaa", "password_repeated"),
        ("abababababab1", "password_repeated"),
        ("1111111111111", "password_repeated"),
        ("short-1", "password_too_short"),
        ("x" * 300 + "1-", "password_too_long"),
        ("Good\x00pass-2026", "password_control_char"),
        ("nodigitsornothing", "password_needs_mix"),
        ("Aigerim-2026-x", "password_has_username"),
    ],
)
async def test_weak_passwords_are_refused(db: str, password: str, code: str) -> None:
    acc = Accounts(Policy(), Journal())
    await _refused(acc.add("aigerim", "operator", password), code)
    assert await User.all().count() == 0


async def test_unknown_and_known_users_cost_the_same_to_refuse(db: str) -> None:
    """One Argon2 operation on every refusal path, so timing tells nothing about who exists."""
    acc = Accounts(Policy(lockout_after=100), Journal())
    await acc.add("bolat", "technician", GOOD)
    await acc.add("dana", "operator", GOOD)
    await acc.set_disabled("dana", True, "admin")
    cases = [("nobody", GOOD), ("bolat", "wrong-pass-0000"), ("dana", GOOD), ("x" * 5000, GOOD)]
    for name, pw in cases:
        before = credentials.KDF_RUNS[0]
        with pytest.raises(OtolaneError):
            await acc.login(name, pw)
        assert credentials.KDF_RUNS[0] - before == 1, name[:10]
    before = credentials.KDF_RUNS[0]
    await acc.login("bolat", GOOD)
    assert credentials.KDF_RUNS[0] - before == 1


async def test_lock_and_role_change_end_live_sessions(db: str) -> None:
    acc = Accounts(Policy(), Journal())
    await acc.add("bolat", "technician", GOOD)
    await acc.add("aigerim", "operator", GOOD)
    s1 = await acc.login("bolat", GOOD)
    s2 = await acc.login("aigerim", GOOD)
    await acc.set_disabled("bolat", True, "admin")
    assert acc.session(s1.token) is None  # gone at once, not at the next sweep
    assert acc.session(s2.token) is not None
    await acc.set_role("aigerim", "admin", "admin")
    assert acc.session(s2.token) is None
    again = await acc.login("aigerim", GOOD)
    assert again.role == "admin"
    actions = [e.action for e in await JournalEntry.all().order_by("seq")]
    assert actions.count("session_ended") == 2
    assert "user_role_changed" in actions and "user_locked" in actions


async def test_unlock_clears_a_lock_out(db: str) -> None:
    acc = Accounts(Policy(lockout_after=3, lockout_minutes=15), Journal())
    await acc.add("bolat", "technician", GOOD)
    for code in ("login_failed", "login_failed", "account_locked"):
        await _refused(acc.login("bolat", "wrong-pass-0000"), code)
    await _refused(acc.login("bolat", GOOD), "account_locked")
    await acc.set_disabled("bolat", False, "admin")
    assert (await acc.login("bolat", GOOD)).username == "bolat"


async def test_a_session_ends_when_the_password_changes_behind_it(db: str) -> None:
    acc = Accounts(Policy(), Journal())
    await acc.add("bolat", "technician", GOOD)
    s = await acc.login("bolat", GOOD)
    await acc.change_password("bolat", None, "Other-Pass-2026", "admin")  # an admin reset
    assert not await acc.still_valid(s)
    assert acc.session(s.token) is None


async def test_an_expired_password_must_be_changed_and_history_reaches_back(db: str) -> None:
    """R3.17: a 30-day-old password opens a session that must change it; the last five passwords
    (not only the current one) cannot come back."""
    acc = Accounts(Policy(history=3), Journal())
    await acc.add("aigerim", "operator", "First-pass-2026")
    await User.filter(username="aigerim").update(pw_changed_at=time.time() - 31 * DAY)
    assert (await acc.login("aigerim", "First-pass-2026")).must_change
    await User.filter(username="aigerim").update(pw_changed_at=time.time() - 29 * DAY)
    assert not (await acc.login("aigerim", "First-pass-2026")).must_change
    logins = await JournalEntry.filter(action="login").order_by("seq").values_list("details", flat=True)
    # the journal says an expired password was used (a key named "password…" would be redacted)
    assert [(d["method"], d["expired"]) for d in logins] == [("password", True), ("password", False)]
    await acc.change_password("aigerim", "First-pass-2026", "Second-pass-2026", "aigerim")
    await acc.change_password("aigerim", "Second-pass-2026", "Third-pass-2026", "aigerim")
    await _refused(
        acc.change_password("aigerim", "Third-pass-2026", "First-pass-2026", "aigerim"), "password_reused"
    )
    await acc.change_password("aigerim", "Third-pass-2026", "Fourth-pass-2026", "aigerim")
    # history 3: First has now fallen out of it
    await acc.change_password("aigerim", "Fourth-pass-2026", "First-pass-2026", "aigerim")


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("UPDATE users SET role = 'admin' WHERE username = 'aigerim'", "role"),
        ("UPDATE users SET disabled = FALSE WHERE username = 'aigerim'", "locked"),
        (
            "UPDATE users SET pw_hash = (SELECT pw_hash FROM users WHERE username = 'bolat') "
            "WHERE username = 'aigerim'",
            "password",
        ),
    ],
)
async def test_an_account_edited_behind_the_software_cannot_log_in(db: str, sql: str, problem: str) -> None:
    """Issue #7 item 3: users.role, users.disabled and the password hash are held against the
    journal's chained account events; an edited row refuses the login and raises the alarm."""
    acc = Accounts(Policy(), Journal())
    await acc.add("aigerim", "operator", GOOD)
    await acc.add("bolat", "technician", "Other-Pass-2026")
    if "disabled" in sql:
        await acc.set_disabled("aigerim", True, "admin")
    await connections.get("default").execute_script(sql)
    pw = "Other-Pass-2026" if "pw_hash" in sql else GOOD
    err = await _refused(acc.login("aigerim", pw), "account_record_mismatch")
    assert err.status == 401
    alarm = await JournalEntry.filter(action="integrity_alarm").first()
    assert alarm is not None and any(problem in p for p in alarm.details["problems"])


async def test_every_account_action_is_journalled_with_who_and_what(db: str) -> None:
    """R10.6, R3.15: each account action leaves its entry — the actor, the action and its details —
    and never a password; logging out ends the session."""
    acc = Accounts(Policy(lockout_after=2), Journal())
    await acc.add("aigerim", "operator", GOOD, "Aigerim S.", by="admin")
    s = await acc.login("aigerim", GOOD)
    await _refused(acc.login("nobody", GOOD), "login_failed")
    await _refused(
        acc.change_password("aigerim", "not-the-old-1", "Other-Pass-2026", "aigerim"), "password_old_wrong"
    )
    await acc.change_password("aigerim", GOOD, "Other-Pass-2026", "aigerim")
    assert not s.must_change and acc.session(s.token) is not None  # one's own change keeps the session
    await acc.logout(s.token)
    assert acc.session(s.token) is None
    await acc.logout(s.token)  # twice: nothing more happens
    for code in ("login_failed", "account_locked"):  # the second failure locks, and says so
        await _refused(acc.login("aigerim", "wrong-pass-0000"), code)
    await _refused(acc.login("aigerim", "Other-Pass-2026"), "account_locked")
    await acc.set_disabled("aigerim", True, "admin")
    await _refused(acc.login("aigerim", "Other-Pass-2026"), "account_disabled")
    await acc.set_disabled("aigerim", False, "admin")
    await acc.set_role("aigerim", "technician", "admin")
    await acc.set_role("aigerim", "technician", "admin")  # no change: no entry
    rows = [(e.actor, e.action, e.details) for e in await JournalEntry.all().order_by("seq")]
    got = [(a, act, {k: v for k, v in d.items() if k not in ("pw_digest", "expired")}) for a, act, d in rows]
    assert got == [
        ("admin", "user_added", {"username": "aigerim", "role": "operator"}),
        ("aigerim", "login", {"role": "operator", "method": "password"}),
        ("nobody", "login_failed", {"reason": "unknown user"}),
        ("aigerim", "password_change_failed", {"username": "aigerim"}),
        ("aigerim", "password_changed", {"username": "aigerim"}),
        ("aigerim", "logout", {}),
        ("aigerim", "login_failed", {"reason": "wrong password"}),
        ("aigerim", "account_locked_out", {}),
        ("aigerim", "login_failed", {"reason": "wrong password"}),
        ("aigerim", "login_failed", {"reason": "locked out"}),
        ("admin", "user_locked", {"username": "aigerim"}),
        ("aigerim", "login_failed", {"reason": "account locked by admin"}),
        ("admin", "user_unlocked", {"username": "aigerim"}),
        ("admin", "user_role_changed", {"username": "aigerim", "role": "technician", "old_role": "operator"}),
    ]
    digests = [d["pw_digest"] for _, act, d in rows if act in ("user_added", "password_changed")]
    assert len(set(digests)) == 2 and all(len(x) == 64 for x in digests)
    text = str(rows)
    assert GOOD not in text and "Other-Pass-2026" not in text and "wrong-pass" not in text
    users = await acc.list()
    assert [(u["username"], u["role"], u["full_name"], u["disabled"], u["locked"]) for u in users] == [
        ("aigerim", "technician", "Aigerim S.", False, False)
    ]
    assert users[0]["password_days_left"] in (29, 30)


async def test_unknown_users_and_roles_are_refused_by_name(db: str) -> None:
    acc = Accounts(Policy(), Journal())
    await _refused(acc.add("aigerim", "superuser", GOOD), "role_unknown")
    await _refused(acc.set_disabled("ghost", True, "admin"), "user_unknown")
    await _refused(acc.set_role("ghost", "admin", "admin"), "user_unknown")
    await acc.add("aigerim", "operator", GOOD)
    await _refused(acc.set_role("aigerim", "root", "admin"), "role_unknown")
    await _refused(acc.add("aigerim", "operator", GOOD), "user_exists")
    await _refused(acc.add("bolat", "operator", GOOD, "x" * 201), "field_too_long")
    assert await User.filter(username="bolat").count() == 0
    assert await JournalEntry.all().count() == 1


async def test_binding_an_nca_key_is_journalled_by_digest_and_ends_the_user_s_sessions(db: str) -> None:
    """R3.1, issue #10: the sealed IIN is stored, the journal keeps its digest (never the IIN), and a
    session opened before the binding ends at once."""
    from app import ledger

    acc = Accounts(Policy(), Journal())
    await acc.add("aigerim", "operator", GOOD)
    await acc.add("bolat", "technician", GOOD)
    mine, other = await acc.login("aigerim", GOOD), await acc.login("bolat", GOOD)
    await acc.bind_eds("AIGERIM", b"sealed-iin", "admin")
    assert bytes((await User.get(username="aigerim")).eds_iin) == b"sealed-iin"
    entry = await JournalEntry.filter(action="user_eds_bound").first()
    assert entry is not None and entry.actor == "admin"
    assert entry.details == {"username": "aigerim", "iin_digest": ledger.digest(b"sealed-iin".hex())}
    assert acc.session(mine.token) is None and acc.session(other.token) is not None
    again = await acc.login("aigerim", GOOD)  # the record and the journal agree: the login goes
    assert again.binding == ledger.digest(b"sealed-iin".hex())
    await _refused(acc.bind_eds("ghost", b"x", "admin"), "user_unknown")


async def test_the_account_list_counts_whole_days_left_and_below_zero_once_expired(db: str) -> None:
    """R3.17: the administrator sees how many whole days a password has left; one that expired half
    a day ago shows −1, not 0 (it must be changed now)."""
    acc = Accounts(Policy(max_age_days=30), Journal())
    await acc.add("aigerim", "operator", GOOD)
    await acc.add("bolat", "technician", GOOD)
    now = time.time()
    await User.filter(username="aigerim").update(pw_changed_at=now - 30.5 * DAY)
    await User.filter(username="bolat").update(pw_changed_at=now - 9.5 * DAY, locked_until=now + 60)
    rows = await acc.list()
    assert [r["username"] for r in rows] == ["aigerim", "bolat"]  # the soonest to expire first
    assert [r["password_days_left"] for r in rows] == [-1, 20]
    assert [r["locked"] for r in rows] == [False, True]
    assert rows[0]["password_expires"] == pytest.approx(now - 0.5 * DAY, abs=5)


async def test_an_unknown_role_is_named_cut_to_16_characters(db: str) -> None:
    acc = Accounts(Policy(), Journal())
    await acc.add("aigerim", "operator", GOOD)
    for call in (acc.add("bolat", "r" * 20, GOOD), acc.set_role("aigerim", "r" * 20, "admin")):
        err = await _refused(call, "role_unknown")
        assert err.params == {"role": "r" * 16} and err.message == "unknown role " + "r" * 16


def test_the_policy_is_read_from_the_security_section_field_by_field() -> None:
    sec = {
        "password_max_age_days": 31,
        "password_history": 6,
        "password_min_length": 12,
        "lockout_after": 4,
        "lockout_minutes": 17,
        "session_idle_minutes": 45,
    }
    assert Policy.from_config(sec) == Policy(31, 6, 12, 4, 17, 45)


async def test_unlocking_clears_the_lock_out_and_the_failed_count(db: str) -> None:
    acc = Accounts(Policy(lockout_after=5), Journal())
    await acc.add("bolat", "technician", GOOD)
    for _ in range(2):
        await _refused(acc.login("bolat", "wrong-pass-0000"), "login_failed")
    await User.filter(username="bolat").update(locked_until=time.time() + 600)
    await acc.set_disabled("bolat", False, "admin")
    user = await User.get(username="bolat")
    assert (user.locked_until, user.failed_logins, user.disabled) == (0.0, 0, False)
    await acc.set_disabled("bolat", True, "admin")
    user = await User.get(username="bolat")
    assert user.disabled and user.locked_until == 0.0


async def test_a_reused_password_names_how_far_back_and_a_change_clears_a_lock_out(db: str) -> None:
    acc = Accounts(Policy(history=4), Journal())
    await acc.add("aigerim", "operator", GOOD)
    err = await _refused(acc.change_password("aigerim", GOOD, GOOD, "aigerim"), "password_reused")
    assert err.params == {"count": 4} and err.message == "a recent password cannot be reused"
    await User.filter(username="aigerim").update(locked_until=time.time() + 600)
    await acc.change_password("aigerim", None, "Other-Pass-2026", "admin")  # the administrator's reset
    assert (await User.get(username="aigerim")).locked_until == 0.0


async def test_a_sweep_ends_only_the_sessions_whose_account_changed_behind_it(db: str) -> None:
    """R3.17, issue #7 item 7: an account changed by another process on the same database (the CLI's
    ``otolane user lock``) ends its sessions at the daemon's next sweep, said once with the reason;
    the others stay; checking a session already ended says nothing more."""
    acc = Accounts(Policy(), Journal())
    await acc.add("bolat", "technician", GOOD)
    await acc.add("aigerim", "operator", GOOD)
    s1 = await acc.login("bolat", GOOD)
    s2 = await acc.login("aigerim", GOOD)
    assert await acc.sweep() == set()
    await User.filter(username="bolat").update(disabled=True)
    assert await acc.sweep() == {s1.token}
    assert acc.session(s1.token) is None and acc.session(s2.token) is s2
    assert not await acc.still_valid(s1)
    ended = await JournalEntry.filter(action="session_ended").values_list("actor", "details")
    assert ended == [("bolat", {"reason": "account changed"})]


async def test_a_session_idle_past_the_policy_ends_and_one_in_use_stays(db: str) -> None:
    """R3.17: a session unused for longer than ``session_idle_minutes`` is gone; each use renews it."""
    acc = Accounts(Policy(idle_minutes=15), Journal())
    await acc.add("bolat", "technician", GOOD)
    s = await acc.login("bolat", GOOD)
    s.last_seen = time.monotonic() - 15 * 60 + 30  # half a minute before the limit
    assert acc.session(s.token) is s
    assert time.monotonic() - s.last_seen < 5  # the use renewed it
    s.last_seen = time.monotonic() - 15 * 60 - 5
    assert acc.session(s.token) is None
    assert acc.session(s.token) is None  # and stays gone


async def test_a_name_of_the_longest_length_is_found_and_one_letter_more_is_no_one(db: str) -> None:
    acc = Accounts(Policy(), Journal())
    name = "a" * credentials.MAX_USERNAME
    await acc.add(name, "operator", GOOD)
    assert (await acc.get(name.upper())).username == name
    await _refused(acc.get(name + "b"), "user_unknown")
    assert (await acc.login(name, GOOD)).username == name
    await _refused(acc.login(name + "b", GOOD), "login_failed")


async def test_a_lock_out_lasts_its_minutes_and_counts_afresh_after_it(db: str) -> None:
    """R3.17: after ``lockout_after`` wrong passwords the account is closed for ``lockout_minutes``
    (the refusal says how many are left), each refusal a 401; once it has passed, the count of
    failures starts again from nothing."""
    acc = Accounts(Policy(lockout_after=3, lockout_minutes=15), Journal())
    await acc.add("bolat", "technician", GOOD)
    for left in (2, 1):
        err = await _refused(acc.login("bolat", "wrong-pass-0000"), "login_failed")
        assert (err.status, err.params) == (401, {"left": left, "minutes": 15})  # issue #23 (6)
    assert (await User.get(username="bolat")).failed_logins == 2
    before = time.time()
    err = await _refused(acc.login("bolat", "wrong-pass-0000"), "account_locked")
    assert err.params == {"minutes": 15}  # the failure that locks says so
    user = await User.get(username="bolat")
    assert before + 15 * 60 <= user.locked_until <= time.time() + 15 * 60
    assert user.failed_logins == 0
    err = await _refused(acc.login("bolat", GOOD), "account_locked")
    assert (err.status, err.params["minutes"]) == (401, 15)
    await User.filter(username="bolat").update(locked_until=time.time() - 1)  # the quarter hour passed
    await _refused(acc.login("bolat", "wrong-pass-0000"), "login_failed")
    assert (await User.get(username="bolat")).failed_logins == 1  # not locked again at once
    assert (await acc.login("bolat", GOOD)).username == "bolat"
    unknown = await _refused(acc.login("nobody", GOOD), "login_failed")
    assert unknown.status == 401


async def test_a_name_that_is_no_account_is_answered_as_an_account_is(db: str) -> None:
    """Issue #23 (6), R3.17: the refusals say how many attempts are left, then that the name is
    locked — for a name that is no account exactly as for one, so they tell no one which names exist."""
    acc = Accounts(Policy(lockout_after=3, lockout_minutes=15), Journal())
    await acc.add("bolat", "technician", GOOD)

    async def answers(name: str) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for _ in range(4):
            err = await _refused(acc.login(name, "wrong-pass-0000"), None)
            out.append((err.code, err.params))
        return out

    real, phantom = await answers("bolat"), await answers("nobody")
    assert (
        real
        == phantom
        == [
            ("login_failed", {"left": 2, "minutes": 15}),
            ("login_failed", {"left": 1, "minutes": 15}),
            ("account_locked", {"minutes": 15}),
            ("account_locked", {"minutes": 15}),
        ]
    )
    assert acc.unknown.seen.keys() == {"nobody"}  # the real account is counted in its row, not here
    small = UnknownNames(cap=2)
    for name in ("a", "b", "c"):
        small.failed(name, 0.0, acc.policy)
    assert list(small.seen) == ["b", "c"]  # bounded: a flood of names costs no memory


async def test_a_password_is_hashed_once_with_a_fresh_16_byte_salt(db: str) -> None:
    """R10.2: Argon2id in PHC form, m=32 MiB, t=2, p=1, a 16-byte salt of its own; one KDF run per
    hash (the count the equal-work test relies on); a session token of 32 random bytes."""
    import base64

    acc = Accounts(Policy(), Journal())
    before = credentials.KDF_RUNS[0]
    await acc.add("bolat", "technician", GOOD)
    assert credentials.KDF_RUNS[0] - before == 1
    await acc.add("dana", "operator", GOOD)
    hashes = [u.pw_hash for u in await User.all().order_by("username")]
    params, salts = set(), set()
    for h in hashes:
        _, algorithm, version, cost, salt, digest = h.split("$")
        params.add((algorithm, version, cost))
        salts.add(salt)
        assert len(base64.b64decode(salt + "=" * (-len(salt) % 4))) == 16
        assert len(base64.b64decode(digest + "=" * (-len(digest) % 4))) == 32
    assert params == {("argon2id", "v=19", "m=32768,t=2,p=1")} and len(salts) == 2
    session = await acc.login("bolat", GOOD)
    assert len(session.token) == 43  # token_urlsafe(32)


async def test_a_lock_out_says_the_minutes_left_rounded_up(db: str) -> None:
    """R3.17: two minutes and a fraction left are said as three."""
    acc = Accounts(Policy(), Journal())
    await acc.add("bolat", "technician", GOOD)
    await User.filter(username="bolat").update(locked_until=time.time() + 120.5)
    err = await _refused(acc.login("bolat", GOOD), "account_locked")
    assert err.params["minutes"] == 3


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Ab1-xxxxxx", None),  # exactly the minimum length, exactly five distinct characters
        ("Ab1-xxxxx", "password_too_short"),
        ("Ab1-" + "x" * 252, None),  # exactly the longest
        ("Ab1-" + "x" * 253, "password_too_long"),
        ("Ab1-Ab1-Ab", "password_repeated"),  # four distinct characters
        ("Abcdefghij", "password_needs_mix"),  # letters only
        ("Abcdefghi1", None),  # two kinds are enough
    ],
)
def test_password_rules_hold_at_their_edges(password: str, reason: str | None) -> None:
    """R3.17: each rule at its boundary (the policy's minimum 10, at most 256, 5 distinct, 2 kinds)."""
    assert credentials.weak_reason(Policy(), "someone", password) == reason


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a", None),
        ("a" * 32, None),
        ("a" * 33, "a user name is 1–32 characters"),
        ("dana1", None),  # digits belong to no script
        ("1dana", "a user name starts with a letter"),
        ("dana日本", "a user name is written in Latin or Cyrillic letters"),
        ("danaдана", "a user name is written in one script, not Latin and Cyrillic mixed"),
    ],
)
def test_user_names_at_their_edges(name: str, problem: str | None) -> None:
    assert credentials.username_problem(name) == problem


async def test_a_refused_account_says_the_limits_it_broke(db: str) -> None:
    """Issue #7 item 7: the refusal carries the limit the screen names in the user's language."""
    acc = Accounts(Policy(), Journal())
    err = await _refused(acc.add("1dana", "operator", GOOD), "username_bad")
    assert err.params == {"max": 32}
    err = await _refused(acc.add("dana", "operator", "short-1"), "password_too_short")
    assert err.params == {"min_length": 10, "distinct": 5}
    err = await _refused(acc.add("dana", "operator", GOOD, full_name="Ж" * 201), "field_too_long")
    assert err.params == {"field": "full_name", "max": 200}
    await acc.add("dana", "operator", GOOD, full_name="Ж" * 200)
    await acc.add("erlan", "operator", GOOD)
    names = {u["username"]: u["full_name"] for u in await acc.list()}
    assert names == {"dana": "Ж" * 200, "erlan": ""}
    added = await JournalEntry.filter(action="user_added").values_list("actor", flat=True)
    assert added == ["system", "system"]  # added with no one named: the system did it

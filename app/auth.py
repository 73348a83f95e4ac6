"""Local accounts: Argon2id hashes, roles, expiry (R3.17), history, lock-out; sessions.

A role gives a default set of permissions (R10.3): an operator runs inspections, a technician looks
after the devices, an administrator manages users and reads the journal; an administrator grants or
withdraws single permissions per person (R10.4, R10.5; ``app/rights.py``). The daemon checks the
permission on every call (see ``app/api/server.py``); the screens never decide. How a user name is
written and a password kept and judged: ``app/credentials.py``.

Guarantees, and why:

* A user name is compared after Unicode normalisation (NFKC, case folded) and must be of one script;
  a name that *looks* like an existing one (Cyrillic ``а`` for Latin ``a``, by Unicode's confusables
  table) is refused, so no one can shadow ``admin`` on a screen or in the journal.
* Every refusal of a login costs the same one Argon2 operation as a success, so the time taken does
  not tell a known user from an unknown one, nor a locked account from a wrong password.
* A session is checked against its account on every call and once a second for open streams: a lock,
  a role change or a password set by the administrator (also from the command line, another process)
  ends it at once; a right granted or withdrawn holds from the next call.
* The journal records each account's role, lock and password digest (``app/ledger.py``); a login
  whose account row the journal does not back is refused and raises an integrity alarm.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from app import ledger, rights
from app.credentials import (
    DUMMY_HASH,
    MAX_FULL_NAME,
    MAX_PASSWORD,
    MAX_USERNAME,
    MIN_DISTINCT,
    Policy,
    check_password,
    hash_password,
    normalise_username,
    skeleton,
    username_problem,
    weak_reason,
)
from app.errors import OtolaneError
from app.journal import Journal
from app.storage.db import write_tx
from app.storage.models import User

ROLES = rights.ROLES
DAY = 86400.0


@dataclass
class Session:
    token: str
    username: str
    role: str
    must_change: bool
    pw_digest: str = ""
    last_seen: float = field(default_factory=time.monotonic)
    #: how the session was opened: "password" or "eds" (an NCA key, R3.1)
    method: str = "password"
    #: the employee's admitted NCA signer for an "eds" session (in memory only, never stored)
    signer: Any = field(default=None, repr=False)
    #: digest of the account's key binding when the session opened (a re-binding ends it)
    binding: str = ""
    #: the person's permissions as the account says now (read again on every call)
    permissions: frozenset[str] = frozenset()
    #: where the session was opened: the terminal and the client's address (``app/activity.py``)
    where: dict[str, str] = field(default_factory=dict)

    def may(self, permission: str) -> bool:
        return permission in self.permissions


def _binding(user: User) -> str:
    return ledger.digest(bytes(user.eds_iin).hex()) if user.eds_iin else ""


class UnknownNames:
    """Failed logins under names that are no account, counted as an account's are: the answer to a
    wrong login says how many attempts are left, then that the name is locked — for a name that is no
    account too, so the answers do not tell which names exist. Kept in memory, the newest ``cap``."""

    def __init__(self, cap: int = 1024) -> None:
        self.cap = cap
        self.seen: OrderedDict[str, tuple[int, float]] = OrderedDict()  # name → (failures, locked until)

    def locked_until(self, name: str) -> float:
        return self.seen.get(name, (0, 0.0))[1]

    def failed(self, name: str, now: float, policy: Policy) -> int:
        """Count a failure; the attempts left (0: locked from now on)."""
        count = self.seen.pop(name, (0, 0.0))[0] + 1
        locked = count >= policy.lockout_after
        self.seen[name] = (0, now + policy.lockout_minutes * 60) if locked else (count, 0.0)
        while len(self.seen) > self.cap:
            self.seen.popitem(last=False)
        return 0 if locked else policy.lockout_after - count


class Accounts:
    def __init__(self, policy: Policy, journal: Journal) -> None:
        self.policy = policy
        self.journal = journal
        self.sessions: dict[str, Session] = {}
        self.unknown = UnknownNames()

    def _weak(self, username: str, password: str) -> None:
        weak = weak_reason(self.policy, username, password)
        if weak:
            raise OtolaneError(
                weak, "password rejected", min_length=self.policy.min_length, distinct=MIN_DISTINCT
            )

    async def get(self, username: str) -> User:
        """The account of a user name (normalised as at login), or ``user_unknown``."""
        user = await User.get_or_none(username=normalise_username(username)[: MAX_USERNAME + 1])
        if user is None:
            raise OtolaneError("user_unknown", "no such user", username=username[:MAX_USERNAME])
        return user

    async def add(
        self,
        username: str,
        role: str,
        password: str,
        full_name: str = "",
        by: str = "system",
        temporary: bool = False,
    ) -> None:
        """``temporary``: the password is one the administrator gave; the user changes it at the
        first log-in."""
        if role not in ROLES:
            raise OtolaneError("role_unknown", f"unknown role {role[:16]}", role=role[:16])
        name = normalise_username(username)
        problem = username_problem(name)
        if problem:
            raise OtolaneError("username_bad", problem, max=MAX_USERNAME)
        if len(full_name) > MAX_FULL_NAME:
            raise OtolaneError(
                "field_too_long", "the full name is too long", field="full_name", max=MAX_FULL_NAME
            )
        shape = skeleton(name)
        for existing in await User.all().values_list("username", flat=True):
            if existing == name:
                raise OtolaneError("user_exists", f"user {name} exists", username=name)
            if skeleton(str(existing)) == shape:
                raise OtolaneError(
                    "username_confusable",
                    f"'{name}' looks like the existing user '{existing}'",
                    username=name,
                    existing=existing,
                )
        self._weak(name, password)
        now = time.time()
        h = hash_password(password)
        async with write_tx() as tx:
            await User.create(
                username=name,
                role=role,
                full_name=full_name,
                pw_hash=h,
                pw_changed_at=0.0 if temporary else now,
                pw_history=[h],
                created_at=now,
                using_db=tx,
            )
            await self.journal.write(
                by, "user_added", tx, username=name, role=role, pw_digest=ledger.digest(h)
            )

    async def _record_problems(self, user: User) -> list[str]:
        expected = ledger.expected_accounts(
            (e.action, e.details) for e in await Journal.events(*ledger.USER_ACTIONS)
        )
        row = {
            "username": user.username,
            "role": user.role,
            "disabled": user.disabled,
            "pw_hash": user.pw_hash,
            "eds_iin": user.eds_iin,
            "rights": user.rights,
        }
        return ledger.account_problems(row, expected.get(user.username))

    async def login(self, username: str, password: str) -> Session:
        name = normalise_username(username)[: MAX_USERNAME + 1]
        user = await User.get_or_none(username=name)
        now = time.time()
        # One Argon2 operation on every path, whatever the outcome (see the module's docstring).
        right = check_password(password[:MAX_PASSWORD], user.pw_hash if user else DUMMY_HASH)
        if user is None:
            await self.journal.write(name[:MAX_USERNAME], "login_failed", reason="unknown user")
            if self.unknown.locked_until(name) > now:
                raise self._locked(self.unknown.locked_until(name), now)
            raise self._wrong(self.unknown.failed(name, now, self.policy), now)
        await self.refuse_closed(user, now)
        if not right:
            user.failed_logins += 1
            locked = user.failed_logins >= self.policy.lockout_after
            left = self.policy.lockout_after - user.failed_logins
            if locked:
                user.locked_until = now + self.policy.lockout_minutes * 60
                user.failed_logins = left = 0
            async with write_tx() as tx:
                await user.save(using_db=tx)
                if locked:
                    await self.journal.write(name, "account_locked_out", tx)
                await self.journal.write(name, "login_failed", tx, reason="wrong password")
            raise self._wrong(left, now)
        expired = now - user.pw_changed_at > self.policy.max_age_days * DAY
        return await self.open_session(user, expired, "password", expired=expired)

    async def refuse_closed(self, user: User, now: float) -> None:
        """Refuse (and journal) a login to an account the administrator or a lock-out closed."""
        if user.disabled:
            await self.journal.write(user.username, "login_failed", reason="account locked by admin")
            raise OtolaneError("account_disabled", "account locked by the administrator", status=401)
        if user.locked_until > now:
            await self.journal.write(user.username, "login_failed", reason="locked out")
            raise self._locked(user.locked_until, now)

    def _wrong(self, left: int, now: float) -> OtolaneError:
        """A wrong name or password, with the attempts left before the lock (issue #23 (6))."""
        if left <= 0:
            return self._locked(now + self.policy.lockout_minutes * 60, now)
        return OtolaneError(
            "login_failed",
            "wrong user name or password",
            status=401,
            left=left,
            minutes=self.policy.lockout_minutes,
        )

    @staticmethod
    def _locked(until: float, now: float) -> OtolaneError:
        minutes = int((until - now) / 60) + (1 if (until - now) % 60 else 0)
        return OtolaneError("account_locked", "too many failed logins", status=401, minutes=max(minutes, 1))

    async def open_session(
        self, user: User, must_change: bool, method: str, signer: Any = None, **details: Any
    ) -> Session:
        """A session for an account whose record the journal backs; the login is journalled."""
        problems = await self._record_problems(user)
        if problems:
            await self.journal.write(user.username, "integrity_alarm", problems=problems)
            raise OtolaneError(
                "account_record_mismatch",
                "this account's record does not match the journal; the administrator must check the "
                "lane's integrity (otolane integrity check)",
                status=401,
            )
        user.failed_logins = 0
        await user.save(update_fields=["failed_logins"])
        s = Session(
            secrets.token_urlsafe(32),
            user.username,
            user.role,
            must_change,
            ledger.digest(user.pw_hash),
            method=method,
            signer=signer,
            binding=_binding(user),
            permissions=rights.effective(user.role, user.rights),
        )
        self.sessions[s.token] = s
        await self.journal.write(user.username, "login", role=user.role, method=method, **details)
        return s

    async def bind_eds(self, username: str, sealed_iin: bytes, by: str) -> None:
        """Bind an NCA key's IIN (sealed by the caller under the data key) to an account."""
        user = await self.get(username)
        user.eds_iin = sealed_iin
        async with write_tx() as tx:
            await user.save(using_db=tx)
            await self.journal.write(
                by, "user_eds_bound", tx, username=user.username, iin_digest=ledger.digest(sealed_iin.hex())
            )
        await self.sweep()

    def session(self, token: str) -> Session | None:
        s = self.sessions.get(token)
        if s is None:
            return None
        if time.monotonic() - s.last_seen > self.policy.idle_minutes * 60:
            del self.sessions[token]
            return None
        s.last_seen = time.monotonic()
        return s

    async def still_valid(self, s: Session) -> bool:
        """The account as it is now still allows this session: it exists, is not locked, has the
        role the session was opened with and the password it was opened with. Otherwise it ends."""
        user = await User.get_or_none(username=s.username)
        ok = (
            user is not None
            and not user.disabled
            and user.role == s.role
            and ledger.digest(user.pw_hash) == s.pw_digest
            and _binding(user) == s.binding
        )
        if not ok and self.sessions.pop(s.token, None) is not None:
            await self.journal.write(s.username, "session_ended", reason="account changed")
        if ok and user is not None:
            s.permissions = rights.effective(user.role, user.rights)
        return ok

    async def sweep(self) -> set[str]:
        """Check every open session (once a second from the daemon); the tokens that ended."""
        ended = set()
        for s in list(self.sessions.values()):
            if not await self.still_valid(s):
                ended.add(s.token)
        return ended

    async def logout(self, token: str, **details: Any) -> None:
        s = self.sessions.pop(token, None)
        if s:
            await self.journal.write(s.username, "logout", **details)

    async def change_password(
        self, username: str, old: str | None, new: str, by: str, temporary: bool = False
    ) -> None:
        """``old`` None: set by the administrator; ``temporary``: the user must change it at the next
        log-in (a password someone else knows is no one's own)."""
        user = await self.get(username)
        if old is not None and not check_password(old[:MAX_PASSWORD], user.pw_hash):
            await self.journal.write(by, "password_change_failed", username=user.username)
            raise OtolaneError("password_old_wrong", "the current password is wrong")
        self._weak(user.username, new)
        if any(check_password(new, h) for h in user.pw_history[-self.policy.history :]):
            raise OtolaneError(
                "password_reused", "a recent password cannot be reused", count=self.policy.history
            )
        h = hash_password(new)
        user.pw_hash = h
        user.pw_changed_at = 0.0 if temporary else time.time()  # 0: expired, changed at the next log-in
        user.pw_history = [*user.pw_history, h][-self.policy.history :]
        user.locked_until = 0.0
        async with write_tx() as tx:
            await user.save(using_db=tx)
            await self.journal.write(
                by,
                "password_changed",
                tx,
                username=user.username,
                pw_digest=ledger.digest(h),
                **({"temporary": True} if temporary else {}),
            )
        for s in self.sessions.values():
            if s.username == user.username and by == user.username:
                s.must_change, s.pw_digest = False, ledger.digest(h)

    async def set_disabled(self, username: str, disabled: bool, by: str) -> None:
        """Lock (ends the user's sessions at once) or unlock (also clears a lock-out)."""
        user = await self.get(username)
        user.disabled = disabled
        if not disabled:
            user.locked_until, user.failed_logins = 0.0, 0
        async with write_tx() as tx:
            await user.save(using_db=tx)
            await self.journal.write(
                by, "user_locked" if disabled else "user_unlocked", tx, username=user.username
            )
        if disabled:
            await self.sweep()

    async def set_role(self, username: str, role: str, by: str) -> None:
        if role not in ROLES:
            raise OtolaneError("role_unknown", f"unknown role {role[:16]}", role=role[:16])
        user = await self.get(username)
        if user.role == role:
            return
        old, user.role = user.role, role
        cleared, user.rights = user.rights, {}  # the person's own rights were beside the old role's
        async with write_tx() as tx:
            await user.save(using_db=tx)
            await self.journal.write(
                by,
                "user_role_changed",
                tx,
                username=user.username,
                role=role,
                old_role=old,
                **({"rights_cleared": cleared} if cleared else {}),
            )
        await self.sweep()

    async def set_right(self, username: str, permission: str, state: str, by: str) -> dict[str, bool]:
        """Grant, withdraw or set back to the role's default one permission of one person (R10.4,
        R10.5); journalled with the person's rights after it. No one changes their own rights.
        The person's own rights after the change."""
        if permission not in rights.BY_NAME:
            raise OtolaneError("permission_unknown", "no such permission", permission=permission[:40])
        if state not in rights.STATES:
            raise OtolaneError("field_type", f"'state' is one of {', '.join(rights.STATES)}", field="state")
        user = await self.get(username)
        if by in (user.username, f"cli:{user.username}"):
            raise OtolaneError("rights_own", "no one changes their own rights", status=409)
        new = rights.changed(user.role, user.rights or {}, permission, state)
        if new == (user.rights or {}):
            return new
        user.rights = new
        async with write_tx() as tx:
            await user.save(using_db=tx)
            await self.journal.write(
                by,
                "user_rights_changed",
                tx,
                username=user.username,
                permission=permission,
                state=state,
                rights=new,
            )
        return new

    async def list(self) -> list[dict[str, Any]]:
        now = time.time()
        out = []
        for u in await User.all().order_by("username"):
            expires = u.pw_changed_at + self.policy.max_age_days * DAY
            out.append(
                {
                    "username": u.username,
                    "role": u.role,
                    "rights": u.rights or {},
                    "permissions": sorted(rights.effective(u.role, u.rights)),
                    "full_name": u.full_name,
                    "disabled": u.disabled,
                    "locked": u.locked_until > now,
                    "password_expires": expires,
                    "password_days_left": int((expires - now) // DAY),
                }
            )
        return sorted(out, key=lambda r: r["password_expires"])

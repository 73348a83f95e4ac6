"""Local accounts: Argon2id hashes, roles, expiry (R3.17), history, lock-out; sessions.

Roles are individual rights (R10.3–R10.5): an operator runs inspections, a technician looks after
the devices, an administrator manages users and reads the journal. The daemon checks the role on
every call (see ``app/api/server.py``); the screens never decide.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from app.errors import OtolaneError
from app.journal import Journal
from app.storage.models import User

ROLES = ("operator", "technician", "admin")
DAY = 86400.0


def hash_password(password: str) -> str:
    kdf = Argon2id(salt=os.urandom(16), length=32, iterations=2, lanes=1, memory_cost=32 * 1024)
    return kdf.derive_phc_encoded(password.encode())


def check_password(password: str, encoded: str) -> bool:
    try:
        Argon2id.verify_phc_encoded(password.encode(), encoded)
        return True
    except (InvalidKey, ValueError):
        return False


@dataclass
class Policy:
    max_age_days: int = 30
    history: int = 5
    min_length: int = 10
    lockout_after: int = 5
    lockout_minutes: int = 15
    idle_minutes: int = 60

    @classmethod
    def from_config(cls, sec: dict[str, Any]) -> Policy:
        return cls(
            sec["password_max_age_days"],
            sec["password_history"],
            sec["password_min_length"],
            sec["lockout_after"],
            sec["lockout_minutes"],
            sec["session_idle_minutes"],
        )


def weak_reason(policy: Policy, username: str, password: str) -> str | None:
    if len(password) < policy.min_length:
        return "password_too_short"
    if username.lower() in password.lower():
        return "password_has_username"
    if password.isalpha() or password.isdigit():
        return "password_needs_mix"
    return None


@dataclass
class Session:
    token: str
    username: str
    role: str
    must_change: bool
    last_seen: float = field(default_factory=time.monotonic)


class Accounts:
    def __init__(self, policy: Policy, journal: Journal) -> None:
        self.policy = policy
        self.journal = journal
        self.sessions: dict[str, Session] = {}

    async def add(
        self, username: str, role: str, password: str, full_name: str = "", by: str = "system"
    ) -> None:
        if role not in ROLES:
            raise OtolaneError("role_unknown", f"unknown role {role}", role=role)
        if not username.isidentifier() and not username.replace("-", "").replace(".", "").isalnum():
            raise OtolaneError("username_bad", "user names are letters, digits, '.', '-'")
        if await User.exists(username=username):
            raise OtolaneError("user_exists", f"user {username} exists", username=username)
        weak = weak_reason(self.policy, username, password)
        if weak:
            raise OtolaneError(weak, "password rejected", min_length=self.policy.min_length)
        now = time.time()
        h = hash_password(password)
        await User.create(
            username=username,
            role=role,
            full_name=full_name,
            pw_hash=h,
            pw_changed_at=now,
            pw_history=[h],
            created_at=now,
        )
        await self.journal.write(by, "user_added", username=username, role=role)

    async def login(self, username: str, password: str) -> Session:
        user = await User.get_or_none(username=username)
        now = time.time()
        bad = OtolaneError("login_failed", "wrong user name or password", status=401)
        if user is None:
            check_password(password, hash_password("x" * 12))  # same time for unknown users
            await self.journal.write(username[:64], "login_failed", reason="unknown user")
            raise bad
        if user.disabled:
            await self.journal.write(username, "login_failed", reason="account locked by admin")
            raise OtolaneError("account_disabled", "account locked by the administrator", status=401)
        if user.locked_until > now:
            await self.journal.write(username, "login_failed", reason="locked out")
            raise OtolaneError(
                "account_locked",
                "too many failed logins",
                status=401,
                minutes=int((user.locked_until - now) / 60) + 1,
            )
        if not check_password(password, user.pw_hash):
            user.failed_logins += 1
            if user.failed_logins >= self.policy.lockout_after:
                user.locked_until = now + self.policy.lockout_minutes * 60
                user.failed_logins = 0
                await self.journal.write(username, "account_locked_out")
            await user.save()
            await self.journal.write(username, "login_failed", reason="wrong password")
            raise bad
        user.failed_logins = 0
        await user.save()
        expired = now - user.pw_changed_at > self.policy.max_age_days * DAY
        s = Session(secrets.token_urlsafe(32), user.username, user.role, must_change=expired)
        self.sessions[s.token] = s
        await self.journal.write(username, "login", role=user.role, password_expired=expired)
        return s

    def session(self, token: str) -> Session | None:
        s = self.sessions.get(token)
        if s is None:
            return None
        if time.monotonic() - s.last_seen > self.policy.idle_minutes * 60:
            del self.sessions[token]
            return None
        s.last_seen = time.monotonic()
        return s

    async def logout(self, token: str) -> None:
        s = self.sessions.pop(token, None)
        if s:
            await self.journal.write(s.username, "logout")

    async def change_password(self, username: str, old: str | None, new: str, by: str) -> None:
        user = await User.get_or_none(username=username)
        if user is None:
            raise OtolaneError("user_unknown", f"no user {username}", username=username)
        if old is not None and not check_password(old, user.pw_hash):
            await self.journal.write(by, "password_change_failed", username=username)
            raise OtolaneError("password_old_wrong", "the current password is wrong")
        weak = weak_reason(self.policy, username, new)
        if weak:
            raise OtolaneError(weak, "password rejected", min_length=self.policy.min_length)
        if any(check_password(new, h) for h in user.pw_history[-self.policy.history :]):
            raise OtolaneError(
                "password_reused", "a recent password cannot be reused", count=self.policy.history
            )
        h = hash_password(new)
        user.pw_hash = h
        user.pw_changed_at = time.time()
        user.pw_history = [*user.pw_history, h][-self.policy.history :]
        user.locked_until = 0.0
        await user.save()
        for s in self.sessions.values():
            if s.username == username:
                s.must_change = False
        await self.journal.write(by, "password_changed", username=username)

    async def set_disabled(self, username: str, disabled: bool, by: str) -> None:
        user = await User.get_or_none(username=username)
        if user is None:
            raise OtolaneError("user_unknown", f"no user {username}", username=username)
        user.disabled = disabled
        await user.save()
        if disabled:
            for tok in [t for t, s in self.sessions.items() if s.username == username]:
                del self.sessions[tok]
        await self.journal.write(by, "user_locked" if disabled else "user_unlocked", username=username)

    async def list(self) -> list[dict[str, Any]]:
        now = time.time()
        out = []
        for u in await User.all().order_by("username"):
            expires = u.pw_changed_at + self.policy.max_age_days * DAY
            out.append(
                {
                    "username": u.username,
                    "role": u.role,
                    "full_name": u.full_name,
                    "disabled": u.disabled,
                    "locked": u.locked_until > now,
                    "password_expires": expires,
                    "password_days_left": int((expires - now) // DAY),
                }
            )
        return sorted(out, key=lambda r: r["password_expires"])

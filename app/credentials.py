"""Credentials of a local account: how a user name is written (one script, no look-alike of
another) and how a password is kept (Argon2id) and judged (the centre's policy: length, mix,
history, expiry, lock-out; R3.17). Pure rules and the one key-derivation function; the accounts
themselves are ``app/auth.py``."""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from typing import Any

from confusable_homoglyphs import categories, confusables
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

MAX_USERNAME = 32
MAX_FULL_NAME = 200
MAX_PASSWORD = 256
#: the scripts a user name may be written in (one of them, not mixed)
SCRIPTS = {"LATIN", "CYRILLIC"}
NAME_PUNCTUATION = set(".-_")
#: how many Argon2 operations ran (a login, refused or not, runs exactly one: the timing test counts)
KDF_RUNS = [0]


def hash_password(password: str) -> str:
    KDF_RUNS[0] += 1
    kdf = Argon2id(salt=os.urandom(16), length=32, iterations=2, lanes=1, memory_cost=32 * 1024)
    return kdf.derive_phc_encoded(password.encode())


def check_password(password: str, encoded: str) -> bool:
    KDF_RUNS[0] += 1
    try:
        Argon2id.verify_phc_encoded(password.encode(), encoded)
        return True
    except (InvalidKey, ValueError):
        return False


#: verified against when the user is unknown, so the refusal costs what a real check costs
DUMMY_HASH = Argon2id(
    salt=b"otolane-dummy-16", length=32, iterations=2, lanes=1, memory_cost=32 * 1024
).derive_phc_encoded(b"never a password")


def normalise_username(text: str) -> str:
    """NFKC and case folding: ``Admin``, ``ＡＤＭＩＮ`` and ``admin`` are one name."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


def username_problem(name: str) -> str | None:
    """Why a (normalised) user name cannot be used, or None."""
    if not 1 <= len(name) <= MAX_USERNAME:
        return f"a user name is 1–{MAX_USERNAME} characters"
    if not name[0].isalpha():
        return "a user name starts with a letter"
    for c in name:
        if not (c.isalnum() or c in NAME_PUNCTUATION):
            return f"'{c}' cannot be in a user name: letters, digits, '.', '-', '_'"
    scripts = categories.unique_aliases(name) - {"COMMON"}
    if not scripts <= SCRIPTS:
        return "a user name is written in Latin or Cyrillic letters"
    if len(scripts) > 1:
        return "a user name is written in one script, not Latin and Cyrillic mixed"
    return None


def skeleton(name: str) -> str:
    """What a name looks like: each character replaced by the smallest of its look-alikes (Unicode's
    confusables table), so ``аdmin`` (Cyrillic а) and ``admin`` have one skeleton."""
    out = []
    for c in name:
        twins = [h["c"] for h in confusables.confusables_data.get(c, ()) if len(h["c"]) == 1]
        out.append(min([c, *twins]))
    return "".join(out)


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


#: a password needs this many different characters (one repeated character is no password)
MIN_DISTINCT = 5


def weak_reason(policy: Policy, username: str, password: str) -> str | None:
    if not password.strip():
        return "password_blank"
    if len(password) < policy.min_length:
        return "password_too_short"
    if len(password) > MAX_PASSWORD:
        return "password_too_long"
    if any(unicodedata.category(c).startswith("C") for c in password):
        return "password_control_char"
    if len(set(password)) < MIN_DISTINCT:
        return "password_repeated"
    if normalise_username(username) in normalise_username(password):
        return "password_has_username"
    classes = sum(
        (
            any(c.isalpha() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < 2:
        return "password_needs_mix"
    return None

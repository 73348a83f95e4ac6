"""The facts the lane's gates, roles and deliveries rest on, held against the chained journal.

State rows change in place — an inspection's steps and status, an account's role, a card's delivery —
and cannot carry a hash chain of their own. Each change is journalled in the same transaction, and
the journal *is* chained (and anchored, ``app/storage/anchor.py``). The pure functions here say what
a state row must be, given its journal entries, and name every difference. The integrity check runs
them over every row (``app/integrity.py``); the daemon over the rows it trusts at once: the open
inspection when it starts, an account at each login.

Facts with no state row at all — the lane clock, a stand's registration — are read from the journal
itself (``app/lane/clock.py``, ``app/lane/stands.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

#: (action, details) of one journal entry, oldest first
Entry = tuple[str, dict[str, Any]]

INSPECTION_ACTIONS = (
    "inspection_started",
    "step_started",
    "step_finished",
    "card_formed",
    "inspection_aborted",
)
#: what ``inspection_started`` records, and the inspection row must still say
INSPECTION_FACTS = ("number", "started", "category", "fuel", "axles", "training", "operator")
USER_ACTIONS = (
    "user_added",
    "user_role_changed",
    "user_locked",
    "user_unlocked",
    "password_changed",
    "user_eds_bound",
    "user_rights_changed",
)
EIS_ACTIONS = {"eis_accepted": "accepted", "eis_rejected": "rejected", "eis_refused_training": "refused"}


def digest(text: str) -> str:
    """What the journal keeps of a password hash: enough to recognise it, nothing to attack it with."""
    return hashlib.sha256(text.encode()).hexdigest()


def by_inspection(entries: Iterable[tuple[int, str, dict[str, Any]]]) -> dict[str, list[Entry]]:
    """(seq, action, details) of inspection events → inspection id → its entries, oldest first."""
    out: dict[str, list[Entry]] = {}
    for _, action, details in sorted(entries, key=lambda e: e[0]):
        iid = details.get("inspection_id")
        if isinstance(iid, str):
            out.setdefault(iid, []).append((action, details))
    return out


def inspection_row(insp: Any) -> dict[str, Any]:
    """An inspection (a model object) as :func:`inspection_problems` compares it."""
    return {
        "number": insp.number,
        "started": insp.started,
        "category": insp.category,
        "fuel": insp.fuel,
        "axles": insp.axles,
        "training": insp.training,
        "operator": insp.operator,
        "status": insp.status,
        "steps": insp.steps,
    }


def inspection_problems(row: dict[str, Any], entries: list[Entry], has_card: bool | None = None) -> list[str]:
    """An inspection row against its journal entries. ``has_card``: whether the cards chain holds
    its card (None: not checked here)."""
    name = f"inspection {row['number']}"
    started = [d for a, d in entries if a == "inspection_started"]
    if not started:
        return [f"{name}: the journal has no inspection_started for it (a row added behind the software)"]
    problems = []
    facts = started[-1]
    for fact in INSPECTION_FACTS:
        if facts.get(fact) != row[fact]:
            problems.append(f"{name}: {fact} is {row[fact]!r}, the journal says {facts.get(fact)!r}")
    actions = [a for a, _ in entries]
    expected = (
        "carded" if "card_formed" in actions else "aborted" if "inspection_aborted" in actions else "open"
    )
    if row["status"] != expected:
        problems.append(f"{name}: status is {row['status']!r}, the journal says {expected!r}")
    if has_card is not None and has_card != (expected == "carded"):
        problems.append(
            f"{name}: the journal says {'a card was' if expected == 'carded' else 'no card was'} formed, "
            f"the cards chain {'has none' if not has_card else 'has one'}"
        )
    finished = {(d.get("step"), d.get("run")): d for a, d in entries if a == "step_finished"}
    for sid, st in (row.get("steps") or {}).items():
        if sid == "identification" or st.get("status") != "done":
            continue
        said = finished.get((sid, st.get("run")))
        if said is None:
            problems.append(
                f"{name}: step {sid} is done, the journal never saw it finish (run {st.get('run')})"
            )
        elif sid == "visual" and sorted(st.get("defects") or []) != sorted(said.get("defects") or []):
            problems.append(
                f"{name}: visual defects are {st.get('defects')!r}, the journal says {said.get('defects')!r}"
            )
    return problems


def expected_accounts(entries: Iterable[Entry]) -> dict[str, dict[str, Any]]:
    """username → role, disabled, password digest, key binding and own rights, as the journal's
    account events leave them (a role change clears the person's own rights)."""
    out: dict[str, dict[str, Any]] = {}
    for action, d in entries:
        name = d.get("username")
        if not isinstance(name, str):
            continue
        if action == "user_added":
            out[name] = {
                "role": d.get("role"),
                "disabled": False,
                "pw_digest": d.get("pw_digest"),
                "rights": {},
            }
        elif name not in out:
            continue
        elif action == "user_role_changed":
            out[name]["role"] = d.get("role")
            out[name]["rights"] = {}
        elif action == "user_rights_changed":
            out[name]["rights"] = d.get("rights") or {}
        elif action in ("user_locked", "user_unlocked"):
            out[name]["disabled"] = action == "user_locked"
        elif action == "password_changed":
            out[name]["pw_digest"] = d.get("pw_digest")
        elif action == "user_eds_bound":
            out[name]["iin_digest"] = d.get("iin_digest")
    return out


def account_problems(row: dict[str, Any], expected: dict[str, Any] | None) -> list[str]:
    name = f"user {row['username']}"
    if expected is None:
        return [f"{name}: the journal never added this account (a row added behind the software)"]
    problems = []
    if row["role"] != expected["role"]:
        problems.append(f"{name}: role is {row['role']!r}, the journal says {expected['role']!r}")
    if bool(row["disabled"]) != expected["disabled"]:
        problems.append(
            f"{name}: the account is {'locked' if row['disabled'] else 'open'}, the journal says "
            f"{'locked' if expected['disabled'] else 'open'}"
        )
    if expected.get("pw_digest") and digest(row["pw_hash"]) != expected["pw_digest"]:
        problems.append(
            f"{name}: the password hash is not the one the journal recorded (set behind the software)"
        )
    if (row.get("rights") or {}) != expected.get("rights", {}):
        problems.append(
            f"{name}: the person's own rights are not the ones the journal recorded (set behind the software)"
        )
    sealed = row.get("eds_iin")
    if (digest(bytes(sealed).hex()) if sealed else None) != expected.get("iin_digest"):
        problems.append(
            f"{name}: the NCA key binding (IIN) is not the one the journal recorded (set behind the software)"
        )
    return problems


def outbox_problems(
    cards: dict[str, bool], rows: dict[str, dict[str, Any]], eis: dict[str, str]
) -> list[str]:
    """``cards``: card id → training, from the cards chain; ``rows``: the outbox by card id;
    ``eis``: card id → the delivery outcome its last EIS journal entry records."""
    problems = []
    for card_id, training in cards.items():
        row = rows.get(card_id)
        if row is None:
            problems.append(f"card {card_id}: no outbox row (it would never reach EIS)")
            continue
        if row["idempotency_key"] != card_id:
            problems.append(f"card {card_id}: idempotency key changed to {row['idempotency_key']!r}")
        if bool(row["training"]) != training:
            problems.append(
                f"card {card_id}: outbox says training={bool(row['training'])}, the card {training}"
            )
        said = eis.get(card_id, "pending")
        if row["status"] != said:
            problems.append(f"card {card_id}: outbox status is {row['status']!r}, the journal says {said!r}")
    for card_id in rows:
        if card_id not in cards:
            problems.append(f"outbox row for card {card_id}: no such card in the cards chain")
    return problems


def eis_outcomes(entries: Iterable[Entry]) -> dict[str, str]:
    out: dict[str, str] = {}
    for action, d in entries:
        if action in EIS_ACTIONS and isinstance(d.get("card_id"), str):
            out[d["card_id"]] = EIS_ACTIONS[action]
    return out

"""Individual rights (Order 532 p. 10(3)–(5): R10.3, R10.4, R10.5): what each person may do.

A role is a default set of permissions; an administrator grants a single permission beyond the role
or withdraws one the role gives, per person (``users.rights``: permission → true granted, false
withdrawn; every change journalled ``user_rights_changed`` and held against the journal by
``app/ledger.py``). Every route of the local API names the one permission it needs
(``app/api/server.py: ROUTES``); the cards add two rules of their own (:func:`card_needs`). Pure data
and functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

OPERATOR, TECHNICIAN, ADMIN = "operator", "technician", "admin"
ROLES = (OPERATOR, TECHNICIAN, ADMIN)
EVERYONE = ROLES


@dataclass(frozen=True)
class Permission:
    name: str
    #: the roles that have it unless it is withdrawn from a person
    roles: tuple[str, ...]
    #: what it allows, for the refusal, the docs and the security target (screens use the catalogs)
    allows: str
    #: what it touches, for the evaluation's rights table: "enter", "correct" or "view" data, or
    #: "resource" (a device, the lane's settings, …) — R10.4 and R10.5
    kind: str


PERMISSIONS: tuple[Permission, ...] = (
    Permission("lane_view", EVERYONE, "see the lane, its stands and cameras", "view"),
    Permission("inspect", (OPERATOR,), "start inspections, run their steps and read plates", "enter"),
    Permission("inspection_abort", (OPERATOR,), "abort an inspection", "correct"),
    Permission("card_form", (OPERATOR,), "review and form (sign) a card", "enter"),
    Permission("card_view", (OPERATOR, ADMIN), "read and print the cards they formed", "view"),
    Permission("card_view_others", (ADMIN,), "read and print the cards others formed", "view"),
    Permission("card_copy", (OPERATOR, ADMIN), "issue a copy of a card (any issue after the first)", "view"),
    Permission("certificate_issue", (OPERATOR, ADMIN), "issue the international certificate", "enter"),
    Permission("eis_queue_view", (OPERATOR, ADMIN), "see the EIS queue", "view"),
    Permission("personal_data_view", (ADMIN,), "see personal data in full (unmasked)", "view"),
    Permission("device_frames", (TECHNICIAN, ADMIN), "read a device's raw frames", "resource"),
    Permission("device_command", (TECHNICIAN,), "send a device its service commands", "resource"),
    Permission("device_replace", (ADMIN,), "replace a device", "resource"),
    Permission("camera_register", (ADMIN,), "register a camera, mark its plate region", "resource"),
    Permission("journal_read", (ADMIN,), "read the journal and the EIS exchanges", "view"),
    Permission("journal_export", (ADMIN,), "export the journal", "view"),
    Permission("activity_view", (ADMIN,), "see the users' activity and the leak alerts", "view"),
    Permission("activity_export", (ADMIN,), "export the users' activity", "view"),
    Permission("integrity_check", (ADMIN,), "run and see the integrity check", "resource"),
    Permission("backup", (ADMIN,), "make and see backups", "resource"),
    Permission("release_view", (ADMIN,), "see the program's release and updates", "resource"),
    Permission("users_manage", (ADMIN,), "manage users and their rights", "resource"),
    Permission("eis_key", (ADMIN,), "install the EIS identification key", "resource"),
    Permission("settings", (ADMIN,), "see and change the lane's settings", "resource"),
)
BY_NAME: dict[str, Permission] = {p.name: p for p in PERMISSIONS}
NAMES = tuple(BY_NAME)


def by_role(role: str) -> frozenset[str]:
    """The permissions a role gives by default."""
    return frozenset(p.name for p in PERMISSIONS if role in p.roles)


def effective(role: str, rights: Mapping[str, bool] | None) -> frozenset[str]:
    """A person's permissions: the role's, with their own grants added and withdrawals taken away.
    A name that is no permission (a newer release's, say) gives nothing."""
    out = set(by_role(role))
    for name, granted in (rights or {}).items():
        if name not in BY_NAME:
            continue
        if granted is True:
            out.add(name)
        elif granted is False:
            out.discard(name)
    return frozenset(out)


def changed(role: str, rights: Mapping[str, bool], name: str, state: str) -> dict[str, bool]:
    """A person's own rights after the administrator sets ``name`` to ``state``: "grant",
    "withdraw" or "default" (as the role has it). A grant the role already gives, or a withdrawal
    of what the role does not give, is no individual right: it is kept as the default."""
    out = {k: v for k, v in rights.items() if k in BY_NAME and k != name}
    in_role = name in by_role(role)
    if state == "grant" and not in_role:
        out[name] = True
    elif state == "withdraw" and in_role:
        out[name] = False
    return dict(sorted(out.items()))


STATES = ("grant", "withdraw", "default")


def card_needs(viewer: str, formed_by: str, is_copy: bool) -> tuple[str, ...]:
    """The permissions reading or issuing a card needs beyond the route's ``card_view``: another's
    card needs ``card_view_others``; an issue after the first needs ``card_copy``."""
    return (("card_view_others",) if formed_by != viewer else ()) + (("card_copy",) if is_copy else ())

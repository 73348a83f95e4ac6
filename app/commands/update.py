"""``otolane update check|apply|rollback|status|note`` and ``otolane health`` (issue #24 (4)): signed
updates from the lane's TUF repository with a health check and rollback (R3.14, R8, R10.8, R10.11).
``apply`` and ``rollback`` run as root (``kiosk/otolane-update.service``); the releases' own checks
and journal entries run as the lane's user."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from app.commands.lane import with_store
from app.release import ACTIONS

#: exit codes a timer and a person can tell apart
APPLIED, REFUSED, DEFERRED, ROLLED_BACK = 0, 1, 5, 6


def add_parser(sub: Any) -> None:
    u = sub.add_parser("update", help="signed updates of the lane's program, with rollback (R3.14, R8)")
    usub = u.add_subparsers(dest="action", required=True)
    for name, hlp in (
        ("check", "what the update repository offers (verified; nothing installed)"),
        ("apply", "install the newest release, prove it healthy, make it current (else roll back)"),
        ("rollback", "back to the release that was current before the last update"),
        ("status", "the release in use, the ones kept, the open inspection, the updates so far"),
    ):
        a = usub.add_parser(name, help=hlp)
        a.add_argument("--config", required=True)
        a.add_argument("--json", action="store_true")
        if name == "apply":
            a.add_argument("--version", default=None, help="this release, not the newest")
        a.set_defaults(fn=cmd_update)
    n = usub.add_parser("note", help="journal one of the updater's own entries (the updater runs it)")
    n.add_argument("--config", required=True)
    n.add_argument("--action", required=True, choices=ACTIONS)
    n.add_argument("--details", required=True, help="a JSON object")
    n.set_defaults(fn=cmd_note)
    h = sub.add_parser("health", help="is this release fit to run the lane (the updater runs it first)")
    h.add_argument("--config", required=True)
    h.add_argument("--json", action="store_true")
    h.set_defaults(fn=cmd_health)


def cmd_update(args: argparse.Namespace) -> int:
    from app import config as config_mod

    cfg = config_mod.load(args.config)
    if args.action == "status":
        return _status(cfg, args.json)
    from app.release.update import Updater

    def say(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    up = Updater(cfg, say, by=f"cli:{_user()}")
    if args.action == "check":
        got = up.check()
        code = 0
    elif args.action == "apply":
        got = up.apply(args.version)  # deferred: update_busy, exit 5 (app/cli.py: EXIT)
        code = ROLLED_BACK if got["result"] == "rolled_back" else APPLIED
    else:
        got = up.rollback()
        code = 0
    if args.json:
        print(json.dumps(got, ensure_ascii=False))
    else:
        for line in _lines(got):
            print(line)
    return code


def _user() -> str:
    import getpass

    return getpass.getuser()


def _lines(got: dict[str, Any]) -> list[str]:
    if "available" in got:
        return [f"in use: {got['current']}; offered: {got['available'] or 'nothing newer'}"] + [
            f"failed here before, not offered again: {v} ({why[:120]})" for v, why in got["failed"].items()
        ]
    result = got["result"]
    if result == "current":
        return [f"release {got['current']} is the newest: nothing to do"]
    if result == "applied":
        return [f"updated: {got['old']} → {got['new']}; health: OK"] + [
            f"removed old release {v}" for v in got["pruned"]
        ]
    lines = [f"release {got['new']} failed its health check; the lane runs {got['old']} again"]
    return lines + [f"  {p}" for p in got.get("health", {}).get("problems", [])]


def _status(cfg: Any, as_json: bool) -> int:
    from app.release.layout import Layout
    from app.release.manifest import Installed
    from app.storage.models import Inspection

    async def run(cfg: Any, accounts: Any, store: Any) -> int | None:
        insp = await Inspection.filter(status="open").first()
        return int(insp.number) if insp else None

    number = asyncio.run(with_store(str(cfg.file), run, create=False, checkpoint=False))
    layout = Layout(cfg)
    cur = layout.current()
    kept = sorted(p.name for p in layout.releases.iterdir() if p.is_dir()) if layout.releases.is_dir() else []
    got = {
        "running": Installed.running().status(),
        "current": cur.name if cur else None,
        "kept": kept,
        "open_inspection": number,
        "history": layout.state()["history"][-10:],
    }
    if as_json:
        print(json.dumps(got, ensure_ascii=False))
        return 0
    print(f"running: {got['running']}; current: {got['current'] or '-'}; kept: {', '.join(kept) or '-'}")
    print(f"open inspection: {number if number is not None else 'none'}")
    for h in got["history"]:
        print(f"  {h.get('action')}: {h.get('old')} → {h.get('new')} {h.get('reason', '')[:100]}")
    return 0


def cmd_note(args: argparse.Namespace) -> int:
    from app.errors import OtolaneError

    try:
        details = json.loads(args.details)
    except ValueError as exc:
        raise OtolaneError("update_note", "--details is not a JSON object") from exc
    if not isinstance(details, dict) or len(args.details) > 20_000:
        raise OtolaneError("update_note", "--details is not a JSON object of a few KB")

    async def run(cfg: Any, accounts: Any, store: Any) -> None:
        await store.journal.write("updater", args.action, **details)

    asyncio.run(with_store(args.config, run, create=False))
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from app import config as config_mod
    from app.release.health import health

    got = asyncio.run(health(config_mod.load(args.config)))
    if args.json:
        print(json.dumps(got, ensure_ascii=False))
    else:
        for c in got["checks"]:
            print(f"{'ok ' if c['ok'] else 'BAD'} {c['name']}: {'; '.join(c['detail'])}")
        print(f"release {got['release']}: {'healthy' if got['ok'] else 'NOT healthy'}")
    return 0 if got["ok"] else 1

"""``otolane backup init|now|list`` and ``otolane restore BACKUP`` (R3.11, R3.12, issue #24): the
lane's backups, made while the daemon runs (by hand or by ``kiosk/otolane-backup.timer``), and a
restore checked in a scratch place before anything live changes."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from typing import Any

from app.commands.lane import with_store


def add_parser(sub: Any) -> None:
    b = sub.add_parser("backup", help="backups of the lane's data (R3.11)")
    bsub = b.add_subparsers(dest="action", required=True)
    for name, hlp in (
        ("init", "make the backup key (once) and the repository backup.repository names"),
        ("now", "make a backup now (the daemon may run)"),
        ("list", "the backups in the repository"),
    ):
        a = bsub.add_parser(name, help=hlp)
        a.add_argument("--config", required=True)
        a.add_argument("--json", action="store_true", help="progress and result as JSON lines")
        a.set_defaults(fn=cmd_backup)
    r = sub.add_parser(
        "restore", help="restore a backup: checked in a scratch place, swapped in on yes (R3.12)"
    )
    r.add_argument("backup", help="the backup's id (otolane backup list), or latest")
    r.add_argument("--config", required=True)
    r.add_argument(
        "--yes", action="store_true", help="swap it in without asking (the daemon must be stopped)"
    )
    r.add_argument(
        "--last-number",
        type=int,
        default=None,
        help="the last card number issued, when the live data cannot be read",
    )
    r.add_argument("--json", action="store_true")
    r.set_defaults(fn=cmd_restore)


def _progress(as_json: bool) -> Any:
    tty = sys.stderr.isatty()

    def write(fig: dict[str, Any]) -> None:
        if as_json:
            print(json.dumps(fig), file=sys.stderr, flush=True)
        elif tty:
            print(
                f"\r{fig['phase']:<10} {fig['percent']:5.1f} %{'':<40}", end="", file=sys.stderr, flush=True
            )

    return write


def cmd_backup(args: argparse.Namespace) -> int:
    from app import config as config_mod
    from app.backup import make

    if args.action == "init":
        print(f"made: {make.init(config_mod.load(args.config))}")
        return 0
    if args.action == "list":
        cfg = config_mod.load(args.config)
        snaps = make.repository(cfg).snapshots()
        if args.json:
            print(json.dumps([s.__dict__ for s in snaps]))
        for s in sorted(snaps, key=lambda s: s.time):
            if not args.json:
                print(f"{s.id[:8]}  {s.time[:19].replace('T', ' ')}  {' '.join(s.tags)}")
        return 0

    async def run(cfg: Any, accounts: Any, store: Any) -> dict[str, Any]:
        return await make.make(cfg, store, _progress(args.json))

    got = asyncio.run(with_store(args.config, run, create=False))
    if sys.stderr.isatty() and not args.json:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(got))
    else:
        print(
            f"backup {got['snapshot'][:8]} made in {got['repository']}: {got['files']} files, "
            f"{got['bytes']} bytes, inspections up to No. {got['last_number']}, {got['seconds']} s"
        )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Exit 0: swapped in; 1: the backup failed its check; 4: checked and not swapped (no yes)."""
    from app import config as config_mod
    from app.backup.restore import loss_lines, prepare
    from app.backup.swap import swap

    cfg = config_mod.load(args.config)
    p = asyncio.run(prepare(cfg, args.backup, _progress(args.json)))
    if sys.stderr.isatty() and not args.json:
        print(file=sys.stderr)
    for line in p.lines:
        print(line)
    if not p.ok:
        print(
            f"the backup {p.snapshot[:8]} did not pass its check: nothing was changed (its copy: {p.scratch})"
        )
        return 1
    for line in loss_lines(p):
        print(line)
    last = p.last_number if p.last_number is not None else args.last_number
    if last is None:
        print("not swapped in: give --last-number N (the live data cannot tell it)")
        return 4
    if args.last_number is not None:
        last = max(last, args.last_number)
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"not swapped in (checked copy kept in {p.scratch}): run again with --yes to swap it in")
            return 4
        answer = input("Swap the live data for this backup? The live data is kept aside. Type yes: ")
        if answer.strip().lower() != "yes":
            print("not swapped in")
            return 4
    done = asyncio.run(swap(cfg, p, last, f"cli:{getpass.getuser()}"))
    print(
        f"restored: backup {p.snapshot[:8]} is the lane's data now; the live data was kept in "
        + ", ".join(done["aside"])
    )
    if done["anchors"] == "backup":
        print(
            "the live checkpoint file could not be used: the backup's copy took its place (the witness "
            "will say so)"
        )
    print("start the daemon (systemctl start laned) and run otolane integrity check")
    return 0

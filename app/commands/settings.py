"""``otolane setting list|set``: the lane's settings for scripts (issue #23 (7), D5) — the same
settings, checks and journal entry (``setting_changed``) as the administrator's screen (F2 → 7);
a running daemon takes a change within a second (a live one at once, the EIS address and route at
its next start)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
from typing import Any

from app.commands.lane import with_store


def add_parser(sub: Any) -> None:
    st = sub.add_parser("setting", help="the lane's settings the administrator changes (D5)")
    ssub = st.add_subparsers(dest="action", required=True)
    ls = ssub.add_parser("list", help="every setting: its value, the file's, and when a change applies")
    ls.add_argument("--config", required=True)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(fn=cmd_setting)
    se = ssub.add_parser("set", help="change one setting (checked and journalled)")
    se.add_argument("--config", required=True)
    se.add_argument("key", help="e.g. printer.queue, security.lockout_after (otolane setting list)")
    se.add_argument("value", help="the new value; '' for none where a setting may be empty")
    se.set_defaults(fn=cmd_setting)


def cmd_setting(args: argparse.Namespace) -> int:
    from app.settings import LaneSettings

    async def run(cfg: Any, accounts: Any, store: Any) -> Any:
        settings = LaneSettings(cfg, store.journal, lambda key, value: None)
        if args.action == "set":
            return await settings.change(f"cli:{getpass.getuser()}", args.key, args.value)
        return settings.listing()

    reads = args.action == "list"  # a list makes no key on a lane that has none, signs nothing
    got = asyncio.run(with_store(args.config, run, create=not reads, checkpoint=not reads))
    if args.action == "set":
        when = "now" if got["live"] else "at the lane's next start"
        print(f"{got['key']} = {json.dumps(got['pending'] if got['has_pending'] else got['value'])} ({when})")
    elif args.json:
        print(json.dumps(got, ensure_ascii=False))
    else:
        for r in got:
            mark = f"  (next start: {json.dumps(r['pending'])})" if r["has_pending"] else ""
            mark = mark or (f"  (file: {json.dumps(r['file'])})" if r["changed"] else "")
            print(f"{r['key']:32} {json.dumps(r['value'], ensure_ascii=False)}{mark}")
    return 0

"""``otolane setup --config FILE``: a lane freshly installed from the package made ready, step by
step, each said as done, skipped or still to do (issue #24 (1)): the configuration checked; the data
key and the lane's signing key made (their fingerprint shown, to be copied to the keys' medium); the
first administrator; the EIS identification key (R4); the NCA roots and revocation lists (R3.1); the
update repository's pinned root (R3.14); the backup key and repository (R3.11); the units enabled
with ``--enable``. Run as root, every file it made in the lane's folders is given to the owner of
the lane's data (the daemon's user), so the daemon can open it.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from app.commands.lane import read_password, with_store

UNITS = ["laned.service", "otolane-console.service", "otolane-backup.timer", "otolane-update.timer"]


def add_parser(sub: Any) -> None:
    s = sub.add_parser(
        "setup", help="make a newly installed lane ready: keys, first administrator, EIS key, trust, backups"
    )
    s.add_argument("--config", required=True)
    s.add_argument("--admin", default="admin", help="the first administrator's log-in name")
    s.add_argument("--full-name", default="", help="the first administrator's full name")
    s.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the administrator's password, then the EIS identification key, one line each",
    )
    s.add_argument("--enable", action="store_true", help="enable and start the lane's units (root)")
    s.set_defaults(fn=cmd_setup)


class Steps:
    def __init__(self) -> None:
        self.todo = 0

    def ok(self, text: str) -> None:
        print(f"[ok] {text}", flush=True)

    def skip(self, text: str) -> None:
        print(f"[--] {text}", flush=True)

    def later(self, text: str) -> None:
        self.todo += 1
        print(f"[!!] to do: {text}", flush=True)


def _lane_steps(args: argparse.Namespace, steps: Steps) -> None:
    from app import config as config_mod

    cfg = config_mod.load(args.config)
    steps.ok(f"configuration {cfg.file}: lane '{cfg.lane['name']}', {len(cfg.devices)} stand(s)")
    interactive = sys.stdin.isatty() and not args.password_stdin

    async def run(cfg: Any, accounts: Any, store: Any) -> None:
        data_key = cfg.path(cfg.storage["key_file"])
        steps.ok(
            f"data key {data_key} and signing key (fingerprint {store.key.fingerprint}): copy both to "
            "the keys' medium, apart from the backups"
        )
        admins = [u for u in await accounts.list() if u["role"] == "admin"]
        if admins:
            steps.skip(f"an administrator exists ({admins[0]['username']})")
        elif interactive or args.password_stdin:
            pw = read_password(args, f"Password for the administrator {args.admin}: ")
            await accounts.add(args.admin, "admin", pw, args.full_name, by=f"setup:{getpass.getuser()}")
            steps.ok(f"administrator {args.admin} added")
        else:
            steps.later(f"the first administrator: otolane user add --config {cfg.file} --role admin NAME")
        await _eis_key(cfg, store, args, interactive, steps)

    asyncio.run(with_store(str(cfg.file), run, create=True))
    _trust(cfg, steps)
    _update_root(cfg, steps)
    _backups(cfg, steps)


async def _eis_key(cfg: Any, store: Any, args: argparse.Namespace, interactive: bool, steps: Steps) -> None:
    import time

    from app.eis import idkey

    path = cfg.path(cfg.eis["identification_key_file"])
    if path.exists():
        steps.skip(f"the EIS identification key is installed ({path})")
        return
    value = ""
    if args.password_stdin:
        value = sys.stdin.readline().strip()
    elif interactive:
        value = getpass.getpass("EIS identification key (not shown; empty: later): ").strip()
    if not value:
        steps.later(f"the EIS identification key (R4): otolane eis key install --config {cfg.file}")
        return
    key = idkey.install(path, store.keyring, value, 60, time.time())
    await store.journal.write(
        f"setup:{getpass.getuser()}",
        "eis_key_installed",
        fingerprint=key.fingerprint,
        valid_until=key.valid_until,
    )
    steps.ok(f"EIS identification key installed (fingerprint {key.fingerprint})")


def _trust(cfg: Any, steps: Steps) -> None:
    from app.eds.signer import trust_from_config

    if not cfg.eds["ca"]:
        steps.later("the NCA roots (R3.1): name their files in eds.ca (and eds.crl)")
        return
    try:
        trust = trust_from_config(cfg)
    except Exception as exc:  # a missing or unreadable file is the step's answer
        steps.later(f"the NCA roots in eds.ca / eds.crl cannot be read: {getattr(exc, 'message', exc)}")
        return
    n_roots, n_mid, n_crl = len(trust.roots), len(trust.intermediates), len(trust.crls)
    steps.ok(f"NCA trust: {n_roots} root(s), {n_mid} intermediate(s), {n_crl} revocation list(s)")


def _update_root(cfg: Any, steps: Steps) -> None:
    from app.errors import OtolaneError
    from app.release.manifest import read_root, root_file

    where = root_file(cfg)
    if where is None:
        steps.later("updates (R3.14): set update.root (/usr/share/otolane/update-root.json) and its URLs")
        return
    try:
        root = read_root(where)
    except OtolaneError as exc:
        steps.later(exc.message)
        return
    until = f"{root.expires:%Y-%m-%d}"
    steps.ok(f"update repository trusted by its root v{root.version} ({where}), valid until {until}")


def _backups(cfg: Any, steps: Steps) -> None:
    from app.backup.make import init
    from app.errors import OtolaneError

    if not cfg.backup["repository"]:
        steps.later("backups (R3.11): set backup.repository (a folder on the backup medium)")
        return
    try:
        steps.ok(f"backups: {init(cfg)}")
    except OtolaneError as exc:
        steps.later(f"backups: {exc.message}")


def _lane_folders(cfg: Any) -> list[Path]:
    """Where setup makes the lane's files: its data, its keys, a backup folder and its staging."""
    folders = {cfg.path(cfg.storage["anchor_file"]).parent, cfg.path(cfg.storage["key_file"]).parent}
    folders |= {
        cfg.path(cfg.storage["signing_key_file"]).parent,
        cfg.path(cfg.eis["identification_key_file"]).parent,
    }
    folders |= {cfg.path(cfg.backup["key_file"]).parent, cfg.path(cfg.backup["staging_dir"])}
    repo = str(cfg.backup["repository"])
    if repo and ":" not in repo.split("/", 1)[0]:
        folders.add(cfg.path(repo))
    return sorted(folders)


def _give_to_lane(cfg: Any, since: float) -> int:
    """Root made the files: each made by this setup goes to the owner of the lane's data (the
    daemon's user), so the daemon opens what setup made. How many were given."""
    data = cfg.path(cfg.storage["anchor_file"]).parent
    owner = data.stat()
    if os.geteuid() != 0 or owner.st_uid == 0:
        return 0
    given = 0
    for top in _lane_folders(cfg):
        if not top.exists():
            continue
        for p in [top, *top.rglob("*")]:
            st = p.lstat()
            if st.st_uid == 0 and st.st_ctime >= since:
                os.lchown(p, owner.st_uid, owner.st_gid)
                given += 1
    return given


def cmd_setup(args: argparse.Namespace) -> int:
    from app import config as config_mod

    since = time.time() - 1
    steps = Steps()
    _lane_steps(args, steps)
    todo = steps.todo
    given = _give_to_lane(config_mod.load(args.config), since)
    if given:
        print(f"[ok] {given} file(s) made by setup given to the lane's user (the owner of its data)")
    if args.enable:
        if os.geteuid() != 0:
            print("[!!] to do: --enable needs root (sudo)")
            todo += 1
        else:
            done = subprocess.run(["systemctl", "enable", "--now", *UNITS], capture_output=True, text=True)
            if done.returncode == 0:
                print(f"[ok] enabled and started: {' '.join(UNITS)}")
            else:
                print(f"[!!] to do: systemctl enable --now {' '.join(UNITS)} ({done.stderr.strip()[-200:]})")
                todo += 1
    else:
        print(f"[--] units: systemctl enable --now {' '.join(UNITS)} (or setup --enable)")
    print("the lane is ready" if not todo else f"{todo} step(s) still to do (above)")
    return 0 if not todo else 4

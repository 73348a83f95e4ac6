"""The commands that run or look after the lane: the daemon, the screen, the demo, the configuration
check, users, the integrity check, NCA keys, the EIS identification key and the journal. The
parser and the error handling are ``app/cli.py``'s; no command prints a traceback."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from app.commands.common import setup_logging
from app.errors import OtolaneError
from app.screen import tui_command


def read_password(args: argparse.Namespace, prompt: str) -> str:
    """The password typed twice on the terminal, or one line of standard input
    (``--password-stdin``); no password (end of input, no terminal) is said, never a traceback."""
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline()
        if not line:
            raise OtolaneError("password_missing", "no password on standard input (it ended)")
        return line.rstrip("\n")
    if not sys.stdin.isatty():
        raise OtolaneError(
            "password_missing",
            "standard input is not a terminal: type the password, or give it with --password-stdin",
        )
    try:
        first = getpass.getpass(prompt)
        again = getpass.getpass("Repeat: ")
    except EOFError:
        raise OtolaneError("password_missing", "no password was given (end of input)") from None
    if again != first:
        raise OtolaneError("password_mismatch", "the two passwords differ")
    return first


def cmd_daemon(args: argparse.Namespace) -> int:
    from app import config as config_mod
    from app.daemon import Daemon

    cfg = config_mod.load(args.config)
    if args.speed is not None:
        problem = config_mod.clock_speed_problem(args.speed, cfg.lane["training"])
        if problem:
            raise OtolaneError(
                "speed_refused",
                f"--speed {args.speed:g} is refused: the lane clock speed must be {problem} "
                f"(lane.training in {cfg.file})",
            )
        cfg.lane["clock_speed"] = float(args.speed)
    setup_logging(cfg.path(cfg.daemon["log_file"]), args.verbose)
    asyncio.run(Daemon(cfg).run())
    return 0


def cmd_firewall(args: argparse.Namespace) -> int:
    """The kiosk's nftables ruleset from the configuration (R10.1): on stdout, for ``nft -f``."""
    from app import config as config_mod
    from app.firewall import ruleset

    print(ruleset(config_mod.load(args.config)), end="")
    return 0


def cmd_lockdown(args: argparse.Namespace) -> int:
    """Exit 0: written (or, with --check, all in place); 1: --check found something missing."""
    from app import config as config_mod
    from app import lockdown

    cfg = config_mod.load(args.config)
    root = Path(args.root)
    if args.check:
        found = lockdown.check(cfg, root)
        for f in found:
            print(f"{'ok ' if f.ok else 'BAD'} {f.what}: {f.detail}")
        return 0 if all(f.ok for f in found) else 1
    for path in lockdown.write(cfg, root):
        print(f"written: {path}")
    if root == Path("/"):
        for line in lockdown.apply_live():
            print(line)
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    from app import config as config_mod

    cfg = config_mod.load(args.file)
    print(f"{cfg.file}: ok — lane '{cfg.lane['name']}', {len(cfg.devices)} device(s)")
    return 0


async def with_store(cfg_file: str, fn: Any, create: bool = True, checkpoint: bool = True) -> Any:
    """Open the lane's store as the daemon does (the same key rules), run ``fn``, sign the chain
    heads it moved into the checkpoint file (not after a check: what it found must not be signed
    as the new truth), close."""
    from app import config as config_mod
    from app.auth import Accounts, Policy
    from app.storage.store import close_store, open_store

    cfg = config_mod.load(cfg_file)
    store = await open_store(cfg, create=create)
    try:
        result = await fn(cfg, Accounts(Policy.from_config(cfg.security), store.journal), store)
        if checkpoint:
            await store.checkpoint("command line")
        return result
    finally:
        await close_store()


def cmd_user(args: argparse.Namespace) -> int:
    async def run(cfg: Any, accounts: Any, store: Any) -> None:
        by = f"cli:{getpass.getuser()}"
        if args.action == "add":
            pw = read_password(args, f"Password for {args.name}: ")
            await accounts.add(args.name, args.role, pw, args.full_name or "", by=by)
            print(f"user {args.name} ({args.role}) added")
        elif args.action == "passwd":
            pw = read_password(args, f"New password for {args.name}: ")
            await accounts.change_password(args.name, None, pw, by)
            print(f"password of {args.name} changed")
        elif args.action in ("lock", "unlock"):
            await accounts.set_disabled(args.name, args.action == "lock", by)
            print(
                f"user {args.name} {args.action}ed"
                + (" (its sessions end at once)" if args.action == "lock" else "")
            )
        elif args.action == "role":
            await accounts.set_role(args.name, args.role, by)
            print(f"user {args.name} is now {args.role} (its sessions end at once)")
        elif args.action == "bind-eds":
            from app.eds.login import EdsLogin

            await EdsLogin(cfg, accounts, store.keyring).bind(args.name, args.iin, by)
            print(f"user {args.name} now signs in with the NCA key of IIN {args.iin[:4]}…{args.iin[-2:]}")
        elif args.action == "rights":
            _rights(await _user_rights(accounts, args, by))
        else:
            for u in await accounts.list():
                state = "locked" if u["disabled"] or u["locked"] else "active"
                print(
                    f"{u['username']:20} {u['role']:11} {state:7} password expires in "
                    f"{u['password_days_left']} days"
                )

    # a list only reads: it makes no key on a lane that has none, and signs no checkpoint
    reads = args.action == "list" or (
        args.action == "rights" and not (args.grant or args.withdraw or args.default)
    )
    asyncio.run(with_store(args.config, run, create=not reads, checkpoint=not reads))
    return 0


async def _user_rights(accounts: Any, args: argparse.Namespace, by: str) -> dict[str, Any]:
    """One permission changed when asked; the person's rights as they are then."""
    for state in ("grant", "withdraw", "default"):
        if getattr(args, state):
            await accounts.set_right(args.name, getattr(args, state), state, by)
    name = (await accounts.get(args.name)).username
    return next(u for u in await accounts.list() if u["username"] == name)


def _rights(u: dict[str, Any]) -> None:
    """Every permission: what this person has, and how (the role, granted, withdrawn)."""
    from app.rights import PERMISSIONS

    print(f"{u['username']} ({u['role']})")
    for p in PERMISSIONS:
        own = u["rights"].get(p.name)
        how = (
            "granted"
            if own is True
            else "withdrawn"
            if own is False
            else "role"
            if u["role"] in p.roles
            else ""
        )
        mark = "yes" if p.name in u["permissions"] else "no "
        print(f"  {mark} {p.name:20} {how:9} {p.allows}")


def _progress_writer(kind: str) -> Any:
    """How a check's progress is told on stderr: a line rewritten in place, or JSON objects."""
    if kind == "auto":
        kind = "line" if sys.stderr.isatty() else "none"
    if kind == "none":
        return None

    def write(fig: dict[str, Any]) -> None:
        if kind == "json":
            print(json.dumps(fig), file=sys.stderr, flush=True)
            return
        eta = "—" if fig["eta_s"] is None else f"{fig['eta_s'] // 60}:{fig['eta_s'] % 60:02d}"
        text = (
            f"{fig['phase']:<12} {fig['percent']:5.1f} %  {fig['done']} of {fig['total']} rows  "
            f"{fig['rows_per_s']} rows/s  left {eta}"
        )
        print(f"\r{text:<78}", end="", file=sys.stderr, flush=True)

    return write


def cmd_integrity(args: argparse.Namespace) -> int:
    """Exit 0: OK; 1: problems found; 3: interrupted (``--resume`` continues)."""
    import signal

    from app.integrity import check

    asked: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: asked.append(signum))
    progress = _progress_writer(args.progress)

    async def run(cfg: Any, accounts: Any, store: Any) -> dict[str, Any]:
        return await check(
            cfg,
            store,
            "new" if args.new else "full",
            args.resume,
            progress=progress,
            stop=lambda: bool(asked),
        )

    report = asyncio.run(with_store(args.config, run, create=False, checkpoint=False))
    if progress is not None and args.progress in ("auto", "line"):
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for line in report["lines"]:
            print(line)
    if report["interrupted"]:
        return 3
    return 0 if report["ok"] else 1


def cmd_eds_check(args: argparse.Namespace) -> int:
    """``otolane eds check``: one JSON object (or lines) on a key container; exit 0 valid, 1 not."""
    from app.eds import certs
    from app.eds.errors import EdsError
    from app.eds.signer import open_and_check, read_container, trust_from_config

    try:
        password = Path(args.password_file).read_text(encoding="utf-8").split("\n", 1)[0]
    except (OSError, UnicodeDecodeError) as e:
        raise OtolaneError("password_file", f"cannot read the password file {args.password_file}: {e}") from e
    if args.ca or args.crl:
        trust = certs.TrustStore.from_files(
            [Path(p) for p in args.ca], [Path(p) for p in args.crl], require_crl=bool(args.crl)
        )
    elif args.config:
        from app import config as config_mod

        trust = trust_from_config(config_mod.load(args.config))
    else:
        raise OtolaneError("eds_no_trust", "give --ca (and --crl) or --config with an [eds] table")
    at = None
    if args.at:
        from datetime import UTC, datetime

        try:
            at = datetime.fromisoformat(args.at)
        except ValueError as e:
            raise OtolaneError("bad_time", f"--at {args.at!r} is not an ISO date and time") from e
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
    try:
        verdict = open_and_check(read_container(Path(args.file)), password, trust, at).verdict
        out = verdict.as_dict()
    except EdsError as e:
        out = {"valid": False, "reason": e.code.removeprefix("eds_"), "detail": e.message}
    out = {"file": args.file, **out}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        state = "valid" if out["valid"] else f"refused: {out['reason']} {out.get('detail', '')}".strip()
        print(f"{args.file}: {state}")
        for k in ("common_name", "iin", "bin", "algorithm", "not_after"):
            if out.get(k):
                print(f"  {k}: {out[k]}")
    return 0 if out["valid"] else 1


def cmd_eis_key(args: argparse.Namespace) -> int:
    """``otolane eis key install|status`` (R4, R5): the key is read from the terminal (hidden) or
    stdin, sealed under the lane's data key; only its fingerprint and expiry are ever printed."""
    import time

    from app.eis import idkey

    async def run(cfg: Any, accounts: Any, store: Any) -> dict[str, Any]:
        path = cfg.path(cfg.eis["identification_key_file"])
        if args.action == "status":
            key, _ = idkey.read(path, store.keyring)
            return key.state(time.time())
        if args.key_stdin:
            value = sys.stdin.readline().strip()
        else:
            value = getpass.getpass("EIS identification key (not shown): ").strip()
        now = time.time()
        key = idkey.install(path, store.keyring, value, args.valid_days, now)
        by = f"cli:{getpass.getuser()}"
        await store.journal.write(
            by, "eis_key_installed", fingerprint=key.fingerprint, valid_until=key.valid_until
        )
        return key.state(now)

    installs = args.action == "install"  # the status only reads: it makes no key
    state = asyncio.run(with_store(args.config, run, create=installs, checkpoint=installs))
    if args.json:
        print(json.dumps(state))
    else:
        from datetime import UTC, datetime

        until = datetime.fromtimestamp(state["valid_until"], UTC).strftime("%Y-%m-%d %H:%M UTC")
        verb = "installed" if args.action == "install" else "expired" if state["expired"] else "valid"
        left = state["days_left"]
        print(f"EIS identification key {state['fingerprint']}: {verb}, until {until} ({left} days)")
    return 1 if state["expired"] else 0


def cmd_journal_export(args: argparse.Namespace) -> int:
    """``otolane journal export``: the signed journal of a period, as a 0600 file (R3.19)."""
    from app.eis import history

    start = history.parse_time(args.start, "--from")
    end = history.parse_time(args.end, "--to")

    async def run(cfg: Any, accounts: Any, store: Any) -> dict[str, Any]:
        folder = Path(args.out) if args.out else cfg.path(cfg.eis["exports_dir"])
        return await history.export_to(folder, store.key, cfg.lane["name"], start, end)

    made = asyncio.run(with_store(args.config, run, create=False, checkpoint=False))
    if args.json:
        print(json.dumps(made))
    else:
        print(f"{made['entries']} journal entries from {made['from']} to {made['to']}: {made['file']}")
    return 0


#: ``otolane journal verify``: the export holds, but only by the key it carries itself
UNTIED = 3


def _public_key(args: argparse.Namespace) -> tuple[Any, str]:
    """The key to hold an export to: ``--public-key``, or the lane's own (``--config``); and where
    it came from. (None, "") when neither is given."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    if args.public_key:
        path = Path(args.public_key)
    elif args.config:
        from app import config as config_mod
        from app.storage.store import public_key_path

        path = public_key_path(config_mod.load(args.config))
    else:
        return None, ""
    try:
        return load_pem_public_key(path.read_bytes()), str(path)
    except (OSError, ValueError) as e:
        raise OtolaneError("export_unreadable", f"{path} is not a PEM public key: {e}") from e


def cmd_journal_verify(args: argparse.Namespace) -> int:
    """``otolane journal verify``: exit 0 when the export's schema, chain and signature hold by the
    key given (``--public-key``) or the lane's own (``--config``); 1 when something does not hold;
    3 when they hold only by the key the file carries — anyone can re-chain and re-sign an export
    with a key of their own, so that proves nothing about who made it."""
    from app.eis import history

    try:
        doc = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise OtolaneError("export_unreadable", f"{args.file} is not a journal export: {e}") from e
    public, source = _public_key(args)
    found = history.verify(doc, public)
    carried = history.key_fingerprint(doc)
    if public is not None and not found and carried != history.fingerprint(public):
        found.append(f"public_key: the export names another key ({carried}) than {source}")
    untied = public is None and not found
    if args.json:
        out = {"file": args.file, "valid": not found and not untied, "problems": found}
        print(json.dumps(out | {"signed_by": carried, "key_checked": public is not None}, ensure_ascii=False))
    elif found:
        for line in found:
            print(line)
    elif untied:
        print(
            f"{args.file}: its chain holds and it is signed by the key it carries ({carried}), which "
            "nothing here ties to a lane: give --public-key (the lane's keys/lane-sign.key.pub) or "
            "--config to know who signed it"
        )
    else:
        print(f"{args.file}: valid ({len(doc['entries'])} entries, signed by {source}, {carried})")
    return 1 if found else UNTIED if untied else 0


def cmd_tui(args: argparse.Namespace) -> int:
    from app import config as config_mod

    socket = args.socket
    if socket is None:
        socket = str(config_mod.load(args.config).socket_path)
    argv = tui_command(socket, args.lang)
    os.execv(argv[0], argv)  # noqa: S606 - replaces this process; no shell, arguments as a list
    return 0  # not reached


def cmd_demo(args: argparse.Namespace) -> int:
    from app.demo import run_demo

    return run_demo(args)

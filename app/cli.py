"""``otolane``: one command line for the lane. ``otolane --help`` lists the commands."""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from app.errors import OtolaneError


def _setup_logging(file: Path | None, verbose: bool = False) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    handlers: list[logging.Handler] = []
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(file, encoding="utf-8"))
    else:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(
        level=level, handlers=handlers, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)


def _read_password(args: argparse.Namespace, prompt: str) -> str:
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(prompt)
    if getpass.getpass("Repeat: ") != first:
        raise OtolaneError("password_mismatch", "the two passwords differ")
    return first


# --- commands -------------------------------------------------------------------
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
    _setup_logging(cfg.path(cfg.daemon["log_file"]), args.verbose)
    asyncio.run(Daemon(cfg).run())
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    from app import config as config_mod

    cfg = config_mod.load(args.file)
    print(f"{cfg.file}: ok — lane '{cfg.lane['name']}', {len(cfg.devices)} device(s)")
    return 0


async def _with_store(cfg_file: str, fn: Any, create: bool = True, checkpoint: bool = True) -> Any:
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
            pw = _read_password(args, f"Password for {args.name}: ")
            await accounts.add(args.name, args.role, pw, args.full_name or "", by=by)
            print(f"user {args.name} ({args.role}) added")
        elif args.action == "passwd":
            pw = _read_password(args, f"New password for {args.name}: ")
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
        else:
            for u in await accounts.list():
                state = "locked" if u["disabled"] or u["locked"] else "active"
                print(
                    f"{u['username']:20} {u['role']:11} {state:7} password expires in "
                    f"{u['password_days_left']} days"
                )

    asyncio.run(_with_store(args.config, run))
    return 0


def cmd_integrity(args: argparse.Namespace) -> int:
    from app.integrity import check

    async def run(cfg: Any, accounts: Any, store: Any) -> dict[str, Any]:
        return await check(cfg, store)

    report = asyncio.run(_with_store(args.config, run, create=False, checkpoint=False))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for line in report["lines"]:
            print(line)
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
        problem = idkey.key_problem(value)
        if problem:
            raise OtolaneError("eis_key_bad", f"an identification key is {problem}")
        if not 1 <= args.valid_days <= 366:
            raise OtolaneError("eis_key_bad", "--valid-days must be 1 to 366")
        now = time.time()
        key = idkey.IdKey(value, now, now + args.valid_days * idkey.DAY)
        idkey.write(path, store.keyring, key)
        by = f"cli:{getpass.getuser()}"
        await store.journal.write(
            by, "eis_key_installed", fingerprint=key.fingerprint, valid_until=key.valid_until
        )
        return key.state(now)

    state = asyncio.run(_with_store(args.config, run, checkpoint=args.action == "install"))
    if args.json:
        print(json.dumps(state))
    else:
        from datetime import UTC, datetime

        until = datetime.fromtimestamp(state["valid_until"], UTC).strftime("%Y-%m-%d %H:%M UTC")
        verb = "installed" if args.action == "install" else "expired" if state["expired"] else "valid"
        left = state["days_left"]
        print(f"EIS identification key {state['fingerprint']}: {verb}, until {until} ({left} days)")
    return 1 if state["expired"] else 0


def cmd_eis_sim(args: argparse.Namespace) -> int:
    from app.eis.simulator import serve

    _setup_logging(None, args.verbose)
    from app.eis.simulator import tls_context

    knobs = {
        "fail_rate": args.fail_rate,
        "reject_rate": args.reject_rate,
        "lose_rate": args.lose_rate,
        "delay_ms": args.delay_ms,
        "fault_rate": args.fault_rate,
        "require_signature": 1.0 if args.require_signature else 0.0,
    }
    if bool(args.tls_cert) != bool(args.tls_key):
        raise OtolaneError("tls_incomplete", "--tls-cert and --tls-key go together")
    tls = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    try:
        asyncio.run(serve(args.host, args.port, args.db, args.seed, tls, **knobs))
    except KeyboardInterrupt:
        pass
    return 0


def cmd_camera_sim(args: argparse.Namespace) -> int:
    """A simulated lane camera (MJPEG, JPEG snapshot, ONVIF, and RTSP with --rtsp-port) until killed."""
    import signal

    from app.anpr.scenes import camera_frames
    from drivers.camera.base import CameraIdentity
    from drivers.camera.onvif import read_account
    from drivers.camera.sim import CameraSim

    _setup_logging(None, args.verbose)

    try:
        account = read_account(Path(args.account_file)) if args.account_file else None
    except OSError as e:
        raise OtolaneError(
            "account_file_unreadable",
            f"cannot read the camera account file {args.account_file} ({e.strerror}): it holds"
            " user:password on one line",
        ) from None

    async def run() -> None:
        ident = CameraIdentity(args.make, args.model, args.serial, args.firmware)
        sim = CameraSim(
            camera_frames, ident, plate=args.plate, fps=args.fps, account=account, onvif_auth=args.onvif_auth
        )
        await sim.start(args.port, args.rtsp_port)
        print(f"ready {sim.http_url} {sim.rtsp_url}".rstrip(), flush=True)
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, done.set)
        await done.wait()
        await sim.stop()

    asyncio.run(run())
    return 0


def cmd_journal_export(args: argparse.Namespace) -> int:
    """``otolane journal export``: the signed journal of a period, as a 0600 file (R3.19)."""
    from app.eis import history

    start = history.parse_time(args.start, "--from")
    end = history.parse_time(args.end, "--to")

    async def run(cfg: Any, accounts: Any, store: Any) -> dict[str, Any]:
        folder = Path(args.out) if args.out else cfg.path(cfg.eis["exports_dir"])
        return await history.export_to(folder, store.key, cfg.lane["name"], start, end)

    made = asyncio.run(_with_store(args.config, run, create=False, checkpoint=False))
    if args.json:
        print(json.dumps(made))
    else:
        print(f"{made['entries']} journal entries from {made['from']} to {made['to']}: {made['file']}")
    return 0


def cmd_journal_verify(args: argparse.Namespace) -> int:
    """``otolane journal verify``: exit 0 when the export's schema, chain and signature hold."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from app.eis import history

    try:
        doc = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise OtolaneError("export_unreadable", f"{args.file} is not a journal export: {e}") from e
    try:
        public = load_pem_public_key(Path(args.public_key).read_bytes()) if args.public_key else None
    except (OSError, ValueError) as e:
        raise OtolaneError("export_unreadable", f"{args.public_key} is not a PEM public key: {e}") from e
    found = history.verify(doc, public)  # type: ignore[arg-type]
    if args.json:
        print(json.dumps({"file": args.file, "valid": not found, "problems": found}, ensure_ascii=False))
    else:
        for line in found or [f"{args.file}: valid ({len(doc['entries'])} entries, signature holds)"]:
            print(line)
    return 0 if not found else 1


def cmd_anpr(args: argparse.Namespace) -> int:
    """``otolane anpr IMAGE…``: one JSON object per image (file, plate, confidence, bbox, ms)."""
    import cv2

    from app.anpr.recognise import Recogniser

    _setup_logging(None, args.verbose)
    recogniser = Recogniser(threads=args.threads)
    found = 0
    for file in args.images:
        image = cv2.imread(file, cv2.IMREAD_COLOR) if Path(file).is_file() else None
        if image is None:
            out: dict[str, Any] = {
                "file": file,
                "plate": None,
                "error": "not an image this lane can read (JPEG, PNG)",
            }
        else:
            out = {"file": file} | recogniser.read(image).as_dict()
            found += out["plate"] is not None
        if args.json:
            print(json.dumps(out, ensure_ascii=False), flush=True)
        else:
            said = out.get("error") or f"{out['plate'] or '—'} {out['confidence']}"
            print(f"{file}: {said}")
    return 0 if found == len(args.images) else 1


def cmd_sim_fault(args: argparse.Namespace) -> int:
    from drivers.sim.control import send_order

    try:
        reply = asyncio.run(send_order(args.control, " ".join(args.order)))
    except (OSError, TimeoutError) as exc:
        raise OtolaneError(
            "sim_unreachable", f"no simulator answers on {args.control}: {exc.strerror or exc}"
        ) from None
    print(reply)
    return 0 if reply.startswith("ok") else 1


def cmd_sim_device(args: argparse.Namespace) -> int:
    from drivers.registry import PROFILES, SCENARIOS
    from drivers.sim import device, modbus

    profile = PROFILES.get(args.profile)
    if profile is None:
        raise OtolaneError("profile_unknown", f"profiles: {', '.join(sorted(PROFILES))}")
    scenarios = SCENARIOS[args.profile]
    if args.scenario not in scenarios:
        raise OtolaneError("scenario_unknown", f"scenarios of {args.profile}: {', '.join(scenarios)}")
    serve = modbus.serve if profile.family == "modbus" else device.serve
    asyncio.run(
        serve(
            args.link,
            profile,
            scenarios[args.scenario],
            serial=args.serial,
            model=args.model,
            speed=args.speed,
            garble=args.garble,
            control=args.control,
            **({"rate": args.rate} if args.rate else {}),
        )
    )
    return 0


def tui_command(socket: str, lang: str) -> list[str]:
    """The lane screen runs as its own program: the daemon side never imports screen code."""
    return [sys.executable, "-m", "tui", "--socket", socket, "--lang", lang]


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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="otolane", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="more detail in the log")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("daemon", help="run the lane daemon (laned)")
    d.add_argument("--config", required=True, help="lane configuration (TOML)")
    d.add_argument("--speed", type=float, help="lane clock speed (training lanes only)")
    d.set_defaults(fn=cmd_daemon)

    t = sub.add_parser("tui", help="open the lane screen (console, SSH)")
    g = t.add_mutually_exclusive_group(required=True)
    g.add_argument("--config", help="lane configuration: its socket is used")
    g.add_argument("--socket", help="the daemon's socket")
    t.add_argument("--lang", choices=("kk", "ru", "en"), default="ru")
    t.set_defaults(fn=cmd_tui)

    m = sub.add_parser("demo", help="a training lane with simulated stands and EIS")
    m.add_argument("--headless", action="store_true", help="run one scripted inspection, no TUI")
    m.add_argument(
        "--eis-faults",
        type=float,
        default=0.0,
        help="share of EIS calls that fail in a random way (0.3: 30 %%); the card still gets through",
    )
    m.add_argument("--speed", type=float, default=None, help="lane clock speed (training lane)")
    m.add_argument("--json", action="store_true", help="print the result as one JSON object")
    m.add_argument("--dir", default=None, help="where the demo lives (default var/demo)")
    m.add_argument("--scenario", default="good", help="vehicle scenario of the simulators")
    m.add_argument("--lang", choices=("kk", "ru", "en"), default="ru")
    m.add_argument("--faults", action="store_true", help="simulators corrupt 5 %% of their frames")
    m.add_argument("--fuel", default="petrol", choices=("petrol", "diesel", "gas"), help="headless car")
    m.add_argument(
        "--vehicle",
        default=None,
        help="headless car: good, weak-brakes, smoky-diesel, high-co (its record and the stands' "
        "scenario; overrides --scenario and --fuel)",
    )
    m.add_argument("--away", action="append", default=[], metavar="ID", help="leave this stand unplugged")
    m.add_argument(
        "--stand-wait",
        type=float,
        default=60.0,
        metavar="S",
        help="how long the headless run waits for stands",
    )
    m.set_defaults(fn=cmd_demo)

    c = sub.add_parser("config", help="configuration tools")
    csub = c.add_subparsers(dest="action", required=True)
    cc = csub.add_parser("check", help="validate a configuration file")
    cc.add_argument("file")
    cc.set_defaults(fn=cmd_config_check)

    u = sub.add_parser("user", help="local accounts (R3.17)")
    usub = u.add_subparsers(dest="action", required=True)
    for name, hlp in (
        ("add", "add a user"),
        ("passwd", "set a password"),
        ("lock", "lock an account (its sessions end at once)"),
        ("unlock", "unlock an account (also clears a lock-out after failed logins)"),
        ("role", "change a user's role (its sessions end at once)"),
        ("bind-eds", "bind the IIN of a user's NCA key (signature login, R3.1)"),
        ("list", "list users"),
    ):
        a = usub.add_parser(name, help=hlp)
        a.add_argument("--config", required=True)
        if name != "list":
            a.add_argument("name")
        if name in ("add", "role"):
            a.add_argument("--role", required=True, choices=("operator", "technician", "admin"))
        if name == "add":
            a.add_argument("--full-name")
        if name == "bind-eds":
            a.add_argument("--iin", required=True, help="the 12-digit IIN in the employee's certificate")
        if name in ("add", "passwd"):
            a.add_argument("--password-stdin", action="store_true")
        a.set_defaults(fn=cmd_user)

    i = sub.add_parser("integrity", help="database integrity (R3.13)")
    isub = i.add_subparsers(dest="action", required=True)
    ic = isub.add_parser(
        "check",
        help="the engine's own check, every hash chain against the signed checkpoints and the cards' "
        "anchors, and the state tables against the journal",
    )
    ic.add_argument("--config", required=True)
    ic.add_argument("--json", action="store_true")
    ic.set_defaults(fn=cmd_integrity)

    ed = sub.add_parser("eds", help="NCA keys and certificates (R3.1)")
    edsub = ed.add_subparsers(dest="action", required=True)
    ec = edsub.add_parser("check", help="open a key container and check its certificate")
    ec.add_argument("file", help="the key container (.p12)")
    ec.add_argument("--password-file", required=True, help="a file whose first line is the password")
    ec.add_argument("--ca", action="append", default=[], help="a trusted NCA certificate (repeat)")
    ec.add_argument("--crl", action="append", default=[], help="a revocation list (repeat)")
    ec.add_argument("--config", help="use the lane's [eds] trust store instead of --ca/--crl")
    ec.add_argument(
        "--at", help="check as of this time (ISO 8601, UTC unless given), e.g. when a document was signed"
    )
    ec.add_argument("--json", action="store_true")
    ec.set_defaults(fn=cmd_eds_check)

    ek = sub.add_parser("eis", help="EIS: the identification key (R4, R5)")
    eksub = ek.add_subparsers(dest="group", required=True)
    key = eksub.add_parser("key", help="install or check the identification key").add_subparsers(
        dest="action", required=True
    )
    for name, hlp in (
        ("install", "install or replace the key (the daemon takes it at once)"),
        ("status", "fingerprint and expiry"),
    ):
        a = key.add_parser(name, help=hlp)
        a.add_argument("--config", required=True)
        a.add_argument("--json", action="store_true")
        if name == "install":
            a.add_argument("--key-stdin", action="store_true", help="read the key from standard input")
            a.add_argument("--valid-days", type=int, default=60, help="validity from now (R5: two months)")
        a.set_defaults(fn=cmd_eis_key)

    e = sub.add_parser("eis-sim", help="run the local EIS simulator")
    e.add_argument("--host", default="127.0.0.1")
    e.add_argument("--port", type=int, default=8765)
    e.add_argument("--db", default="eis-sim.db")
    for knob in ("fail-rate", "reject-rate", "lose-rate"):
        e.add_argument(f"--{knob}", type=float, default=0.0)
    e.add_argument("--delay-ms", type=float, default=0.0)
    e.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="share of requests that fail in a random way: 503, garbage, answer lost, connection cut, slow",
    )
    e.add_argument("--require-signature", action="store_true", help="refuse messages no employee signed")
    e.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM) …")
    e.add_argument("--tls-key", help="… and this key (PEM)")
    e.add_argument("--seed", type=int, default=None, help="seed of the failure knobs (repeatable runs)")
    e.set_defaults(fn=cmd_eis_sim)

    cs = sub.add_parser("camera-sim", help="run a simulated lane camera (MJPEG, JPEG, ONVIF, RTSP)")
    cs.add_argument(
        "--port", type=int, default=0, help="HTTP port: /mjpeg, /snapshot.jpg, /onvif/device_service"
    )
    cs.add_argument("--rtsp-port", type=int, default=None, help="also stream RTSP (GStreamer) on this port")
    cs.add_argument("--make", default="Hikvision")
    cs.add_argument("--model", default="DS-2CD2043G2-I")
    cs.add_argument("--serial", default="DS-DEMO-0001")
    cs.add_argument("--firmware", default="V5.7.3")
    cs.add_argument("--plate", default="123ABC02", help="the plate on the car it shows")
    cs.add_argument("--fps", type=float, default=10.0)
    cs.add_argument(
        "--account-file", help="a file 'user:password': ONVIF requests must carry its UsernameToken"
    )
    cs.add_argument(
        "--onvif-auth",
        choices=("token", "http-digest"),  # drivers.camera.sim.ONVIF_AUTH (not imported here: cv2)
        default="token",
        help="how ONVIF takes the account: WS-UsernameToken, or HTTP Digest only (as some firmware)",
    )
    cs.set_defaults(fn=cmd_camera_sim)

    an = sub.add_parser("anpr", help="read the plate on images (R3.2)")
    an.add_argument("images", nargs="+", metavar="IMAGE")
    an.add_argument("--json", action="store_true", help="one JSON object per image")
    an.add_argument("--threads", type=int, default=1, help="cores the recogniser may use (default 1)")
    an.set_defaults(fn=cmd_anpr)

    jo = sub.add_parser("journal", help="the journal's log history (R3.19)")
    josub = jo.add_subparsers(dest="action", required=True)
    je = josub.add_parser("export", help="write the signed journal of a period (otolane-journal-export/1)")
    je.add_argument("--config", required=True)
    je.add_argument("--from", dest="start", required=True, help="first day (or ISO time), e.g. 2026-11-01")
    je.add_argument("--to", dest="end", required=True, help="the day after the last (or ISO time)")
    je.add_argument("--out", help="folder to write into (default: the lane's eis.exports_dir)")
    je.add_argument("--json", action="store_true")
    je.set_defaults(fn=cmd_journal_export)
    jv = josub.add_parser("verify", help="check an export: its schema, its hash chain and its signature")
    jv.add_argument("file")
    jv.add_argument("--public-key", help="the lane's public key (PEM: keys/lane-sign.key.pub) to hold it to")
    jv.add_argument("--json", action="store_true")
    jv.set_defaults(fn=cmd_journal_verify)

    s = sub.add_parser("sim", help="device simulators on pseudo-terminals")
    ssub = s.add_subparsers(dest="device", required=True)
    sd = ssub.add_parser("device", help="a stand, by its profile")
    sd.add_argument("--profile", required=True, help="profile name, e.g. jx-brake, nanhua-nha503")
    sd.add_argument(
        "--link", required=True, help="path of the symlink to the pty, or tcp:HOST:PORT for a networked stand"
    )
    sd.add_argument("--serial", default="SIM-0001")
    sd.add_argument("--model", help="model the stand reports (default: the profile's)")
    sd.add_argument("--scenario", default="good")
    sd.add_argument("--speed", type=float, default=1.0)
    sd.add_argument("--rate", type=float, help="frames per second of a streaming stand (default 10)")
    sd.add_argument("--garble", type=float, default=0.0, help="share of corrupted frames")
    sd.add_argument("--control", help="Unix socket for fault orders (see: otolane sim fault)")
    sd.set_defaults(fn=cmd_sim_device)
    sf = ssub.add_parser(
        "fault",
        help="break a running simulator on command",
        description="Orders: garble SHARE | stuck on|off | slow SECONDS|off | serial TEXT | "
        "pull SECONDS | clear | status",
    )
    sf.add_argument("control", help="the simulator's --control socket")
    sf.add_argument("order", nargs="+", help="e.g. stuck on")
    sf.set_defaults(fn=cmd_sim_fault)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except OtolaneError as exc:
        print(f"otolane: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or args.verbose:
            return _internal(exc, args.verbose)
        # a simulator's or the EIS simulator's port is taken: said as such, not as our fault
        print(f"otolane: cannot listen: {exc.strerror or exc}; choose another --port", file=sys.stderr)
        return 2
    except Exception as exc:  # never a traceback on a user's screen; -v shows it
        return _internal(exc, args.verbose)


def _internal(exc: Exception, verbose: bool) -> int:
    if verbose:
        raise exc
    print(
        f"otolane: internal error ({type(exc).__name__}: {exc}); run again with -v for details",
        file=sys.stderr,
    )
    return 3


if __name__ == "__main__":
    sys.exit(main())

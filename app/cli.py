"""``otolane``: one command line for the lane. ``otolane --help`` lists the commands."""

# This module is the parser and the error handling of every command; the commands themselves live by
# group in app/commands/ (the lane and its records; the simulators and tools).

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from pathlib import Path

from app.commands import backup, card, lane, settings, setup, tools, update
from app.errors import OtolaneError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="otolane", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="more detail in the log")
    p.add_argument(
        "--lang",
        choices=("kk", "ru", "en"),
        default=None,
        help="the language errors are said in (default: OTOLANE_LANG, else the locale's, else English)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("daemon", help="run the lane daemon (laned)")
    d.add_argument("--config", required=True, help="lane configuration (TOML)")
    d.add_argument("--speed", type=float, help="lane clock speed (training lanes only)")
    d.set_defaults(fn=lane.cmd_daemon)

    t = sub.add_parser("tui", help="open the lane screen (console, SSH)")
    g = t.add_mutually_exclusive_group(required=True)
    g.add_argument("--config", help="lane configuration: its socket is used")
    g.add_argument("--socket", help="the daemon's socket")
    t.add_argument("--lang", choices=("kk", "ru", "en"), default="ru")
    t.set_defaults(fn=lane.cmd_tui)

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
    m.set_defaults(fn=lane.cmd_demo)

    c = sub.add_parser("config", help="configuration tools")
    csub = c.add_subparsers(dest="action", required=True)
    cc = csub.add_parser("check", help="validate a configuration file")
    cc.add_argument("file")
    cc.set_defaults(fn=lane.cmd_config_check)

    u = sub.add_parser("user", help="local accounts (R3.17)")
    usub = u.add_subparsers(dest="action", required=True)
    for name, hlp in (
        ("add", "add a user"),
        ("passwd", "set a password"),
        ("lock", "lock an account (its sessions end at once)"),
        ("unlock", "unlock an account (also clears a lock-out after failed logins)"),
        ("role", "change a user's role (its sessions end at once)"),
        ("bind-eds", "bind the IIN of a user's NCA key (signature login, R3.1)"),
        ("rights", "a user's permissions; --grant, --withdraw or --default one (R10.4, R10.5)"),
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
        if name == "rights":
            from app.rights import NAMES

            one = a.add_mutually_exclusive_group()
            for state in ("grant", "withdraw", "default"):
                one.add_argument(f"--{state}", choices=NAMES, metavar="PERMISSION")
        a.set_defaults(fn=lane.cmd_user)

    i = sub.add_parser("integrity", help="database integrity (R3.13)")
    isub = i.add_subparsers(dest="action", required=True)
    ic = isub.add_parser(
        "check",
        help="the engine's own check, every hash chain against the signed checkpoints and the cards' "
        "anchors, and the state tables against the journal",
    )
    ic.add_argument("--config", required=True)
    ic.add_argument("--json", action="store_true", help="the report as one JSON object")
    ic.add_argument(
        "--new",
        action="store_true",
        help="only what is new since the last good check (the rows it ended on must still be as it saw "
        "them); without it, everything",
    )
    ic.add_argument("--resume", action="store_true", help="continue the check that was interrupted")
    ic.add_argument(
        "--progress",
        choices=("auto", "line", "json", "none"),
        default="auto",
        help="on stderr: one updating line (auto: on a terminal), a JSON object a second, or nothing",
    )
    ic.set_defaults(fn=lane.cmd_integrity)

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
    ec.set_defaults(fn=lane.cmd_eds_check)

    settings.add_parser(sub)
    fw = sub.add_parser("firewall", help="the kiosk's nftables ruleset from the configuration (R10.1)")
    fw.add_argument("--config", required=True)
    fw.set_defaults(fn=lane.cmd_firewall)
    ld = sub.add_parser(
        "lockdown", help="lock the operator's console down: USB storage, SysRq, other consoles (D1, R10.1)"
    )
    ld.add_argument("--config", required=True)
    ld.add_argument("--check", action="store_true", help="say what this kiosk has of it, change nothing")
    ld.add_argument("--root", default="/", help="write under this folder instead of / (a scratch root)")
    ld.set_defaults(fn=lane.cmd_lockdown)
    backup.add_parser(sub)
    update.add_parser(sub)
    setup.add_parser(sub)

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
        a.set_defaults(fn=lane.cmd_eis_key)

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
    e.set_defaults(fn=tools.cmd_eis_sim)

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
    cs.set_defaults(fn=tools.cmd_camera_sim)

    ps = sub.add_parser("printer-sim", help="run a virtual printer behind a private CUPS (the demo's)")
    ps.add_argument("--out", required=True, help="folder each printed job is written to (NNNN.pdf)")
    ps.add_argument("--link", required=True, help="the CUPS socket's link ([printer] server)")
    ps.add_argument("--queue", default="demo-printer", help="the CUPS queue's name")
    ps.set_defaults(fn=tools.cmd_printer_sim)

    an = sub.add_parser("anpr", help="read the plate on images (R3.2)")
    an.add_argument("images", nargs="*", metavar="IMAGE")
    an.add_argument("--json", action="store_true", help="one JSON object per image")
    an.add_argument(
        "--eval",
        metavar="FOLDER",
        help="measure on a labelled set: images and labels.csv (file,plate,country,…; docs/anpr.md)",
    )
    an.add_argument("--threads", type=int, default=1, help="cores the recogniser may use (default 1)")
    an.set_defaults(fn=tools.cmd_anpr)

    jo = sub.add_parser("journal", help="the journal's log history (R3.19)")
    josub = jo.add_subparsers(dest="action", required=True)
    je = josub.add_parser("export", help="write the signed journal of a period (otolane-journal-export/1)")
    je.add_argument("--config", required=True)
    je.add_argument("--from", dest="start", required=True, help="first day (or ISO time), e.g. 2026-11-01")
    je.add_argument("--to", dest="end", required=True, help="the day after the last (or ISO time)")
    je.add_argument("--out", help="folder to write into (default: the lane's eis.exports_dir)")
    je.add_argument("--json", action="store_true")
    je.set_defaults(fn=lane.cmd_journal_export)
    jv = josub.add_parser("verify", help="check an export: its schema, its hash chain and its signature")
    jv.add_argument("file")
    jv.add_argument("--public-key", help="the lane's public key (PEM: keys/lane-sign.key.pub) to hold it to")
    jv.add_argument("--config", help="or the lane's configuration: its own public key")
    jv.add_argument("--json", action="store_true")
    jv.set_defaults(fn=lane.cmd_journal_verify)

    ca = sub.add_parser("card", help="formed cards")
    casub = ca.add_subparsers(dest="action", required=True)
    cv = casub.add_parser("verify", help="check a card's PDF, a photo of the paper, or its QR code's text")
    cv.add_argument("file", nargs="?", help="the card's PDF, or a JPEG/PNG photo or scan of it")
    cv.add_argument("--qr", help="the QR code's text, as a phone read it")
    cv.add_argument("--public-key", help="the lane's public key (PEM: keys/lane-sign.key.pub)")
    cv.add_argument("--config", help="or the lane's configuration: its own public key")
    cv.add_argument(
        "--anchors", help="the lane's checkpoint file (anchors.log): a checkpoint must cover the card"
    )
    cv.add_argument("--cms", help="the employee's signature of the card (.p7s: GET /v1/cards/{id}/signature)")
    cv.add_argument("--json", action="store_true")
    cv.set_defaults(fn=card.cmd_card_verify)

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
    sd.set_defaults(fn=tools.cmd_sim_device)
    sf = ssub.add_parser(
        "fault",
        help="break a running simulator on command",
        description="Orders: garble SHARE | stuck on|off | slow SECONDS|off | serial TEXT | "
        "pull SECONDS | clear | status",
    )
    sf.add_argument("control", help="the simulator's --control socket")
    sf.add_argument("order", nargs="+", help="e.g. stuck on")
    sf.set_defaults(fn=tools.cmd_sim_fault)
    return p


#: refusals a timer tells apart from failures (kiosk/otolane-update.service: SuccessExitStatus)
EXIT = {"update_busy": update.DEFERRED}


#: commands that can pose as any stand, camera, printer or EIS: never in a production release (T1)
TRAINING_ONLY = {
    lane.cmd_demo: "otolane demo",
    tools.cmd_sim_device: "otolane sim device",
    tools.cmd_sim_fault: "otolane sim fault",
    tools.cmd_camera_sim: "otolane camera-sim",
    tools.cmd_eis_sim: "otolane eis-sim",
    tools.cmd_printer_sim: "otolane printer-sim",
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.fn in TRAINING_ONLY:
            from app.release.manifest import require_training

            require_training(TRAINING_ONLY[args.fn])
        return int(args.fn(args))
    except OtolaneError as exc:
        print(f"otolane: {said(exc, cli_lang(args.lang))}", file=sys.stderr)
        return EXIT.get(exc.code, 2)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (``otolane setting list | head``): as any tool of the shell, no word
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's flush at exit
        return 141
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or args.verbose:
            return _internal(exc, args.verbose)
        # a simulator's or the EIS simulator's port is taken: said as such, not as our fault
        print(f"otolane: cannot listen: {exc.strerror or exc}; choose another --port", file=sys.stderr)
        return 2
    except Exception as exc:  # never a traceback on a user's screen; -v shows it
        return _internal(exc, args.verbose)


def cli_lang(asked: str | None) -> str:
    """The language the command line speaks: --lang, OTOLANE_LANG, the locale (kk_KZ, ru_RU …)."""
    import os

    for value in (asked, os.environ.get("OTOLANE_LANG"), os.environ.get("LC_ALL"), os.environ.get("LANG")):
        lang = (value or "")[:2].lower()
        if lang in ("kk", "ru", "en"):
            return lang
    return "en"


def said(exc: OtolaneError, lang: str) -> str:
    """An error in the person's language, from the screens' catalog of errors (issue #23 (7)) —
    read as data: ``app`` imports no ``tui`` code; the daemon's English words where it has none."""
    import string
    import tomllib

    if lang == "en":  # the daemon's own words: the most detail (a file's name, the exact reason)
        return exc.message
    path = Path(__file__).resolve().parents[1] / "tui" / "i18n" / f"{lang}.toml"
    try:
        template = tomllib.loads(path.read_text(encoding="utf-8")).get("error", {}).get(exc.code)
    except (OSError, ValueError):
        return exc.message
    if not isinstance(template, str):
        return exc.message
    params = {k: v for k, v in exc.params.items() if isinstance(k, str)}
    fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    try:
        return template.format_map({f: params.get(f, "…") for f in fields}) if fields else template
    except (KeyError, ValueError, AttributeError, IndexError):  # a field of a shape not ours
        return exc.message


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

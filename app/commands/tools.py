"""The commands of the simulators and tools: the EIS simulator, the simulated camera and stands, fault
orders to a running simulator, and plate recognition on image files. None of them
touches a lane's database."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from app.commands.common import setup_logging
from app.errors import OtolaneError


def cmd_eis_sim(args: argparse.Namespace) -> int:
    from app.eis.simulator import serve

    setup_logging(None, args.verbose)
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


def cmd_printer_sim(args: argparse.Namespace) -> int:
    """A virtual printer behind a private CUPS until killed: each job lands as a PDF in --out."""
    from drivers.printer.sim import cups_missing, serve

    setup_logging(None, args.verbose)
    missing = cups_missing()
    if missing:
        raise OtolaneError("printer_no_cups", f"cannot run the virtual printer: {missing}")
    serve(Path(args.out).resolve(), Path(args.link).absolute(), args.queue)
    return 0


def cmd_camera_sim(args: argparse.Namespace) -> int:
    """A simulated lane camera (MJPEG, JPEG snapshot, ONVIF, and RTSP with --rtsp-port) until killed."""
    import signal

    from app.anpr.scenes import camera_frames
    from drivers.camera.base import CameraIdentity
    from drivers.camera.onvif import read_account
    from drivers.camera.sim import CameraSim

    setup_logging(None, args.verbose)

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


def cmd_anpr(args: argparse.Namespace) -> int:
    """``otolane anpr IMAGE…``: one JSON object per image (file, plate, confidence, bbox, ms)."""

    from app.anpr.recognise import Recogniser

    setup_logging(None, args.verbose)
    if not args.images and not args.eval:
        print("otolane anpr: give images to read, or --eval FOLDER", file=sys.stderr)
        return 2
    recogniser = Recogniser(threads=args.threads)
    if args.eval:
        return _anpr_eval(recogniser, Path(args.eval), args.json)
    found = 0
    for file in args.images:
        image, error = _image(Path(file))
        if image is None:
            out: dict[str, Any] = {"file": file, "plate": None, "error": error}
        else:
            out = {"file": file} | recogniser.read(image).as_dict()
            found += out["plate"] is not None
        if args.json:
            print(json.dumps(out, ensure_ascii=False), flush=True)
        else:
            said = out.get("error") or f"{out['plate'] or '—'} {out['confidence']}"
            print(f"{file}: {said}")
    return 0 if found == len(args.images) else 1


def _anpr_eval(recogniser: Any, folder: Path, as_json: bool) -> int:
    """``otolane anpr --eval FOLDER``: each image of a labelled set read, then the set's figures."""
    from app.anpr import evaluate

    try:
        samples = evaluate.load_set(folder)
    except OtolaneError as exc:
        print(f"otolane anpr: {exc.message}", file=sys.stderr)
        return 2

    def read(path: Path) -> tuple[str | None, float, float]:
        image, error = _image(path)
        if image is None:  # counted as not read, and said: a damaged file is not a recogniser's miss
            print(f"otolane anpr: {path.name}: {error}", file=sys.stderr)
            return None, 0.0, 0.0
        got = recogniser.read(image)
        return got.plate, got.confidence, got.ms

    outcomes = evaluate.run(samples, read)
    for o in outcomes:
        row = {"file": o.sample.file.name, "plate": o.sample.plate, "read": o.read, "ms": round(o.ms, 1)}
        if as_json:
            print(json.dumps(row, ensure_ascii=False), flush=True)
        elif not o.exact:
            print(f"{row['file']}: {o.read or '—'} (is {o.sample.plate})")
    summary = evaluate.by_group(outcomes)
    if as_json:
        print(json.dumps({"figures": summary}, ensure_ascii=False))
    else:
        for group, f in summary.items():
            if f["images"]:
                print(
                    f"{group}: {f['images']} images, {f['exact_percent']} % exact, "
                    f"{f['chars_percent']} % characters, p50 {f['ms_p50']} ms, p95 {f['ms_p95']} ms"
                )
    return 0


#: the largest image file ``otolane anpr`` reads
MAX_IMAGE_BYTES = 64 * 2**20


def _image(path: Path) -> tuple[Any, str]:
    """An image's pixels (BGR) and "", or None and why not: its header is read first, and an image
    that declares more pixels than a camera sends is not decoded (a 1 KB file may declare 30 000²)."""
    from drivers.camera.base import CameraError
    from drivers.camera.web import decode_bgr

    not_image = "not an image this lane can read (JPEG, PNG)"
    try:
        if path.stat().st_size > MAX_IMAGE_BYTES:
            return None, f"larger than {MAX_IMAGE_BYTES // 2**20} MiB: not a camera's picture"
        data = path.read_bytes()
    except OSError:
        return None, not_image
    try:
        return decode_bgr(data), ""  # the recogniser reads BGR, as OpenCV gives it
    except CameraError as e:
        if e.code == "cam_frame_too_large":
            return None, f"{e.params['width']}×{e.params['height']} pixels: more than a camera sends"
        return None, not_image


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

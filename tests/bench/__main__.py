"""``./lane bench``: figures, not assertions. Prints each figure beside the saved baseline
(``tests/bench/baseline.json``); ``./lane bench --save`` makes the current run the baseline.

* frame written on the pty → reading received by a WebSocket client, p50/p99, at 50 frames/s;
* the daemon's CPU (% of one core) and RSS while it streams;
* outbox throughput to the loopback EIS simulator (cards/s, REST and SOAP; goal ≥ 200 REST), events/s
  through the feed, and what signing one card costs by route (GOST 2015-512; issue #11);
* JX decoder throughput on one core (frames/s);
* card assembly from a full lane's readings, and its PDF (ms, p50/p99; goal ≤ 300 ms on one core);
* plate recognition (``tests/bench/anpr.py``) on real photographs and on the rendered scenes: exact
  plates and characters right, ms per frame on one core, within a camera's plate region, the plate
  finders side by side, beside Debian's tesseract on the same images;
* cameras (issue #9): the CPU one camera's stream costs the lane (RTSP idle = key frames only, RTSP
  armed, MJPEG), and the photo's trigger → stored latency (grab, R6 check, EXIF, encryption, file
  fsync, chained row; goal ≤ 200 ms);
* the lane screen at 80×24 while the daemon recognises plates without pause (R3.2 on a kiosk), and
  what one look of the arrival watch costs (``tests/bench/cameras.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from app import config as config_mod
from app.api.client import LaneClient
from app.demo_config import DemoDevice, write_config
from app.eis.outbox import OutboxWorker
from app.eis.simulator import EisSimulator
from app.journal import Journal
from app.storage.chain import ChainWriter
from app.storage.crypto import Keyring, write_secret_file
from app.storage.db import close_db, open_db
from app.storage.models import Card, Outbox
from drivers.brake.profiles import DAN, JX_BRAKE, SCENARIOS
from drivers.families import jx
from drivers.sim.device import ProfileSimulator
from drivers.sim.pty import PtyPort
from tests.bench.anpr import bench_anpr
from tests.bench.cameras import bench_arrival_look, bench_cameras, bench_tui_anpr
from tests.bench.screen import bench_tui
from tests.rig import PASSWORDS, create_users, sample_card, serve_loopback, store_card

BASELINE = Path(__file__).with_name("baseline.json")
RATE = 50.0
WINDOW_S = 20.0


class CountingSim(ProfileSimulator):
    """Sends a counter as the left force, and remembers when each frame was written."""

    def __init__(self, port: PtyPort) -> None:
        super().__init__(port, JX_BRAKE, SCENARIOS["good"], serial="2231-0457", rate=RATE)
        self.n = 0
        self.written: dict[int, float] = {}
        self.live = JX_BRAKE.reply("live")

    def tick(self) -> None:
        for name, byte in self._commands():
            self.on_command(name, byte)
        self.n = (self.n + 1) % 10000
        self.scenario["brake.force.left"] = self.n * DAN
        self.written[self.n] = time.perf_counter()
        self.send(self.build(self.live, live=False))


async def bench_stream(tmp: Path, devices: int = 1, with_tui: bool = True) -> dict[str, float]:
    home = tmp / f"stream{devices}"
    home.mkdir()
    stands = tuple(
        DemoDevice(f"brake{i}" if i else "brake", "brake", "jx-brake", "2231-0457", "BT-4000")
        for i in range(devices)
    )
    cfg_file = write_config(home, 1.0, 9, stands)  # EIS unused here
    write_secret_file(home / "keys" / "eis-id.key", "BENCH\n")
    cfg = config_mod.load(cfg_file)
    await create_users(cfg)
    stop = asyncio.Event()
    sims: dict[str, CountingSim] = {}
    ports, tasks = [], []
    for d in stands:
        port = PtyPort(home / "dev" / d.id)
        sims[d.id] = CountingSim(port)
        ports.append(port)
        tasks.append(asyncio.create_task(sims[d.id].run(stop)))
    daemon = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "daemon", "--config", str(cfg_file)],
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not cfg.socket_path.exists():
        await asyncio.sleep(0.1)
    client = LaneClient(str(cfg.socket_path))
    await client.login("operator", PASSWORDS["operator"])
    latencies: list[float] = []
    proc = psutil.Process(daemon.pid)

    async def collect() -> None:
        async for ev in client.stream():
            if ev.get("type") == "reading" and ev["channel"] == "brake.force.left":
                sim = sims[ev["device"]]
                n = round(ev["value"] / DAN)
                t0 = sim.written.get(n)
                if t0 is not None:
                    latencies.append((time.perf_counter() - t0) * 1000)

    task = asyncio.create_task(collect())
    await asyncio.sleep(3)  # warm up: connect, identify
    latencies.clear()
    cpu0 = proc.cpu_times()
    t0 = time.perf_counter()
    await asyncio.sleep(WINDOW_S)
    cpu1 = proc.cpu_times()
    elapsed = time.perf_counter() - t0
    rss = proc.memory_info().rss
    task.cancel()
    await client.close()
    tui = await bench_tui(str(cfg.socket_path)) if with_tui else {}
    daemon.terminate()
    daemon.wait()
    stop.set()
    await asyncio.gather(*tasks)
    for port in ports:
        port.close()
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / elapsed * 100
    q = statistics.quantiles(latencies, n=100)
    tag = "" if devices == 1 else f"_{devices}dev"
    return {
        f"stream{tag}_frames": float(len(latencies)),
        f"stream{tag}_latency_p50_ms": round(q[49], 2),
        f"stream{tag}_latency_p99_ms": round(q[98], 2),
        f"daemon{tag}_cpu_percent_of_core": round(cpu, 1),
        f"daemon{tag}_rss_mib": round(rss / 2**20, 1),
    } | tui


async def bench_outbox(tmp: Path, n: int = 300, route: str = "rest", events: int = 0) -> dict[str, float]:
    """Cards delivered per second to the loopback simulator by one route; with ``events``, that many
    inspection events sent through the feed first (events/s)."""
    from app.eis.client import ROUTES

    folder = tmp / f"outbox-{route}"
    folder.mkdir()
    eis = EisSimulator(folder / "eis.db")
    runner, port = await serve_loopback(eis.app())
    url = f"http://127.0.0.1:{port}/api/v1"
    await open_db(f"sqlite://{folder / 'outbox.db'}")
    keyring = Keyring.create(folder / "data.key")
    writer = ChainWriter(Card)
    journal = Journal()
    for _ in range(n):
        await store_card(keyring, sample_card(str(uuid.uuid4()), lane={"name": "bench"}), writer)
    for i in range(events):
        await journal.write(
            "operator", "step_started", inspection_id=f"insp-{i // 30}", inspection=1, step="x"
        )
    client = ROUTES[route](url, "BENCH", 10)
    worker = OutboxWorker(
        client, keyring, journal, "test", lambda: None, lane="bench", events_on=bool(events)
    )
    out: dict[str, float] = {}
    if events:
        t0 = time.perf_counter()
        while not await worker.send_events():
            pass
        out[f"events_{route}_per_s"] = round(events / (time.perf_counter() - t0), 1)
    t0 = time.perf_counter()
    while await Outbox.filter(status="pending").count():
        await worker.deliver_due()
    dt = time.perf_counter() - t0
    await client.close()
    await close_db()
    await runner.cleanup()
    key = "outbox_cards_per_s" if route == "rest" else f"outbox_{route}_cards_per_s"
    return out | {key: round(n / dt, 1)}


def bench_signing(n: int = 10) -> dict[str, float]:
    """What signing one card costs the employee's session (G3), by route, GOST 2015-512: a detached
    CMS of the body (REST) and a WS-Security envelope (SOAP); and the simulator's check of each."""
    from app.eds.cms import verify_detached
    from app.eds.training import training_signer
    from app.eds.xmldsig import verify_soap
    from app.eis.client import RestClient, SoapClient
    from app.eis.contract import body

    card = sample_card(
        "bench",
        items=[{"id": f"i{k}", "value": k / 3, "norm": {"max": 20}, "passed": True} for k in range(40)],
    )
    with tempfile.TemporaryDirectory() as tmp:
        signer = training_signer(Path(tmp))
    out: dict[str, float] = {"card_body_kib": round(len(body(card)) / 1024, 1)}
    for route, cls in (("rest", RestClient), ("soap", SoapClient)):
        client = cls("http://127.0.0.1:1", "k", 1)
        signs, checks = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            sig = client.sign(card, signer)
            t1 = time.perf_counter()
            if route == "rest":
                import base64

                verify_detached(base64.b64decode(sig), body(card))
            else:
                verify_soap(sig.encode())
            checks.append((time.perf_counter() - t1) * 1000)
            signs.append((t1 - t0) * 1000)
        out[f"sign_{route}_gost_ms_p50"] = round(statistics.median(signs), 1)
        out[f"verify_{route}_gost_ms_p50"] = round(statistics.median(checks), 1)
    return out


def bench_families(n: int = 50_000) -> dict[str, float]:
    """Frames per second on one core through each family's codec and the profile's field table."""
    from drivers.device import decode
    from drivers.families.codecs import codec_for
    from drivers.registry import PROFILES, SCENARIOS
    from drivers.sim.device import ProfileSimulator

    out: dict[str, float] = {}
    for name in ("jx-brake", "nanhua-nht6", "hy-sound", "modbus-tint-meter"):
        profile = PROFILES[name]
        reply = profile.reply("live") if profile.family == "jx" else profile.replies[0]
        line = PtyPort()
        sim = ProfileSimulator(line, profile, SCENARIOS[name]["good"], seed=1)  # its frame builder only
        line.close()
        frame = sim.build(
            reply, echo=profile.commands.get(profile.poll or "", b"\0")[:1][0] if profile.commands else 0
        )
        codec = codec_for(profile) if profile.family != "modbus" else None
        t0 = time.process_time()
        for _ in range(n):
            if codec is not None and profile.poll is None:  # a streaming stand: bytes only
                frames = codec.feed(frame)
            elif codec is not None:
                codec.command(profile.poll or "")
                codec.expect(profile.answers.get(profile.poll or ""))
                frames = codec.feed(frame)
            else:
                frames = [frame]
            decode(name, profile, reply, frames[0], 0.0)  # type: ignore[arg-type]
        dt = time.process_time() - t0
        out[f"{profile.family}_{name}_frames_per_s"] = round(n / dt)
    return out


def bench_decoder(n: int = 200_000) -> dict[str, float]:
    frame = jx.encode(b"T", b"03420338")
    data = frame * n
    d = jx.Decoder()
    t0 = time.process_time()
    got = 0
    for i in range(0, len(data), 4096):
        got += len(d.feed(data[i : i + 4096]))
    dt = time.process_time() - t0
    assert got == n
    return {"jx_decoder_frames_per_s": round(n / dt)}


def bench_card(n: int = 20) -> dict[str, float]:
    """A full lane's card (every kind of stand, 2 axles) assembled from its readings, then printed."""
    from app.documents.card_pdf import render_card
    from app.lane.card import assemble_card
    from app.storage.models import Inspection
    from tests.unit.test_card import _plan, _readings

    steps = _plan("petrol")
    readings = _readings(steps) * 20  # a lane stores many live values per channel
    insp = Inspection(
        id="b", number=1, category="M1", fuel="petrol", axles=2, operator="op", started=0.0, training=True,
        steps=steps,
    )  # fmt: skip
    lane = {"name": "lane-1", "centre": "ТКО", "latitude": 0.0, "longitude": 0.0}
    from app.documents.seal import make_seal
    from app.storage.anchor import LaneKey

    key = LaneKey.create(Path(tempfile.mkdtemp()) / "lane-sign.key")  # the QR's signature is timed too
    assemble, pdf = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        card = assemble_card(
            contract="otolane-eis/1", card_id=str(uuid.uuid4()), insp=insp,
            vehicle={"plate": "123ABC02", "year": 2015}, lane=lane,
            inspector={"username": "op"}, finished=1500.0, readings=readings,
        )  # fmt: skip
        t1 = time.perf_counter()
        render_card(card, seal=make_seal(card, "", key.fingerprint, key.sign))
        t2 = time.perf_counter()
        assemble.append((t1 - t0) * 1000)
        pdf.append((t2 - t1) * 1000)

    def pct(xs: list[float], q: float) -> float:
        return round(sorted(xs)[min(len(xs) - 1, int(q * len(xs)))], 1)

    return {
        "card_assemble_ms_p50": pct(assemble, 0.5),
        "card_pdf_ms_p50": pct(pdf, 0.5),
        "card_pdf_ms_p99": pct(pdf, 0.99),
        "card_total_ms_p50": pct([a + b for a, b in zip(assemble, pdf, strict=True)], 0.5),
    }


def bench_installation() -> dict[str, float]:
    """R10.7: the daemon holds every file of its release to the signed manifest at each start; here
    this environment stands in for a release (it is larger: the tests' libraries are in it)."""
    from app.release.manifest import files_of

    folder = Path(sys.prefix)
    t0 = time.perf_counter()
    files = files_of(folder)
    seconds = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return {
        "install_check_files": len(files),
        "install_check_mb": round(size / 1e6, 1),
        "install_check_s": round(seconds, 2),
        "install_check_mb_per_s": round(size / 1e6 / seconds, 1),
    }


def bench_eds(n: int = 20) -> dict[str, float]:
    """GOST 2015-512 sign and verify (ours and gostcrypto's affine arithmetic, the baseline we left),
    and opening + checking a key container as signature login does (container, chain, CRL, challenge)."""
    from gostcrypto import gostsignature

    from app.eds import certs, gost
    from app.eds.signer import open_and_check
    from app.eds.training import container, employee, issue, make_pki

    c = gost.PARAMSET_A_512
    d = (12345678901234567890).to_bytes(64, "little")
    pub = gost.nca_public(c, d)
    sign, verify = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        sig = gost.nca_sign(c, d, b"card")
        t1 = time.perf_counter()
        gost.nca_verify(c, pub, b"card", sig)
        t2 = time.perf_counter()
        sign.append((t1 - t0) * 1000)
        verify.append((t2 - t1) * 1000)
    ref = gostsignature.new(gostsignature.MODE_512, gostsignature.CURVES_R_1323565_1_024_2019[c.name])
    h = bytearray(64)
    h[0] = 1
    t0 = time.perf_counter()
    rsig = ref.sign(bytearray(d[::-1]), h)
    t1 = time.perf_counter()
    ref.verify(ref.public_key_generate(bytearray(d[::-1])), h, rsig)
    t2 = time.perf_counter()
    pki = make_pki()
    who = issue(employee("900101300123"), pki.ca)
    data = container(who, "pw", [pki.ca])
    with tempfile.TemporaryDirectory() as tmp:
        root, ca, crl = pki.write(Path(tmp))
        trust = certs.TrustStore.from_files([root, ca], [crl])
        login = []
        for _ in range(5):
            t3 = time.perf_counter()
            assert open_and_check(data, "pw", trust).verdict.valid
            login.append((time.perf_counter() - t3) * 1000)

    def pct(xs: list[float], q: float) -> float:
        return round(sorted(xs)[min(len(xs) - 1, int(q * len(xs)))], 1)

    return {
        "gost_sign_ms_p50": pct(sign, 0.5),
        "gost_verify_ms_p50": pct(verify, 0.5),
        "gostcrypto_sign_ms": round((t1 - t0) * 1000, 1),
        "gostcrypto_verify_ms": round((t2 - t1) * 1000, 1),
        "eds_open_and_check_ms_p50": pct(login, 0.5),
    }


async def bench_eds_login(tmp: Path, n: int = 10) -> dict[str, float]:
    """Signature login end to end: the API call through the daemon's socket to the session."""
    from app.eds.training import container, employee, issue, make_pki
    from tests.rig import start_rig

    pki = make_pki()
    who = issue(employee("900101300123"), pki.ca)
    home = tmp / "eds-lane"
    root, ca, crl = pki.write(home / "pki")
    (home / "usb").mkdir(parents=True)
    (home / "usb" / "k.p12").write_bytes(container(who, "Key-Pass-1", [pki.ca]))
    extra = f'\n[eds]\nca = ["{root}", "{ca}"]\ncrl = ["{crl}"]\nkey_dirs = ["usb"]\n'
    rig = await start_rig(home, extra_config=extra)
    times = []
    try:
        admin = await rig.client("admin")
        await admin.call("POST", "/v1/users/operator/eds", {"iin": "900101300123"})
        for _ in range(n):
            c = await rig.client()
            t0 = time.perf_counter()
            await c.login_eds(str(home / "usb" / "k.p12"), "Key-Pass-1")
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        await rig.close()
    return {
        "eds_login_api_ms_p50": round(statistics.median(times), 1),
        "eds_login_api_ms_max": round(max(times), 1),
    }


def main() -> int:
    if "--history" in sys.argv[1:]:  # issue #20: a lane of N inspections, then its figures
        from tests.bench.history import main as history

        return history(sys.argv)
    save = "--save" in sys.argv[1:]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="otolane-bench-") as tmp:
        results |= bench_anpr()  # tests/bench/anpr.py: the real and the rendered sets
        results |= asyncio.run(bench_cameras(Path(tmp)))
        results |= asyncio.run(bench_tui_anpr(Path(tmp)))
        results |= bench_arrival_look()
        results |= bench_decoder()
        results |= bench_card()
        results |= bench_installation()
        results |= bench_eds()
        results |= asyncio.run(bench_eds_login(Path(tmp)))
        results |= bench_families()
        results |= bench_signing()
        results |= asyncio.run(bench_outbox(Path(tmp)))
        results |= asyncio.run(bench_outbox(Path(tmp), route="soap", events=600))
        results |= asyncio.run(bench_stream(Path(tmp)))
        results |= asyncio.run(bench_stream(Path(tmp), devices=6, with_tui=False))
    base = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    print(f"{'figure':32} {'now':>12} {'baseline':>12}")
    for k, v in results.items():
        print(f"{k:32} {v:>12} {base.get(k, '—'):>12}")
    print(f"(machine: {os.cpu_count()} cores; stream at {RATE:g} frames/s for {WINDOW_S:g} s)")
    if save:
        BASELINE.write_text(json.dumps(results, indent=2) + "\n")
        print(f"saved as the baseline: {BASELINE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

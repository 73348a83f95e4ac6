"""What the lane screen was told, kept and told again (issue #23: the screens' snapshots).

A screen is a function of what the daemon answers and streams, the terminal's size and the
language — and of the clock, which the snapshot tests hold still. :class:`Recorder` sits between a
screen and the real daemon (``tests/rig.py``) on a Unix socket of its own and keeps every answer
and the stream's first seconds; :class:`Replay` answers a screen from that record, so a snapshot
shows the same pixels on every machine, every run. ``python -m tests.replay`` records again (after
the API changed: a request the record does not hold fails the snapshot test, naming it)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

#: the stream's messages kept from the start of each connection: the snapshot and what followed
STREAM_S = 1.0
DATA = Path(__file__).parent / "data" / "screens"


def request_key(method: str, path_qs: str, body: bytes) -> str:
    """A request as the record knows it: method, path and query, and the body's hash (no password
    the walks type is kept)."""
    digest = hashlib.sha256(body).hexdigest()[:12] if body else "-"
    return f"{method} {path_qs} {digest}"


class Recorder:
    """A proxy on ``sock`` to the daemon on ``upstream``: forwards, and keeps what it was told."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.http: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.stream: list[Any] = []
        self.session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=self.upstream))
        headers = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
        if request.path == "/v1/stream":
            return await self._stream(request, headers)
        body = await request.read()
        async with self.session.request(
            request.method, f"http://laned{request.path_qs}", data=body or None, headers=headers
        ) as r:
            raw = await r.read()
            ctype = r.headers.get("Content-Type", "application/json")
        key = request_key(request.method, request.path_qs, body)
        self.http[key].append({"status": r.status, "type": ctype, "body": base64.b64encode(raw).decode()})
        return web.Response(status=r.status, body=raw, headers={"Content-Type": ctype})

    async def _stream(self, request: web.Request, headers: dict[str, str]) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        assert self.session is not None
        first = not self.stream
        start = time.monotonic()
        async with self.session.ws_connect("http://laned/v1/stream", headers=headers) as up:
            async for msg in up:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                if first and time.monotonic() - start < STREAM_S:
                    self.stream.append(json.loads(msg.data))
                await ws.send_str(msg.data)
        return ws

    def save(self, file: Path) -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        record = {"http": dict(sorted(self.http.items())), "stream": self.stream}
        file.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n")

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


class Replay:
    """Answers a screen from a record, in a thread of its own (the snapshot runs the screen's
    own event loop). Each request's answers are given in the order they were recorded, the last
    one again after; a request the record does not hold is kept in ``missing`` and answered 599."""

    def __init__(self, record: Path, sock: Path) -> None:
        self.record = json.loads(record.read_text())
        self.sock = sock
        self.missing: list[str] = []
        self.busy = 0  # requests being answered
        self.last = time.monotonic()  # when the last answer went
        self._given: dict[str, int] = defaultdict(int)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Replay:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the replay did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        await web.UnixSite(runner, str(self.sock)).start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/v1/stream":
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            for msg in self.record["stream"]:
                await ws.send_json(msg)
            assert self._stop is not None
            await self._stop.wait()  # the lane goes on: nothing more to tell
            return ws
        self.busy += 1
        try:
            return await self._answer(request)
        finally:
            self.busy -= 1
            self.last = time.monotonic()

    async def quiet(self, pilot: Any, settle: float = 0.3, timeout: float = 5.0) -> None:
        """Until no request is being answered and none was for ``settle`` seconds (a screen that
        asks every second still settles between its asks), then a pause for the screen to draw."""
        start = time.monotonic()
        end = start + timeout
        while time.monotonic() < end and (self.busy or time.monotonic() - max(self.last, start) < settle):
            await pilot.pause(0.05)
        await pilot.pause(0.1)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        key = request_key(request.method, request.path_qs, await request.read())
        answers = self.record["http"].get(key)
        if not answers:
            self.missing.append(key)
            return web.json_response({"error": {"code": "not_recorded", "message": key}}, status=599)
        n = self._given[key]
        self._given[key] = n + 1
        a = answers[min(n, len(answers) - 1)]
        return web.Response(
            status=a["status"], body=base64.b64decode(a["body"]), headers={"Content-Type": a["type"]}
        )


#: Each screen as people reach it (the language test and the snapshots walk the same): who logs in
#: (None: no one, the log-in screen) and the keys pressed from the screen they land on
WALKS: dict[str, tuple[str | None, list[str]]] = {
    "login": (None, ["f2"]),
    "newcar": ("operator", ["f2"]),  # no inspection open: the new-car form
    "newcomer": ("newcomer", []),  # a temporary password: changed before anything else
    "operator": ("operator", ["f8", "escape", "f12", "5", "escape", "escape", "f3", "escape", "f2", "f5"]),
    "technician": ("technician", ["f6", "escape", "f11", "escape"]),
    "admin": (
        "admin",
        [
            "f9", "e", "i", "escape", "x", "escape", "escape",
            "f2", "1", "a", "escape", "g", "escape", "escape", "2", "i", "escape", "escape", "7", "enter",
            "escape", "escape", "5", "a", "escape", "escape", "8", "escape", "9",
        ],
    ),
}  # fmt: skip
#: the open inspection the walks find on the lane (after a card of another vehicle), its brakes done
INSPECTION = {"plate": "555KZZ01", "category": "M1", "axles": 2}
#: the newcomer's temporary password, set by the administrator
TEMPORARY = "Temp-Pass-4711"


async def reach(app: Any, pilot: Any, walk: str, keys: list[str], pause: float = 0.4) -> None:
    """Log the walk's user in (no one for ``login``), wait for the screen they land on (the lane
    with its stands, or the password to change), then press ``keys``, a pause after each."""
    from tests.rig import PASSWORDS, wait_for
    from tui.screens.lane import LaneScreen
    from tui.screens.password import PasswordScreen

    await pilot.pause(0.3)
    user = WALKS[walk][0]
    if user is not None:
        answer = await app.client.login(user, PASSWORDS.get(user, TEMPORARY))
        await app.after_login(bool(answer.get("must_change")))

        async def landed() -> bool:
            await pilot.pause(0.05)
            if isinstance(app.screen, PasswordScreen):
                return True
            return isinstance(app.screen, LaneScreen) and bool(app.state.get("devices"))

        await wait_for(landed, "the lane screen with its stands")
        await pilot.pause(0.5)
    for key in keys:
        await pilot.press(key)
        await pilot.pause(pause)


async def record(home: Path) -> None:
    """Walk every screen against a real lane (a stand, a camera, a failed card EIS took, an open
    inspection with its brakes done) through a :class:`Recorder`, and keep what each walk was told
    in ``tests/data/screens``."""
    from tests.e2e.test_tui_pilot import SIZE
    from tests.rig import run_brake_steps, run_to_card, start_rig, wait_for
    from tui.app import make_app

    # a clock ten times real time, as the demo's: what the stream said and what a screen asked a
    # moment later agree to seconds, not to the minutes a faster clock would put between them
    rig = await start_rig(home / "lane", cameras=("mjpeg",), speed=10.0)
    from tui import wallclock

    # the screens ask for "today" (the activity) as the snapshots' held clock says it
    wallclock.now = lambda: dt.datetime(2026, 12, 3, 10, 0)  # type: ignore[assignment]

    async def walk(name: str) -> None:
        rec = Recorder(rig.sock)
        runner = web.AppRunner(rec.app())
        await runner.setup()
        sock = home / f"{name}.sock"
        await web.UnixSite(runner, str(sock)).start()
        app = make_app(str(sock), "en")
        async with app.run_test(size=SIZE) as pilot:
            await reach(app, pilot, name, WALKS[name][1])
            await pilot.pause(STREAM_S)
        rec.save(DATA / f"{name}.json")
        await rec.close()
        await runner.cleanup()
        answers = sum(len(v) for v in rec.http.values())
        print(f"{name}: {answers} answers, {len(rec.stream)} stream messages")

    try:
        op = await rig.client("operator")

        async def camera_admitted() -> bool:
            cams = (await op.call("GET", "/v1/state"))["cameras"]
            return bool(cams) and all(c["admitted"] and c["status"] == "connected" for c in cams)

        await wait_for(camera_admitted, "the camera admitted")
        await run_to_card(op, {**INSPECTION, "plate": "123ABC02"}, ("visual.wipers",), gates_s=200)

        async def delivered() -> bool:
            queue = await op.call("GET", "/v1/eis/outbox?limit=100")
            return all(row["status"] == "accepted" for row in queue)

        await wait_for(delivered, "the first card at EIS")
        await walk("newcar")
        admin = await rig.client("admin")
        user = {"username": "newcomer", "full_name": "Aigerim Nurlanqyzy", "role": "operator"}
        await admin.call("POST", "/v1/users", {**user, "password": TEMPORARY})
        await walk("newcomer")
        await run_brake_steps(op, await op.call("POST", "/v1/inspections", INSPECTION))
        for name in ("operator", "technician", "admin", "login"):
            await walk(name)
    finally:
        await rig.close()


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        asyncio.run(record(Path(d)))

"""A local EIS: the whole contract (docs/eis-contract.md) on both routes, over HTTP or HTTPS, with
schema and signature checks, duplicate refusal by idempotency key, the EIS operator's requests for a
lane's log history (R3.19), and knobs to fail, delay, reject or lose the answer of a share of
requests. Serves the demo and the tests.

Endpoints (under ``/api/v1``): ``POST /cards``, ``POST /photos`` (a card's photos go before it: a card
whose photos EIS does not hold with the hashes it names waits, 424), ``POST /requests``,
``POST /history`` (REST route);
``POST /soap`` (SOAP route, the same messages in envelopes); and for tests and the demo
``GET /cards``, ``GET /history``, ``GET /stats``, ``POST /control`` (set a knob),
``POST /control/log-request`` (the EIS operator asks for a period: ``{"from": ts, "to": ts}``),
``POST /control/key`` (the EIS operator issues an identification key: ``{"key", "valid_until"}``;
once one is issued, an unknown or expired key is refused with 401).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import sqlite3
import ssl
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from app.eds.cms import verify_detached
from app.eds.errors import EdsError
from app.eds.xmldsig import verify_soap
from app.eis import history, soap
from app.eis.contract import KEY_HEADER, SIGNATURE_HEADER, body, problems
from app.eis.sim_witness import Witness

#: what a fault of ``fault_rate`` may be, each as likely (``--eis-faults``)
FAULTS = ("unavailable", "garbage", "lose", "drop", "slow")


@dataclass
class Answer:
    """What the simulator answers, whichever route asked: accepted (with content) or refused."""

    status: int
    content: dict[str, Any]

    @property
    def fault(self) -> str:
        # 424: the card waits for its photos, which is for the sender to retry
        return "Client" if 400 <= self.status < 500 and self.status != 424 else "Server"


def _refused(status: int, *errors: str) -> Answer:
    return Answer(status, {"errors": list(errors)})


class EisSimulator:
    def __init__(self, db_path: str | Path, seed: int | None = None, **knobs: float) -> None:
        self.db = sqlite3.connect(str(db_path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS cards (key TEXT PRIMARY KEY, digest TEXT, receipt TEXT,"
            " card_id TEXT, spo_key TEXT, training INTEGER, body TEXT, at REAL)"
        )
        # G3: who signed a message (the subject's serialNumber: IIN…), by idempotency key, and how
        self.db.execute("CREATE TABLE IF NOT EXISTS signatures (key TEXT PRIMARY KEY, signer TEXT)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS photos (photo_id TEXT PRIMARY KEY, card_id TEXT, sha256 TEXT,"
            " size INTEGER, jpeg BLOB)"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS routes (key TEXT PRIMARY KEY, route TEXT)")
        # R3.5: the inspections' events in the order they arrived
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS events (n INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE,"
            " seq INTEGER, inspection_id TEXT, action TEXT, readings INTEGER, body TEXT, at REAL)"
        )
        self.witness = Witness(self.db)  # R3.10: the lanes' checkpoints, a chain per lane
        # R4, R5: the identification keys EIS issued, with their expiry (none registered: any key)
        self.db.execute("CREATE TABLE IF NOT EXISTS spo_keys (digest TEXT PRIMARY KEY, valid_until REAL)")
        # R3.19: the operator's requests for a lane's journal, and the exports that answered them
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS requests (id TEXT PRIMARY KEY, start REAL, end REAL, asked REAL,"
            " answered REAL)"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS histories (request TEXT PRIMARY KEY, entries INTEGER, valid INTEGER,"
            " problems TEXT, body TEXT, at REAL)"
        )
        self.knobs: dict[str, float] = {
            "fail_rate": 0.0,
            "reject_rate": 0.0,
            "lose_rate": 0.0,
            "delay_ms": 0.0,
            "fault_rate": 0.0,  # a share of requests meets one of FAULTS, chosen at random
            "require_signature": 0.0,  # 1: an unsigned message is refused (G3)
        }
        self.knobs.update(knobs)
        self.requests = 0
        self.duplicates = 0
        self.faults: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self.fault_kinds: tuple[str, ...] = FAULTS  # which faults fault_rate chooses from
        self.reject_actions: set[str] = set()  # events of these actions are refused as invalid
        self.rng = random.Random(seed)  # seeded: a fault test's failures and losses repeat

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/api/v1/cards", self.rest("card"))
        app.router.add_post("/api/v1/photos", self.rest("photo"))
        app.router.add_post("/api/v1/requests", self.rest("requests"))
        app.router.add_post("/api/v1/history", self.rest("history"))
        app.router.add_post("/api/v1/events", self.rest("events"))
        app.router.add_post("/api/v1/checkpoints", self.rest("checkpoint"))
        app.router.add_post("/api/v1/soap", self.soap)
        app.router.add_get("/api/v1/cards", self.list_cards)
        app.router.add_get("/api/v1/history", self.list_histories)
        app.router.add_get("/api/v1/events", self.list_events)
        app.router.add_get("/api/v1/photos", self.list_photos)
        app.router.add_get("/api/v1/stats", self.stats)
        app.router.add_post("/api/v1/control", self.control)
        app.router.add_post("/api/v1/control/log-request", self.log_request)
        app.router.add_post("/api/v1/control/key", self.register_key)
        return app

    # -- the two routes: each reads its envelope, then one handler of the message ------------------

    def rest(self, kind: str) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            raw = await request.read()
            early, lose = await self._fault(request)
            if early is not None:
                return early
            try:
                message = json.loads(raw)
            except ValueError:
                return _json(_refused(400, "body is not JSON"))
            signer = ""
            signed = request.headers.get(SIGNATURE_HEADER)
            if signed:  # G3: the employee's detached CMS signature of this very body
                try:
                    cert = verify_detached(base64.b64decode(signed, validate=True), raw)
                    signer = str(cert.subject.native.get("serial_number", ""))
                except (EdsError, ValueError):
                    return _json(_refused(422, "signature does not verify"))
            answer = self.handle(kind, message, request.headers, signer, "rest", raw)
            return self._answer(answer, _json, lose)

        return handler

    async def soap(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        early, lose = await self._fault(request)
        if early is not None:
            return early
        try:
            kind, message, signed = soap.read(raw)
        except soap.SoapError as e:
            return _soap(_refused(400, e.message))
        signer = ""
        if signed:
            try:
                signer = str(verify_soap(raw).subject.native.get("serial_number", ""))
            except EdsError:
                return _soap(_refused(422, "signature does not verify"))
        answer = self.handle(kind, message, request.headers, signer, "soap", raw)
        return self._answer(answer, _soap, lose)

    async def _fault(self, request: web.Request) -> tuple[web.StreamResponse | None, bool]:
        """The failure knobs: an answer that strikes before the message is read (the server never
        saw it), or None; and whether the answer to this message is to be lost once it is taken."""
        self.requests += 1
        if self.knobs["delay_ms"]:
            await asyncio.sleep(self.knobs["delay_ms"] / 1000)
        if self.rng.random() < self.knobs["fail_rate"]:
            return web.json_response({"error": "service unavailable"}, status=503), False
        if self.rng.random() >= self.knobs["fault_rate"]:
            return None, False
        fault = self.rng.choice(self.fault_kinds)
        self.faults[fault] += 1
        if fault == "unavailable":
            return web.json_response({"error": "service unavailable"}, status=503), False
        if fault == "garbage":
            page = web.Response(text="<html>502 Bad Gateway</html>", status=502, content_type="text/html")
            return page, False
        if fault == "drop":  # the connection is cut with no answer
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500), False  # never reaches the lane
        if fault == "slow":
            await asyncio.sleep(self.rng.uniform(0.2, 1.0))
            return web.json_response({"error": "gateway timeout"}, status=504), False
        return None, True  # "lose": the message is taken, then its answer is lost

    def _answer(self, answer: Answer, render: Any, lose: bool) -> web.StreamResponse:
        lost = lose or self.rng.random() < self.knobs["lose_rate"]
        if answer.status < 300 and lost:  # stored, but the answer never reaches the lane
            return web.json_response({"error": "answer lost"}, status=504)
        return render(answer)

    # -- the messages --------------------------------------------------------------------------

    def handle(
        self, kind: str, message: Any, headers: Any, signer: str, route: str, raw: bytes = b""
    ) -> Answer:
        """One message's answer; a message taken is named in it by its idempotency key and the
        SHA-256 of the body as received (the lane takes no other answer as a receipt)."""
        answer = self._handle(kind, message, headers, signer, route)
        if answer.status < 300:
            answer.content |= {
                "idempotency_key": headers.get("Idempotency-Key", ""),
                "digest": hashlib.sha256(raw).hexdigest(),
            }
        return answer

    def _handle(self, kind: str, message: Any, headers: Any, signer: str, route: str) -> Answer:
        key = headers.get("Idempotency-Key", "")
        spo_key = headers.get(KEY_HEADER, "")
        if not key or not spo_key:
            return _refused(400, f"Idempotency-Key and {KEY_HEADER} required")
        if (refused := self._key_refusal(spo_key)) is not None:
            return _refused(401, refused)
        # a photo is bound by the hash its signed card names, a checkpoint by the lane key's signature;
        # asking for requests carries nothing
        if self.knobs["require_signature"] and not signer and kind not in ("requests", "photo", "checkpoint"):
            return _refused(422, "the message is not signed by an employee (G3)")
        answer = self._message(kind, message, key, spo_key, route)
        if signer and answer.status < 300:  # G3: who signed what EIS took
            self.db.execute("INSERT OR REPLACE INTO signatures VALUES (?,?)", (key, signer))
        return answer

    def _message(self, kind: str, message: Any, key: str, spo_key: str, route: str) -> Answer:
        if kind == "card":
            return self._card(message, key, spo_key, route)
        if kind == "requests":
            if errors := problems("requests", message):
                return _refused(422, *errors)
            rows = self.db.execute(
                "SELECT id, start, end FROM requests WHERE answered IS NULL ORDER BY asked"
            )
            listed = [{"id": i, "kind": "log_history", "from": s, "to": e} for i, s, e in rows]
            answer = {"status": "accepted", "requests": listed}
            if message.get("witness") and message.get("lane"):
                answer["witness"] = self.witness.last(str(message["lane"]))
            return Answer(200, answer)
        if kind == "history":
            return self._history(message)
        if kind == "events":
            return self._events(message)
        if kind == "photo":
            return self._photo(message, key)
        if kind == "checkpoint":
            return self._checkpoint(message)
        return _refused(400, f"unknown message kind {kind!r}")

    def _photo(self, msg: Any, key: str) -> Answer:
        errors = problems("photo", msg)
        if errors:
            return _refused(422, *errors)
        if key != msg["photo_id"]:
            return _refused(422, "Idempotency-Key: the photo id")
        try:
            jpeg = base64.b64decode(msg["jpeg"], validate=True)
        except ValueError:
            return _refused(422, "jpeg: not base64")
        if hashlib.sha256(jpeg).hexdigest() != msg["sha256"]:
            return _refused(422, "jpeg: its SHA-256 is not the one named")
        if not jpeg.startswith(b"\xff\xd8"):
            return _refused(422, "jpeg: not a JPEG")
        row = self.db.execute("SELECT sha256 FROM photos WHERE photo_id=?", (key,)).fetchone()
        if row:
            self.duplicates += 1
            if row[0] != msg["sha256"]:
                return _refused(409, "idempotency key reused")
            return Answer(200, {"status": "duplicate"})
        self.db.execute(
            "INSERT INTO photos VALUES (?,?,?,?,?)", (key, msg["card_id"], msg["sha256"], len(jpeg), jpeg)
        )
        return Answer(201, {"status": "accepted"})

    def _key_refusal(self, spo_key: str) -> str | None:
        """R5: an identification key EIS did not issue, or whose two months are over, is refused."""
        if not self.db.execute("SELECT 1 FROM spo_keys LIMIT 1").fetchone():
            return None
        digest = hashlib.sha256(spo_key.encode()).hexdigest()
        row = self.db.execute("SELECT valid_until FROM spo_keys WHERE digest=?", (digest,)).fetchone()
        if row is None:
            return "identification key unknown"
        if row[0] < time.time():
            return "identification key expired"
        return None

    def issue_key(self, spo_key: str, valid_until: float) -> None:
        digest = hashlib.sha256(spo_key.encode()).hexdigest()
        self.db.execute("INSERT OR REPLACE INTO spo_keys VALUES (?,?)", (digest, valid_until))

    def _card(self, card: Any, key: str, spo_key: str, route: str) -> Answer:
        errors = problems("card", card)
        if errors:
            return _refused(422, *errors)
        if self.rng.random() < self.knobs["reject_rate"]:
            return _refused(422, "rejected by simulator knob")
        for p in card.get("photos", []):  # its photos first, with the very hashes the card names
            row = self.db.execute("SELECT sha256 FROM photos WHERE photo_id=?", (p["photo_id"],)).fetchone()
            if row is None or row[0] != p["sha256"]:
                return _refused(424, f"photo {p['photo_id']} not received with its SHA-256 yet")
        digest = hashlib.sha256(body(card)).hexdigest()
        row = self.db.execute("SELECT digest, receipt FROM cards WHERE key=?", (key,)).fetchone()
        if row:
            self.duplicates += 1
            if row[0] != digest:
                return _refused(409, "idempotency key reused")
            return Answer(200, {"status": "duplicate", "receipt": row[1]})
        receipt = "EIS-" + uuid.uuid4().hex[:12].upper()
        self.db.execute("INSERT OR REPLACE INTO routes VALUES (?,?)", (key, route))
        self.db.execute(
            "INSERT INTO cards VALUES (?,?,?,?,?,?,?,?)",
            (
                key,
                digest,
                receipt,
                card["card_id"],
                spo_key,
                int(card["training"]),
                body(card).decode(),
                time.time(),
            ),
        )
        return Answer(201, {"status": "accepted", "receipt": receipt})

    def _events(self, batch: Any) -> Answer:
        """Each event once, by its id, whichever batch it came in (all of a batch or none)."""
        errors = problems("events", batch)
        if errors:
            return _refused(422, *errors)
        refused = [e["seq"] for e in batch["events"] if e["action"] in self.reject_actions]
        if refused:
            return _refused(422, f"events: seq {refused[0]}: this action is refused here")
        taken = 0
        for event in batch["events"]:
            key = event["event_id"]
            if self.db.execute("SELECT 1 FROM events WHERE key=?", (key,)).fetchone():
                self.duplicates += 1
                continue
            taken += 1
            self.db.execute(
                "INSERT INTO events (key, seq, inspection_id, action, readings, body, at)"
                " VALUES (?,?,?,?,?,?,?)",
                (
                    key,
                    event["seq"],
                    event["inspection_id"],
                    event["action"],
                    len(event.get("readings", [])),
                    body(event).decode(),
                    time.time(),
                ),
            )
        return Answer(201, {"status": "accepted", "taken": taken, "receipt": f"EV-{taken}"})

    def _checkpoint(self, msg: Any) -> Answer:
        status, content = self.witness.take(msg)
        if status == 201 and content.pop("again", False):
            self.duplicates += 1
        return Answer(status, content)

    def _history(self, doc: Any) -> Answer:
        errors = history.verify(doc)
        request = doc.get("request") if isinstance(doc, dict) else None
        known = self.db.execute("SELECT 1 FROM requests WHERE id=?", (request,)).fetchone()
        if errors or not known:
            return _refused(422, *(errors or [f"request: no request {request!r} was made"]))
        self.db.execute(
            "INSERT OR IGNORE INTO histories VALUES (?,?,?,?,?,?)",
            (request, len(doc["entries"]), 1, "", json.dumps(doc, ensure_ascii=False), time.time()),
        )
        self.db.execute("UPDATE requests SET answered=? WHERE id=?", (time.time(), request))
        return Answer(200, {"status": "accepted", "receipt": f"LOG-{request}"})

    # -- for tests and the demo ----------------------------------------------------------------

    async def list_cards(self, request: web.Request) -> web.Response:
        rows = self.db.execute(
            "SELECT c.key, card_id, receipt, training, body, route FROM cards c"
            " LEFT JOIN routes r ON r.key = c.key ORDER BY at"
        )
        return web.json_response(
            [
                {
                    "key": k,
                    "card_id": c,
                    "inspection_id": json.loads(b).get("inspection_id"),
                    "receipt": r,
                    "training": bool(t),
                    "route": route or "rest",
                }
                for k, c, r, t, b, route in rows.fetchall()
            ]
        )

    async def list_histories(self, request: web.Request) -> web.Response:
        rows = self.db.execute("SELECT request, entries, body FROM histories ORDER BY at").fetchall()
        return web.json_response([{"request": r, "entries": n, "export": json.loads(b)} for r, n, b in rows])

    async def list_photos(self, request: web.Request) -> web.Response:
        rows = self.db.execute("SELECT photo_id, card_id, sha256, size FROM photos ORDER BY rowid")
        return web.json_response(
            [{"photo_id": i, "card_id": c, "sha256": h, "size": n} for i, c, h, n in rows]
        )

    async def list_events(self, request: web.Request) -> web.Response:
        """The events in the order they arrived."""
        rows = self.db.execute("SELECT key, seq, inspection_id, action, readings FROM events ORDER BY n")
        keys = ("event_id", "seq", "inspection_id", "action", "readings")
        return web.json_response([dict(zip(keys, r, strict=True)) for r in rows.fetchall()])

    async def log_request(self, request: web.Request) -> web.Response:
        """The EIS operator asks for a lane's journal of a period (R3.19)."""
        asked: dict[str, Any] = await request.json()
        rid = uuid.uuid4().hex[:12]
        self.db.execute(
            "INSERT INTO requests VALUES (?,?,?,?,NULL)",
            (rid, float(asked["from"]), float(asked["to"]), time.time()),
        )
        return web.json_response({"id": rid})

    async def register_key(self, request: web.Request) -> web.Response:
        """The EIS operator issues a lane's identification key: ``{"key", "valid_until": ts}``."""
        issued: dict[str, Any] = await request.json()
        self.issue_key(str(issued["key"]), float(issued["valid_until"]))
        return web.json_response({"ok": True})

    async def stats(self, request: web.Request) -> web.Response:
        (n,) = self.db.execute("SELECT COUNT(*) FROM cards").fetchone()
        return web.json_response(
            {"accepted": n, "requests": self.requests, "duplicates": self.duplicates, "faults": self.faults}
            | self.knobs
        )

    async def control(self, request: web.Request) -> web.Response:
        knobs: dict[str, Any] = await request.json()
        for k, v in knobs.items():
            if k in self.knobs:
                self.knobs[k] = float(v)
        return web.json_response(self.knobs)


def _json(answer: Answer) -> web.Response:
    return web.json_response(answer.content, status=answer.status)


def _soap(answer: Answer) -> web.Response:
    if answer.status < 300:
        return web.Response(body=soap.answer(answer.content), status=200, content_type="text/xml")
    reason = "; ".join(answer.content.get("errors", [])) or "refused"
    status = 401 if answer.status == 401 else 500  # a refused key is said by HTTP, as on REST
    return web.Response(body=soap.fault(answer.fault, reason), status=status, content_type="text/xml")


def tls_context(cert: str | Path, key: str | Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


async def serve(
    host: str,
    port: int,
    db_path: str,
    seed: int | None = None,
    tls: ssl.SSLContext | None = None,
    **knobs: float,
) -> None:
    sim = EisSimulator(db_path, seed, **knobs)
    runner = web.AppRunner(sim.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=tls)
    await site.start()
    # the address it listens on, port 0 resolved: the demo writes the lane's configuration by it
    print(f"ready {'https' if tls else 'http'}://{host}:{runner.addresses[0][1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

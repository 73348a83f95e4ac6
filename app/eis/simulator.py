"""A local EIS: the same contract, with validation, duplicate refusal by idempotency key, and knobs
to fail, delay, reject or lose the answer of a share of requests. Serves the demo and the tests.

Endpoints: ``POST /api/v1/cards`` (the contract), ``GET /api/v1/stats``, ``GET /api/v1/cards``,
``POST /api/v1/control`` (set ``fail_rate``, ``reject_rate``, ``lose_rate``, ``delay_ms``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from app.eds.cms import verify_detached
from app.eds.errors import EdsError
from app.eis.contract import SIGNATURE_HEADER, validate_card


class EisSimulator:
    def __init__(self, db_path: str | Path, seed: int | None = None, **knobs: float) -> None:
        self.db = sqlite3.connect(str(db_path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS cards (key TEXT PRIMARY KEY, digest TEXT, receipt TEXT,"
            " card_id TEXT, spo_key TEXT, training INTEGER, body TEXT, at REAL)"
        )
        # G3: who signed a card (the subject's serialNumber: IIN…), by idempotency key
        self.db.execute("CREATE TABLE IF NOT EXISTS signatures (key TEXT PRIMARY KEY, signer TEXT)")
        self.knobs: dict[str, float] = {
            "fail_rate": 0.0,
            "reject_rate": 0.0,
            "lose_rate": 0.0,
            "delay_ms": 0.0,
        }
        self.knobs.update(knobs)
        self.requests = 0
        self.duplicates = 0
        self.rng = random.Random(seed)  # seeded: a fault test's failures and losses repeat

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/api/v1/cards", self.post_card)
        app.router.add_get("/api/v1/cards", self.list_cards)
        app.router.add_get("/api/v1/stats", self.stats)
        app.router.add_post("/api/v1/control", self.control)
        return app

    async def post_card(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.knobs["delay_ms"]:
            await asyncio.sleep(self.knobs["delay_ms"] / 1000)
        if self.rng.random() < self.knobs["fail_rate"]:
            return web.json_response({"error": "service unavailable"}, status=503)
        key = request.headers.get("Idempotency-Key", "")
        spo_key = request.headers.get("X-SPO-Key", "")
        if not key or not spo_key:
            return web.json_response({"errors": ["Idempotency-Key and X-SPO-Key required"]}, status=400)
        raw = await request.read()
        try:
            card = json.loads(raw)
        except ValueError:
            return web.json_response({"errors": ["body is not JSON"]}, status=400)
        errors = validate_card(card)
        if errors:
            return web.json_response({"errors": errors}, status=422)
        signed = request.headers.get(SIGNATURE_HEADER)
        signer = ""
        if signed:  # G3: the employee's detached CMS signature of this very body
            try:
                cert = verify_detached(base64.b64decode(signed, validate=True), raw)
                signer = str(cert.subject.native.get("serial_number", ""))
            except (EdsError, ValueError):
                return web.json_response({"errors": ["signature does not verify"]}, status=422)
        if self.rng.random() < self.knobs["reject_rate"]:
            return web.json_response({"errors": ["rejected by simulator knob"]}, status=422)
        digest = hashlib.sha256(raw).hexdigest()
        row = self.db.execute("SELECT digest, receipt FROM cards WHERE key=?", (key,)).fetchone()
        if row:
            self.duplicates += 1
            if row[0] != digest:
                return web.json_response({"errors": ["idempotency key reused"]}, status=409)
            return web.json_response({"status": "duplicate", "receipt": row[1]}, status=200)
        receipt = "EIS-" + uuid.uuid4().hex[:12].upper()
        if signer:
            self.db.execute("INSERT OR REPLACE INTO signatures VALUES (?,?)", (key, signer))
        self.db.execute(
            "INSERT INTO cards VALUES (?,?,?,?,?,?,?,?)",
            (
                key,
                digest,
                receipt,
                card["card_id"],
                spo_key,
                int(card["training"]),
                raw.decode(),
                time.time(),
            ),
        )
        if self.rng.random() < self.knobs["lose_rate"]:
            return web.json_response({"error": "answer lost"}, status=504)
        return web.json_response({"status": "accepted", "receipt": receipt}, status=201)

    async def list_cards(self, request: web.Request) -> web.Response:
        rows = self.db.execute("SELECT key, card_id, receipt, training, body FROM cards ORDER BY at")
        return web.json_response(
            [
                {
                    "key": k,
                    "card_id": c,
                    "inspection_id": json.loads(b).get("inspection_id"),
                    "receipt": r,
                    "training": bool(t),
                }
                for k, c, r, t, b in rows.fetchall()
            ]
        )

    async def stats(self, request: web.Request) -> web.Response:
        (n,) = self.db.execute("SELECT COUNT(*) FROM cards").fetchone()
        return web.json_response(
            {"accepted": n, "requests": self.requests, "duplicates": self.duplicates} | self.knobs
        )

    async def control(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        for k, v in body.items():
            if k in self.knobs:
                self.knobs[k] = float(v)
        return web.json_response(self.knobs)


async def serve(host: str, port: int, db_path: str, seed: int | None = None, **knobs: float) -> None:
    sim = EisSimulator(db_path, seed, **knobs)
    runner = web.AppRunner(sim.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

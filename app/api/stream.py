"""The live stream of ``/v1/stream`` on the API side: one WebSocket per screen, fed from its
subscription to the lane's bus in batches; closed when its session ends, cut when its client never
reads (a frozen SSH link), so neither a shutdown nor an ended session waits on it. It never
chooses what is published (the lane's parts do, ``app/lane/bus.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiohttp import WSMsgType, web

from app.api.accounts import API_VERSION
from app.api.request import Parts, session
from app.auth import Accounts
from app.lane import bus

log = logging.getLogger("otolane.api")
#: How long a closing stream may take before its connection is cut (a client that never reads).
WS_CLOSE_S = 1.0
#: events sent in one frame at most
BATCH = 200


class Streams:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        #: open streams: the socket, its session's token, its request (to cut a client that never reads)
        self.open: dict[web.WebSocketResponse, tuple[str, web.Request]] = {}

    async def serve(self, p: Parts, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=15, timeout=WS_CLOSE_S)
        await ws.prepare(request)
        self.open[ws] = (session(request).token, request)
        sub = p.lane.bus.subscribe()
        sender: asyncio.Task[None] | None = None
        try:
            await ws.send_json(bus.hello(API_VERSION))
            sender = asyncio.create_task(self._pump(ws, sub.queue))
            async for msg in ws:  # the client says nothing; we only notice it leaving
                if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender
            p.lane.bus.unsubscribe(sub)
            self.open.pop(ws, None)
        return ws

    @staticmethod
    async def _pump(ws: web.WebSocketResponse, queue: asyncio.Queue[bus.Event]) -> None:
        while not ws.closed:
            event = await queue.get()
            batch = [event]
            while not queue.empty() and len(batch) < BATCH:
                batch.append(queue.get_nowait())
            await ws.send_str(json.dumps(batch, ensure_ascii=False))

    async def close_all(self, app: web.Application) -> None:
        await asyncio.gather(*(self.cut(ws) for ws in list(self.open)))

    async def cut(self, ws: web.WebSocketResponse) -> None:
        """Close a stream; a client that never reads (its buffers full) is cut off after WS_CLOSE_S."""
        entry = self.open.get(ws)
        try:
            async with asyncio.timeout(WS_CLOSE_S):
                await ws.close(code=4401 if entry and entry[0] not in self.accounts.sessions else 1001)
        except (TimeoutError, Exception):
            if entry is not None and entry[1].transport is not None:
                entry[1].transport.abort()

    async def cut_ended_sessions(self) -> None:
        for ws, (token, _) in list(self.open.items()):
            if token not in self.accounts.sessions:
                await self.cut(ws)


STREAMS = web.AppKey("streams", Streams)


async def stream(p: Parts, request: web.Request) -> web.WebSocketResponse:
    return await request.app[STREAMS].serve(p, request)

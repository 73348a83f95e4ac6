"""A local endpoint that speaks NCALayer's WebSocket protocol (reference/eis-shep-nca.md §3): the
greeting, then ``commonUtils.createCAdESFromBase64`` answered with an attached CMS made by a training
key — or a cancel, or a signature over other content, to test the lane's refusals."""

from __future__ import annotations

import base64
import json

from aiohttp import WSMsgType, web

from app.eds.cms import sign_detached
from app.eds.signer import Signer


class NcaLayerSim:
    def __init__(self, signer: Signer, other: Signer | None = None) -> None:
        self.signer = signer
        self.other = other  # a second key on the token ("other-key")
        self.mode = "sign"  # "sign" | "cancel" | "other-content" | "other-key"
        self.requests: list[dict] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.ws)
        return app

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"result": {"version": "1.4-sim"}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            req = json.loads(msg.data)
            self.requests.append(req)
            if req.get("method") != "createCAdESFromBase64":
                await ws.send_str(json.dumps({"code": "500", "message": "unknown method"}))
                continue
            if self.mode == "cancel":
                await ws.send_str(json.dumps({"code": "500", "message": "action.canceled"}))
                continue
            content = base64.b64decode(req["args"][2])
            if self.mode == "other-content":
                content = b"something else"
            key = self.other if self.mode == "other-key" and self.other else self.signer
            cms = sign_detached(key, content, attach=bool(req["args"][3]))
            await ws.send_str(json.dumps({"code": "200", "responseObject": base64.b64encode(cms).decode()}))
        return ws

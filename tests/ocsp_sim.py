"""A local OCSP responder (RFC 6960 over HTTP POST) signing with a training CA's GOST key: it answers
good or revoked by serial, and can answer wrongly on purpose (another key, an error status, an old
answer, another nonce) to test the lane's refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from asn1crypto import core, ocsp

from app.eds import asn1, gost
from app.eds.ocsp import key_hash
from app.eds.training import Issued

_SIG = {"algorithm": asn1.GOST2015_512_SIG, "parameters": core.Null()}


class OcspSim:
    def __init__(self, ca: Issued) -> None:
        self.ca = ca
        self.revoked: set[int] = set()
        self.mode = "honest"  # | "other-key" | "unauthorized" | "stale" | "other-nonce"
        self.asked = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self.answer)
        return app

    async def answer(self, request: web.Request) -> web.Response:
        self.asked += 1
        req = ocsp.OCSPRequest.load(await request.read())
        if self.mode == "unauthorized":
            return self._reply(ocsp.OCSPResponse({"response_status": "unauthorized"}).dump())
        now = datetime.now(UTC).replace(microsecond=0)
        then = now - timedelta(days=30) if self.mode == "stale" else now
        responses = []
        for r in req["tbs_request"]["request_list"]:
            cid = r["req_cert"]
            serial = cid["serial_number"].native
            status = (
                {
                    "name": "revoked",
                    "value": {
                        "revocation_time": now - timedelta(hours=1),
                        "revocation_reason": "key_compromise",
                    },
                }
                if serial in self.revoked
                else {"name": "good", "value": None}
            )
            responses.append(
                {
                    "cert_id": cid,
                    "cert_status": ocsp.CertStatus(**status),
                    "this_update": then,
                    "next_update": then + timedelta(days=1),
                }
            )
        nonce = next(
            e["extn_value"].native
            for e in req["tbs_request"]["request_extensions"]
            if e["extn_id"].native == "nonce"
        )
        if self.mode == "other-nonce":
            nonce = b"\x00" * len(nonce)
        tbs = ocsp.ResponseData(
            {
                "responder_id": ocsp.ResponderId(name="by_key", value=key_hash(self.ca.cert)),
                "produced_at": now,
                "responses": responses,
                "response_extensions": [{"extn_id": "nonce", "critical": False, "extn_value": nonce}],
            }
        )
        key = self.ca.d_le if self.mode != "other-key" else (12345).to_bytes(64, "little")
        sig = gost.nca_sign(gost.PARAMSET_A_512, key, tbs.dump())
        basic = ocsp.BasicOCSPResponse(
            {"tbs_response_data": tbs, "signature_algorithm": _SIG, "signature": sig}
        )
        resp = ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
            }
        )
        return self._reply(resp.dump())

    @staticmethod
    def _reply(der: bytes) -> web.Response:
        return web.Response(body=der, content_type="application/ocsp-response")

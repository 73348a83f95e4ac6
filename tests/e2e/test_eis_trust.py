"""Trust at the EIS edge (issue #21, G1, G2, R4): the client follows no redirect — the card, the
identification key and a training card never reach a host the configuration does not name — and
only an answer that names the very message sent (its idempotency key and the SHA-256 of its body)
with a taken status is a receipt. Real HTTP servers on loopback, a real outbox and database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from app.eis.client import ROUTES, Delivery, EisClient
from app.eis.contract import KEY_HEADER
from app.eis.outbox import OutboxWorker
from app.journal import Journal
from app.storage.crypto import Keyring
from app.storage.db import close_db, open_db
from app.storage.models import EisExchange, Outbox
from tests.rig import sample_card, serve_loopback, store_card

SPO_KEY = "SPO-KEY-1"


class Far:
    """A host the lane must never reach: it records whatever comes."""

    def __init__(self) -> None:
        self.got: list[dict[str, str]] = []

    def app(self) -> web.Application:
        async def any_post(request: web.Request) -> web.Response:
            self.got.append(dict(request.headers))
            return web.json_response({"status": "accepted", "receipt": "FAR-1"}, status=201)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", any_post)
        return app


@pytest.fixture
async def far() -> AsyncIterator[tuple[Far, int]]:
    host = Far()
    runner, port = await serve_loopback(host.app())
    try:
        yield host, port
    finally:
        await runner.cleanup()


async def _server(answer: Callable[[web.Request, bytes], web.StreamResponse]) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.StreamResponse:
        return answer(request, await request.read())

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner, port = await serve_loopback(app)
    return runner, f"http://127.0.0.1:{port}/api/v1"


async def _submit(runner: web.AppRunner, url: str, route: str) -> Delivery:
    """A card sent once by the route's client to the server at ``url``; the server then stopped."""
    client: EisClient = ROUTES[route](url, SPO_KEY, 5.0)
    try:
        return await client.submit_card(sample_card("c-1", training=True), "c-1")
    finally:
        await client.close()
        await runner.cleanup()


@pytest.mark.parametrize("route", ["rest", "soap"])
@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_not_followed_and_is_said_as_the_endpoints_fault(
    far: tuple[Far, int], route: str, status: int
) -> None:
    """Issue #21 (1): an endpoint that answers with a redirect to another host gets the card once;
    the other host gets nothing — not the card, not the identification key — and the attempt fails
    with the redirect named."""
    host, port = far
    target = f"http://127.0.0.1:{port}/api/v1/cards"
    runner, url = await _server(lambda r, b: web.Response(status=status, headers={"Location": target}))
    got = await _submit(runner, url, route)
    assert host.got == []
    assert got.outcome == "retry" and got.http_status == status
    assert "redirect" in got.detail and target in got.detail and "eis.url" in got.detail


def _named(request: web.Request, body: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "status": "accepted",
        "receipt": "EIS-OK",
        "idempotency_key": request.headers.get("Idempotency-Key", ""),
        "digest": hashlib.sha256(body).hexdigest(),
    } | extra


#: answers a 2xx may carry that do not prove EIS took this message, and why each is refused
NOT_RECEIPTS: dict[str, tuple[Callable[[web.Request, bytes], Any], str]] = {
    "rejected": (lambda r, b: {"status": "rejected"}, "status is 'rejected'"),
    "no status": (lambda r, b: {k: v for k, v in _named(r, b).items() if k != "status"}, "status is 'None'"),
    "another card's receipt": (lambda r, b: _named(r, b, idempotency_key="c-other"), "names another message"),
    "another body": (lambda r, b: _named(r, b, digest="0" * 64), "another body"),
    "no names": (lambda r, b: {"status": "accepted", "receipt": "EIS-X"}, "names another message"),
    "a list": (lambda r, b: [_named(r, b)], "not an object"),
}


@pytest.mark.parametrize("route", ["rest", "soap"])
@pytest.mark.parametrize("case", sorted(NOT_RECEIPTS))
async def test_only_an_answer_naming_this_message_is_a_receipt(route: str, case: str) -> None:
    """Issue #21 (2), G2: a 2xx answer counts as taken only when it has a taken status and names the
    message's idempotency key and the SHA-256 of the body sent; else the attempt failed, with why."""
    from app.eis import soap

    make, why = NOT_RECEIPTS[case]

    def answer(request: web.Request, body: bytes) -> web.Response:
        content = make(request, body)
        if route == "soap":
            if not isinstance(content, dict):
                content = {"items": content}
            return web.Response(body=soap.answer(content), content_type="text/xml", status=200)
        return web.json_response(content, status=201)

    runner, url = await _server(answer)
    got = await _submit(runner, url, route)
    assert got.outcome == "retry" and got.receipt == "", got
    expected = "status is 'None'" if route == "soap" and case == "a list" else why  # wrapped
    assert expected in got.detail, got.detail


@pytest.mark.parametrize("route", ["rest", "soap"])
async def test_an_answer_naming_this_message_is_its_receipt(route: str) -> None:
    """The same server answering as the contract says: accepted, with its receipt."""
    from app.eis import soap

    def answer(request: web.Request, body: bytes) -> web.Response:
        if route == "soap":
            return web.Response(body=soap.answer(_named(request, body)), content_type="text/xml")
        return web.json_response(_named(request, body), status=201)

    runner, url = await _server(answer)
    got = await _submit(runner, url, route)
    assert (got.outcome, got.receipt, got.detail) == ("accepted", "EIS-OK", "")


async def test_a_replayed_receipt_leaves_the_card_pending_with_the_reason(tmp_path: Path) -> None:
    """Issue #21 (2), end to end: an EIS that answers every card with the receipt it gave another
    card (a replay) leaves the outbox row pending — never accepted — its exchange journalled with
    the reason (G2), and nothing journalled as accepted."""
    seen: dict[str, Any] = {}

    def answer(request: web.Request, body: bytes) -> web.Response:
        first = seen.setdefault("first", _named(request, body))
        return web.json_response(first | {"status": "duplicate"}, status=200)

    runner, url = await _server(answer)
    await open_db(f"sqlite://{tmp_path / 'lane.db'}")
    keyring = Keyring.create(tmp_path / "k")
    client: EisClient = ROUTES["rest"](url, SPO_KEY, 5.0)
    try:
        worker = OutboxWorker(client, keyring, Journal(), "test", lambda: None, lane="L1")
        first = await store_card(keyring, sample_card("c-first", training=True, number=1))
        await worker.deliver_due()
        assert (await Outbox.get(card_id=first)).status == "accepted"  # the receipt it named
        second = await store_card(keyring, sample_card("c-second", training=True, number=2))
        await worker.deliver_due()
        row = await Outbox.get(card_id=second)
        assert (row.status, row.receipt) == ("pending", "")
        assert "names another message ('c-first')" in row.last_error
        (ex,) = await EisExchange.filter(card_id=second)
        assert ex.outcome == "retry" and "names another message" in ex.error
    finally:
        await client.close()
        await close_db()
        await runner.cleanup()


async def test_the_identification_key_goes_only_to_the_configured_host(far: tuple[Far, int]) -> None:
    """R4: the key header travels with the message to the endpoint configured and nowhere else (a
    redirect to plain HTTP on another port included)."""
    host, port = far
    seen: list[str] = []

    def answer(request: web.Request, body: bytes) -> web.Response:
        seen.append(request.headers.get(KEY_HEADER, ""))
        return web.Response(status=302, headers={"Location": f"http://127.0.0.1:{port}/x"})

    runner, url = await _server(answer)
    client: EisClient = ROUTES["rest"](url, SPO_KEY, 5.0)
    try:
        await client.send("events", {"events": []}, "ev-1")
    finally:
        await client.close()
        await runner.cleanup()
    assert seen == [SPO_KEY] and host.got == []


async def test_an_answer_larger_than_a_receipt_can_be_is_refused_unread() -> None:
    """Trust nothing from the far side: an answer of more than a MiB is not read into memory."""
    big = json.dumps({"status": "accepted", "pad": "x" * (2 << 20)})
    runner, url = await _server(
        lambda r, b: web.Response(text=big, status=201, content_type="application/json")
    )
    got = await _submit(runner, url, "rest")
    assert got.outcome == "retry" and "larger than" in got.detail

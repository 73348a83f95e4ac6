"""Bad input to the daemon's API gets a clear 4xx with a catalog code — never a 500, never a
crash — and the daemon goes on serving."""

from __future__ import annotations

import logging
import random

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.storage.models import User
from tests.rig import PASSWORDS, Rig

NASTY = [
    b"",
    b"null",
    b"[]",
    b"42",
    b'"text"',
    b"{",
    b"\xff\xfe\x00garbage",
    b'{"plate": null}',
    b'{"plate": 123, "category": "M1"}',
    b'{"plate": "123ABC02", "category": ["M1"]}',
    b'{"plate": "123ABC02", "category": "Z9"}',
    ('{"plate": "' + "Ж" * 5000 + '", "category": "M1"}').encode(),
    b'{"plate": "12 3", "category": "M1", "axles": true}',
    b'{"plate": "123ABC02", "category": "M1", "axles": 99}',
    b'{"plate": "123ABC02", "category": "M1", "axles": -1}',
    b'{"plate": "123ABC02", "category": "M1", "fuel": "plutonium"}',
    b'{"plate": "1;rm -rf /", "category": "M1"}',
    b'{"a": {"b": {"c": {"d": [1, 2, {"e": null}]}}}}',
    b'{"username": "operator", "password": 12}',
    b'{"username": "' + b"x" * 10000 + b'", "password": "y"}',
    # Issue #7 item 8: nesting that would exhaust the parser, on every route (login too).
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"[" * 20_000 + b"]" * 20_000,
    b'{"plate": "123ABC02", "category": "M1", "x": ' + b"[" * 40 + b"]" * 40 + b"}",
    b'{"username": "' + "Ә".encode() * 600 + b'", "password": "Good-pass-2026"}',
    rb'{"username": "a\u0000b", "password": "Good-pass-2026"}',
    rb'{"plate": "123\u0416BC02", "category": "M1"}',
]


async def test_nasty_bodies_get_clear_errors_and_the_daemon_goes_on(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="otolane")
    op = await rig.client("operator")
    admin = await rig.client("admin")
    rng = random.Random(3)
    conn = aiohttp.UnixConnector(path=rig.sock)
    async with aiohttp.ClientSession(connector=conn) as http:
        tokens = {"/v1/users": admin.token, "/v1/journal": admin.token}
        paths = [
            ("POST", "/v1/inspections"),
            ("POST", "/v1/login"),
            ("POST", "/v1/password"),
            ("POST", "/v1/inspections/x/steps/brakes_axle_1"),
            ("POST", "/v1/inspections/../card"),
            ("GET", "/v1/journal?limit=abc"),
            ("GET", "/v1/journal?limit=-1"),
            ("GET", "/v1/journal?limit=100000000000000000000000000000"),
            ("GET", "/v1/journal?before=-5"),
            ("GET", "/v1/journal?before=1e999"),
            ("GET", "/v1/journal?action=" + "x" * 5000),
            ("POST", "/v1/users"),
            ("POST", "/v1/users/" + "x" * 3000 + "/lock"),
            ("GET", "/v1/nowhere"),
            ("DELETE", "/v1/state"),
        ]
        bodies = [*NASTY, *(bytes(rng.randrange(256) for _ in range(rng.randint(1, 200))) for _ in range(30))]
        for method, path in paths:
            token = next((t for p, t in tokens.items() if path.startswith(p)), op.token)
            headers = {"Authorization": f"Bearer {token}"}
            for body in bodies:
                async with http.request(method, f"http://laned{path}", data=body, headers=headers) as r:
                    assert 400 <= r.status < 500, (method, path, body[:40], r.status)
                    data = await r.json(content_type=None)
                    assert data["error"]["code"], (method, path)
        expect = [
            ("POST", "/v1/login", b"[" * 100_000 + b"]" * 100_000, "body_too_large"),
            ("POST", "/v1/login", b"[" * 10_000 + b"]" * 10_000, "body_too_deep"),
            ("POST", "/v1/inspections", b"[" * 40 + b"]" * 40, "body_too_deep"),
            ("POST", "/v1/login", b'{"username": "' + b"x" * 600 + b'", "password": "y"}', "field_too_long"),
            ("GET", "/v1/journal?limit=-1", b"", "query_bad"),
            ("GET", "/v1/journal?before=1e999", b"", "query_bad"),
            ("POST", "/v1/inspections", '{"plate": "123ЖBC02", "category": "M1"}'.encode(), "plate_char"),
        ]
        for method, path, body, code in expect:
            token = admin.token if "journal" in path else op.token
            headers = {"Authorization": f"Bearer {token}"}
            async with http.request(method, f"http://laned{path}", data=body, headers=headers) as r:
                assert (await r.json())["error"]["code"] == code, (path, body[:30])
    # the operator's session still works, and no login got through
    st = await op.call("GET", "/v1/state")
    assert st["inspection"] is None and st["me"]["username"] == "operator"
    assert await User.all().count() == 3  # no user was added by a nasty body
    # The daemon's log (captured here: it runs in this process) names no password and no crash.
    records = [r for r in caplog.records if r.name.startswith("otolane")]
    assert records, "the daemon logged nothing: this check would see nothing"
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in records)
    assert all(pw not in text for pw in PASSWORDS.values())
    assert "internal error" not in text and "Traceback" not in text


def _nesting(value: object) -> int:
    """How deep a JSON value nests, by walking it (the reference _depth is held to)."""
    if isinstance(value, dict):
        return 1 + max((_nesting(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_nesting(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"42", 0),
        (b'{"a": [1, 2], "b": {"c": [3]}}', 3),
        (b"[[],[[[]]]]", 4),  # a closing bracket takes one level off, no more
        (b'{"a": {}, "b": {}, "c": {}}', 2),
        (b"[[], [], [], []]", 2),
        (b'["[[[[", "{{{{"]', 1),  # brackets inside strings are text
        (b'["\\"[[[[", [[1]]]', 3),  # an escaped quote does not end the string
        (b'["\\\\", [[1]]]', 3),  # an escaped backslash does not escape the quote after it
        (b'["a\\nb", "\\\\\\"]]]", [2]]', 2),
    ],
)
def test_the_depth_of_a_body_is_counted_before_it_is_parsed(raw: bytes, depth: int) -> None:
    """Issue #7 item 8: the nesting is counted on the bytes (the parser would recurse first)."""
    import json

    from app.api.request import depth as _depth

    assert _depth(raw) == depth == _nesting(json.loads(raw))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\\\ab,:'),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet='[]{}"\\\\ab'), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(json_values)
def test_the_counted_depth_is_the_depth_of_any_json(value: object) -> None:
    """Any JSON text, strings full of brackets, quotes and backslashes included, counts as deep as
    it nests."""
    import json

    from app.api.request import depth as _depth

    raw = json.dumps(value, ensure_ascii=False).encode()
    assert _depth(raw) == _nesting(value)

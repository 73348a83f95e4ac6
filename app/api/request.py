"""Reading a request of the local API: its JSON body with bounded depth, its typed fields, its query
numbers and its session. Every bad input is an :class:`OtolaneError` that names the field;
nothing here reaches the lane."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from app.auth import Accounts, Session
from app.eds.login import EdsLogin
from app.errors import OtolaneError
from app.journal import Journal
from app.lane.service import LaneService

SESSION = web.RequestKey("session", Session)
#: Longest text field the API takes (a longer one is refused, never cut silently), and the deepest
#: JSON body (deeper is refused before it can exhaust the parser).
MAX_FIELD = 500
MAX_DEPTH = 32


@dataclass(frozen=True)
class Parts:
    """What the handlers speak to: the lane's parts, the accounts, the journal, the NCA key logins."""

    lane: LaneService
    accounts: Accounts
    journal: Journal
    eds: EdsLogin


async def body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if depth(raw) > MAX_DEPTH:
        raise OtolaneError("body_too_deep", f"the request body nests deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise OtolaneError("body_not_json", "the request body is not JSON") from None
    if not isinstance(data, dict):
        raise OtolaneError("body_not_object", "the request body must be an object")
    return data


def field(data: dict[str, Any], name: str, typ: type, default: Any = ..., max_len: int = MAX_FIELD) -> Any:
    if name not in data:
        if default is ...:
            raise OtolaneError("field_missing", f"'{name}' is missing", field=name)
        return default
    value = data[name]
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise OtolaneError("field_type", f"'{name}' has the wrong type", field=name)
    if isinstance(value, str) and len(value) > max_len:
        raise OtolaneError("field_too_long", f"'{name}' is longer than {max_len}", field=name, max=max_len)
    return value


def number_field(data: dict[str, Any], name: str) -> float | None:
    """An optional number (a JSON integer or decimal; not a boolean, not text)."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OtolaneError("field_type", f"'{name}' has the wrong type", field=name)
    return float(value)


def session(request: web.Request) -> Session:
    return request[SESSION]


def user(request: web.Request) -> str:
    return request[SESSION].username


def depth(raw: bytes) -> int:
    """How deep a JSON text nests, counted without parsing it (brackets outside strings)."""
    depth = deepest = 0
    in_string = escaped = False
    for b in raw:
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif b in (0x5D, 0x7D):
            depth -= 1
    return deepest


def query_int(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    if name not in request.query:
        return default
    try:
        value = int(request.query[name])
    except ValueError:
        raise OtolaneError(
            "query_bad", f"'{name}' is a whole number from {low} to {high}", field=name, low=low, high=high
        ) from None
    if not low <= value <= high:
        raise OtolaneError(
            "query_bad", f"'{name}' is a whole number from {low} to {high}", field=name, low=low, high=high
        )
    return value


def query_text(request: web.Request, name: str, max_len: int, what: str) -> str | None:
    """An optional text of the query, refused when longer than ``max_len``."""
    value = request.query.get(name) or None
    if value is not None and len(value) > max_len:
        raise OtolaneError("query_bad", what, field=name, low=1, high=max_len)
    return value

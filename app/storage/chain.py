"""Hash chains over append-only tables (R3.10).

Each row carries ``hash = SHA-256(prev_hash ‖ canonical(content))`` where content is every stored
column but the hash itself, and ``prev_hash`` — the previous row's hash, part of the content too.
``prev_hash`` is not stored: it is the row before's ``hash``, and a walk has it in hand (a copy
in every row was a fifth of the database and proved nothing the hash does not). Changing, removing
or inserting any row breaks the chain from there on; :func:`verify` walks a chain and names the
first break.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.models import Model

from app.errors import OtolaneError
from app.storage.models import hash_text

GENESIS = "0" * 64
CHAINED: dict[str, tuple[str, ...]] = {
    "readings": (
        "seq",
        "inspection_id",
        "step",
        "device_id",
        "device_serial",
        "channel",
        "ts",
        "sealed",
        "prev_hash",
    ),
    "journal": ("seq", "ts", "actor", "action", "details", "prev_hash"),
    "cards": ("seq", "card_id", "inspection_id", "verdict", "created", "sealed", "prev_hash"),
    "photos": (
        "seq",
        "photo_id",
        "inspection_id",
        "step",
        "camera_id",
        "taken",
        "file_sha256",
        "sealed",
        "prev_hash",
    ),
    "eis_exchanges": (
        "seq",
        "ts",
        "route",
        "kind",
        "card_id",
        "idempotency_key",
        "attempt",
        "request_digest",
        "http_status",
        "outcome",
        "duration_ms",
        "error",
        "sealed_response",
        "prev_hash",
    ),
}
#: each chain's stored columns: its content but the previous row's hash
STORED: dict[str, tuple[str, ...]] = {
    t: tuple(k for k in cols if k != "prev_hash") for t, cols in CHAINED.items()
}


def _plain(v: Any) -> Any:
    # by exact type first: the integrity check calls this for every column of every row
    t = type(v)
    if t is float:
        return repr(v)
    if t is bytes:
        return base64.b64encode(v).decode()
    if isinstance(v, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, float):
        return repr(v)
    return v


#: the canonical form of a row's content (sorted keys, no spaces, text as it is), made once
_CANON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
#: a text as that encoder writes it (quoted, escaped, not made ASCII)
_ESCAPE = json.encoder.encode_basestring


def row_hash(table: str, row: dict[str, Any]) -> str:
    content = {k: _plain(row[k]) for k in CHAINED[table]}
    return hashlib.sha256((row["prev_hash"] + _CANON.encode(content)).encode()).hexdigest()


class ChainWriter:
    """Appends rows to one chained table; one writer per table in the daemon, behind a lock."""

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self.table: str = model._meta.db_table
        self._lock = asyncio.Lock()

    async def _tail(self, conn: Any) -> tuple[int, str]:
        last = await self.model.all().using_db(conn).order_by("-seq").first()
        if last is None:
            return 0, GENESIS
        return int(last.seq), str(last.hash)  # type: ignore[attr-defined]

    async def append(self, rows: Iterable[dict[str, Any]], conn: Any) -> list[Model]:
        """Insert rows in order within the caller's transaction ``conn``, which must hold the lane's
        write lock (``app.storage.db.write_tx``): another process may append to the same chain."""
        async with self._lock:
            seq, prev = await self._tail(conn)
            objs = []
            for data in rows:
                seq += 1
                row = dict(data, seq=seq, prev_hash=prev)
                prev = row_hash(self.table, row)
                del row["prev_hash"]
                objs.append(self.model(**row, hash=prev))
            if objs:
                await self.model.bulk_create(objs, using_db=conn)
            return objs


async def head(model: type[Model], conn: Any = None) -> tuple[int, str]:
    """The chain's last (seq, hash); (0, GENESIS) while it is empty."""
    q = model.all()
    if conn is not None:
        q = q.using_db(conn)
    last = await q.order_by("-seq").first().values("seq", "hash")
    if not last:
        return 0, GENESIS
    return int(last["seq"]), str(last["hash"])


@dataclass(frozen=True)
class Break:
    table: str
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"{self.table}: row {self.seq}: {self.problem}"


#: a page of a chain's raw rows, per engine (read straight from the driver: the ORM's objects cost
#: more than the hashing; the columns are the chain's own, never input)
_PAGE_SQL = {
    "sqlite": "SELECT {cols} FROM {table} WHERE seq > ? ORDER BY seq LIMIT ?",
    "postgres": "SELECT {cols} FROM {table} WHERE seq > $1 ORDER BY seq LIMIT $2",
}


async def _pages(model: type[Model], after: int, page: int) -> AsyncIterator[list[Any]]:
    """A chain's raw rows after ``after`` in order (its columns, then its hash), a page at a time;
    the next page is read while this one is hashed (the driver reads in its own thread)."""
    table = model._meta.db_table
    conn = connections.get("default")
    sql = _PAGE_SQL[conn.capabilities.dialect].format(cols=", ".join((*STORED[table], "hash")), table=table)
    ahead: asyncio.Future[Any] | None = asyncio.ensure_future(conn.execute_query(sql, [after, page]))
    try:
        while ahead is not None:
            _, batch = await ahead
            ahead = None
            if not batch:
                return
            if len(batch) == page:  # a short page is the last (rows added since: the next check's)
                ahead = asyncio.ensure_future(conn.execute_query(sql, [int(batch[-1][0]), page]))
            yield batch
    finally:
        if ahead is not None:
            ahead.cancel()
            with contextlib.suppress(BaseException):
                await ahead


#: the types whose canonical form is not themselves (see :func:`_plain`)
_ODD = (float, bytes, bytearray, memoryview)


class _Odd(Exception):
    """A column holds a type its table does not write (a row edited by hand)."""


#: how each kind of column is written in the canonical form (any other column is text)
_FLOATS = ("ts", "created", "taken", "duration_ms")
_INTS = ("seq", "attempt", "http_status")
_BLOBS = ("sealed", "sealed_response")  # sealed_response may be NULL


def _kind(column: str) -> str:
    if column in _INTS:
        return "int"
    if column in _FLOATS:
        return "float"
    if column in _BLOBS:
        return "blob"
    return "json" if column == "details" else "str"


class _Content:
    """A table's raw row → the canonical text of its content, as :func:`row_hash` makes it. The
    text is written column by column in the sorted order, each by the type the table writes there
    (the generic encoder took half a walk's time); a row holding any other type (edited by hand)
    goes through the generic form, :func:`_plain` and the encoder, whole."""

    def __init__(self, table: str) -> None:
        self.keys = STORED[table]
        self.floats = [k for k in self.keys if k in _FLOATS]
        self.blobs = [k for k in self.keys if k in _BLOBS]
        self.json = "details" in self.keys
        # (the text before the value, the value's place in the raw row or -1 for prev_hash, its kind)
        self.plan = [
            (("," if n else "{") + f'"{k}":', -1 if k == "prev_hash" else self.keys.index(k), _kind(k))
            for n, k in enumerate(sorted((*self.keys, "prev_hash")))
        ]

    def text(self, raw: Any, prev: str) -> str:
        """``prev``: the previous row's hash, as the walk has it."""
        try:
            return self._written(raw, prev)
        except _Odd:
            return self._generic(raw, prev)

    def _written(self, raw: Any, prev: str) -> str:
        out = []
        for head, i, kind in self.plan:
            v = prev if i < 0 else raw[i]
            t = type(v)
            if kind == "str":
                if t is not str:
                    raise _Odd
                out.append(head + _ESCAPE(v))
            elif kind == "float":
                if t is not float:
                    raise _Odd
                out.append(f'{head}"{v!r}"')
            elif kind == "int":
                if t is not int:
                    raise _Odd
                out.append(head + str(v))
            elif kind == "blob":
                if t is bytes:
                    out.append(f'{head}"{base64.b64encode(v).decode()}"')
                elif v is None:  # a column that may be empty (no answer to seal)
                    out.append(head + "null")
                else:
                    raise _Odd
            else:  # JSON, stored as its text
                if t is not str:
                    raise _Odd
                try:
                    value = json.loads(v)
                except ValueError:
                    raise _Odd from None
                if type(value) is float:  # the generic form writes a float as its repr's text
                    raise _Odd
                out.append(head + _CANON.encode(value))
        out.append("}")
        return "".join(out)

    def _generic(self, raw: Any, prev: str) -> str:
        d = dict(zip(self.keys, raw, strict=False))  # the stored hash, last, is left out
        d["prev_hash"] = prev
        for k in self.floats:
            if type(d[k]) is float:
                d[k] = repr(d[k])
        for k in self.blobs:
            if type(d[k]) is bytes:
                d[k] = base64.b64encode(d[k]).decode()
        if self.json and isinstance(d["details"], str):  # JSON comes back as its text
            with contextlib.suppress(ValueError):  # not JSON: written by hand, its hash will say so
                d["details"] = json.loads(d["details"])
        if any(type(v) in _ODD for v in d.values()):
            d = {k: _plain(v) for k, v in d.items()}
        return _CANON.encode(d)


@dataclass
class Walked:
    """How far a walk of one chain has come: the last row walked, its stored hash, and the chain's
    first break if one was met. A walk resumes from it (an interrupted check, or a check of what is
    new since the last good one)."""

    table: str
    seq: int = 0
    hash: str = GENESIS
    brk: Break | None = None


async def walk_pages(model: type[Model], at: Walked, page: int = 2000) -> AsyncIterator[int]:
    """Walk a chain on from ``at`` (updated in place), yielding the rows walked after each page. A
    table that cannot be read — dropped — is an :class:`OtolaneError` naming it."""
    table = at.table
    content = _Content(table)
    sha256 = hashlib.sha256
    try:
        async for rows in _pages(model, at.seq, page):
            for raw in rows:
                seq, digest = int(raw[0]), raw[-1]  # the hash as its 32 bytes
                if at.brk is None:
                    if seq != at.seq + 1:
                        at.brk = Break(table, at.seq + 1, f"row missing (next row is {seq})")
                    elif sha256((at.hash + content.text(raw, at.hash)).encode()).digest() != digest:
                        at.brk = Break(table, seq, "content changed after it was written")
                at.seq, at.hash = seq, digest.hex() if type(digest) is bytes else str(hash_text(digest))
            yield len(rows)
    except OtolaneError:
        raise
    except Exception as exc:
        raise OtolaneError(
            "table_missing", f"the table {table} cannot be read ({type(exc).__name__}): dropped?", table=table
        ) from None


#: the stored hashes of chosen rows, per engine (the seqs are ints we put in the query ourselves)
_AT_SQL = "SELECT seq, hash FROM {table} WHERE seq IN ({seqs})"


async def hashes_at(model: type[Model], seqs: Iterable[int]) -> dict[int, str]:
    """The stored hashes of the rows ``seqs`` that are there (a checkpoint or a card names them)."""
    wanted = sorted({int(s) for s in seqs if int(s) > 0})
    out: dict[int, str] = {}
    conn = connections.get("default")
    for k in range(0, len(wanted), 500):
        part = ",".join(str(s) for s in wanted[k : k + 500])
        _, rows = await conn.execute_query(_AT_SQL.format(table=model._meta.db_table, seqs=part))
        out.update((int(r[0]), str(hash_text(r[1]))) for r in rows)
    return out


async def prev_hashes(model: type[Model], seqs: Iterable[int]) -> dict[int, str]:
    """The hash each row of ``seqs`` was chained to: the stored hash of the row before it (GENESIS
    for the first); a row whose predecessor is gone is left out."""
    wanted = {int(s) for s in seqs}
    before = await hashes_at(model, (s - 1 for s in wanted))
    out = {s: before[s - 1] for s in wanted if s - 1 in before}
    return out | ({1: GENESIS} if 1 in wanted else {})


async def walk(model: type[Model], keep: set[int] | None = None) -> tuple[int, Break | None, dict[int, str]]:
    """Walk a chain to its end: the last seq, the first break (if any), and the stored hashes of the
    rows in ``keep``."""
    at = Walked(model._meta.db_table)
    async for _ in walk_pages(model, at):
        pass
    try:
        kept = await hashes_at(model, keep or ())
    except Exception:  # noqa: S110 - read a moment ago; a table dropped since is found next time
        kept = {}
    return at.seq, at.brk, kept


async def verify(model: type[Model]) -> tuple[int, Break | None]:
    """Walk a chain; return the number of rows checked and the first break, if any."""
    last, brk, _ = await walk(model)
    return last, brk

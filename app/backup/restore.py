"""``otolane restore BACKUP`` (R3.12, issue #24 (3)): a backup is restored into a scratch place
first and checked there in full — its manifest (the lane key's signature, every file's hash), then
the whole integrity check on the restored data (engine, chains, checkpoints, cards, state tables,
photo files) — and held against the live data to say exactly what going back would lose: the
cards formed after the backup (and which of them EIS has), the inspections begun since, the rows of
each chain. Only then, on the administrator's confirmation and with the daemon stopped, is it
swapped in (``swap.py``); nothing live is touched before.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.backup.make import (
    MANIFEST,
    PG_DUMP,
    SQLITE_COPY,
    Progress,
    manifest_problems,
    repository,
    tell,
)
from app.backup.restic import shown
from app.errors import OtolaneError
from app.storage import chain
from app.storage.anchor import LaneKey
from app.storage.crypto import sha256_file
from app.storage.db import close_db, open_db
from app.storage.models import CHAINED_MODELS, Card, Inspection, Outbox

if TYPE_CHECKING:
    from app.config import Config

_MODELS = {m._meta.db_table: m for m in CHAINED_MODELS}


@dataclass
class Prepared:
    """A backup restored into the scratch place and checked; what the swap needs and what it loses."""

    snapshot: str
    scratch: Path
    root: Path  # the staging folder as restored: the database copy, anchors.log, config, manifest
    photos: Path
    manifest: dict[str, Any]
    dsn: str  # the restored database
    ok: bool = False
    lines: list[str] = field(default_factory=list)
    lost: dict[str, Any] = field(default_factory=dict)
    resend: list[int] = field(default_factory=list)  # cards of the backup EIS has not confirmed yet
    live_readable: bool = False

    @property
    def last_number(self) -> int | None:
        """The last number used on the live lane (None: not known — the live data cannot be read)."""
        got = self.lost.get("last_number")
        return int(got) if got is not None else None


def scratch_config(cfg: Config, p: Prepared) -> Config:
    """The lane's configuration pointed at the restored copy; its keys are the live ones (a backup
    holds none); no EIS is asked from it (the live lane's witness is held at the swap)."""
    storage = cfg.storage | {
        "dsn": p.dsn,
        "anchor_file": str(p.root / "anchors.log"),
        "photos_dir": str(p.photos),
        "key_file": str(cfg.path(cfg.storage["key_file"])),
        "signing_key_file": str(cfg.path(cfg.storage["signing_key_file"])),
    }
    return dataclasses.replace(cfg, storage=storage, eis=cfg.eis | {"url": ""})


def _verify_files(p: Prepared) -> list[str]:
    problems = []
    for name, want in p.manifest["files"].items():
        path = p.photos / name.removeprefix("photos/") if name.startswith("photos/") else p.root / name
        if not path.is_file():
            problems.append(f"{name}: in the manifest, not in the backup")
        elif sha256_file(path) != want.get("sha256"):
            problems.append(f"{name}: not the file the manifest names (changed)")
    return problems


async def _pg_scratch(cfg: Config, dump: Path, name: str) -> str:
    """A scratch database beside the live one, filled by pg_restore; its DSN."""
    import asyncpg

    live = cfg.dsn.replace("postgres://", "postgresql://", 1)
    server, _, _ = live.rpartition("/")
    conn = await asyncpg.connect(f"{server}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = f"{server}/{name}"
    proc = await asyncio.create_subprocess_exec(
        "pg_restore",
        "--no-owner",
        f"--dbname={dsn}",
        str(dump),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        said = err.decode(errors="replace").strip()[-300:]
        raise OtolaneError("restore_failed", f"pg_restore: {said}", detail=f"pg_restore: {said}")
    return dsn


async def prepare(cfg: Config, wanted: str, progress: Progress | None = None) -> Prepared:
    """Restore ``wanted`` (a backup's id, or ``latest``) into the scratch place and check it."""
    from app.integrity.check import check
    from app.storage.store import close_store, open_store

    repo = repository(cfg)
    snap = await asyncio.to_thread(repo.find, wanted)
    scratch = cfg.path(cfg.backup["staging_dir"]) / f"restore-{snap.id[:8]}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True, mode=0o700)
    tell(progress, "restore", 0.0)
    await asyncio.to_thread(repo.restore, snap.id, scratch)
    places = [scratch / p.lstrip("/") for p in snap.paths]
    root = next((d for d in places if (d / MANIFEST).is_file()), None)
    if root is None:
        said = f"backup {snap.id[:8]} holds no {MANIFEST}: not a backup of a lane"
        raise OtolaneError("restore_failed", said, detail=said)
    manifest = read_manifest(root / MANIFEST, snap.id)
    photos = next((d for d in places if d != root), scratch / "photos")
    photos.mkdir(parents=True, exist_ok=True)
    key = LaneKey.load(cfg.path(cfg.storage["signing_key_file"]))
    p = Prepared(snap.id, scratch, root, photos, manifest, "")
    tell(progress, "manifest", 0.0)
    p.lines += manifest_problems(manifest, key.public)
    if p.lines:
        return p
    p.lines += await asyncio.to_thread(_verify_files, p)
    if manifest.get("lane") != cfg.lane["name"]:
        p.lines.append(f"the backup is of lane {manifest.get('lane')!r}, this is {cfg.lane['name']!r}")
    if p.lines:
        return p
    p.lines.append(f"manifest: signed by this lane's key, {len(manifest['files'])} files as it names them")
    if manifest.get("engine") == "postgres":
        p.dsn = await _pg_scratch(cfg, root / PG_DUMP, f"otolane_restore_{snap.id[:8]}")
    else:
        p.dsn = f"sqlite://{root / SQLITE_COPY}"
    tell(progress, "check", 0.0)
    scfg = scratch_config(cfg, p)
    store = await open_store(scfg, create=False)
    try:
        report = await check(scfg, store, "full", progress=_check_progress(progress))
        p.resend = await _undelivered()
    finally:
        await close_store()
    p.lines += [f"  {line}" for line in report["lines"]]
    p.ok = bool(report["ok"])
    tell(progress, "compare", 0.0)
    await _compare(cfg, p)
    return p


def _check_progress(progress: Progress | None) -> Any:
    if progress is None:
        return None
    return lambda fig: tell(progress, "check", float(fig.get("percent", 0.0)) / 100)


async def _undelivered() -> list[int]:
    """Numbers of the restored cards EIS has not confirmed: the outbox sends them after the swap."""
    ids = await Outbox.filter(status="pending").values_list("card_id", flat=True)
    insp = await Card.filter(card_id__in=list(ids)).values_list("inspection_id", flat=True)
    return sorted(await Inspection.filter(id__in=list(insp)).values_list("number", flat=True))


async def _compare(cfg: Config, p: Prepared) -> None:
    """What the live data holds past the backup: what a swap would lose."""
    heads = p.manifest["heads"]
    try:
        await open_db(cfg.dsn)
    except Exception as exc:
        p.lost = {"unreadable": f"{type(exc).__name__}: {str(exc)[:200]}"}
        with contextlib.suppress(Exception):
            await close_db()  # a connection half made keeps its thread, and the process, alive
        return
    try:
        rows: dict[str, int] = {}
        diverged = []
        for table, (seq, digest) in heads.items():
            model = _MODELS.get(table)
            if model is None:
                continue
            last = (await chain.head(model))[0]
            rows[table] = max(0, last - int(seq))
            if last < int(seq):
                diverged.append(f"{table} ends at row {last}, before the backup's row {seq} (damaged)")
            elif seq and (await chain.hashes_at(model, [int(seq)])).get(int(seq)) != digest:
                diverged.append(f"{table} row {seq} is not the backup's (changed since)")
        cards = (
            await Card.filter(seq__gt=int(heads["cards"][0]))
            .order_by("seq")
            .values("card_id", "inspection_id")
        )
        numbers = dict(
            await Inspection.filter(id__in=[c["inspection_id"] for c in cards]).values_list("id", "number")
        )
        status = dict(
            await Outbox.filter(card_id__in=[c["card_id"] for c in cards]).values_list("card_id", "status")
        )
        begun = await Inspection.filter(number__gt=int(p.manifest["last_number"])).values_list("number", "id")
        carded = {c["inspection_id"] for c in cards}
        last = await Inspection.all().order_by("-number").first()
        p.lost = {
            "rows": rows,
            "diverged": diverged,
            "cards": [
                {"number": numbers.get(c["inspection_id"]), "eis": status.get(c["card_id"]) == "accepted"}
                for c in cards
            ],
            "inspections_without_card": sorted(n for n, i in begun if i not in carded),
            "last_number": max(int(last.number) if last else 0, int(p.manifest["last_number"])),
        }
        p.live_readable = True
    except Exception as exc:  # a corrupt live database: what can be said is said
        p.lost = {"unreadable": f"{type(exc).__name__}: {str(exc)[:200]}"}
    finally:
        await close_db()


#: a manifest names every file of a backup (a lane-year of photos: ~50 000 lines); nothing more is read
MAX_MANIFEST = 64 * 1024 * 1024


def read_manifest(path: Path, snap: str) -> dict[str, Any]:
    """The backup's manifest as JSON, bounded; a file that is not one is said, never a traceback."""
    with path.open("rb") as f:
        data = f.read(MAX_MANIFEST + 1)
    try:
        if len(data) > MAX_MANIFEST:
            raise ValueError(f"larger than {MAX_MANIFEST} bytes")
        manifest = json.loads(data)
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        said = f"backup {snap[:8]}: its {MANIFEST} cannot be read ({exc})"
        raise OtolaneError("restore_failed", said, detail=said) from exc
    return manifest


def loss_lines(p: Prepared) -> list[str]:
    """The loss as the administrator reads it before saying yes."""
    m = p.manifest
    out = [f"backup {p.snapshot[:8]} of {_when(m['made'])}: inspections up to No. {m['last_number']}"]
    lost = p.lost
    if "unreadable" in lost:
        return [
            *out,
            f"the live database cannot be read ({lost['unreadable']}): what it held after the backup is "
            "not known. Give the number of the last card the lane issued (--last-number N; the last "
            "printed card, or EIS's list) so that no number is issued twice.",
        ]
    if lost["diverged"]:
        out.append(
            "the live data does not continue from this backup: "
            + "; ".join(lost["diverged"])
            + " — what it held there past the backup cannot be counted"
        )
    cards = lost["cards"]
    if cards:
        at_eis = [str(c["number"]) for c in cards if c["eis"]]
        only_here = [str(c["number"]) for c in cards if not c["eis"]]
        out.append(
            f"lost: {len(cards)} card(s) formed after the backup, No. "
            + ", ".join(str(c["number"]) for c in cards)
        )
        if at_eis:
            out.append(f"  EIS has No. {', '.join(at_eis)}: their numbers are not given again")
        if only_here:
            out.append(f"  EIS never had No. {', '.join(only_here)}: those inspections must be done again")
    else:
        out.append("lost: no card (none was formed after the backup)")
    if lost["inspections_without_card"]:
        out.append(
            "lost: inspection(s) begun after the backup, No. "
            + ", ".join(map(str, lost["inspections_without_card"]))
        )
    moved = {t: n for t, n in lost["rows"].items() if n}
    if moved:
        out.append("lost rows: " + ", ".join(f"{t} {n}" for t, n in sorted(moved.items())))
    if p.resend:
        out.append(
            "sent again after the restore (EIS had not confirmed them at the backup): No. "
            + ", ".join(map(str, p.resend))
        )
    out.append(f"the next inspection will be No. {lost['last_number'] + 1}")
    return out


def _when(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts).isoformat(sep=" ", timespec="seconds")


def where(cfg: Config) -> str:
    return shown(cfg.backup["repository"])

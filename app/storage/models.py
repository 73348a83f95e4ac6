"""Tables. Chained tables (readings, journal, cards) are append-only: rows are inserted once, with
the hash of their content and of the previous row (R3.10); nothing in the code updates them."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.expressions import RawSQL
from tortoise.models import Model
from tortoise.queryset import QuerySet


class SchemaVersion(Model):
    version = fields.IntField(primary_key=True)
    description = fields.CharField(max_length=200)
    applied_at = fields.FloatField()

    class Meta:
        table = "schema_version"


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    role = fields.CharField(max_length=16)
    full_name = fields.CharField(max_length=200, default="")
    pw_hash = fields.CharField(max_length=255)
    pw_changed_at = fields.FloatField()
    pw_history = fields.JSONField(default=list)
    failed_logins = fields.IntField(default=0)
    locked_until = fields.FloatField(default=0.0)
    disabled = fields.BooleanField(default=False)
    created_at = fields.FloatField()
    #: the IIN of the employee's NCA key, sealed (R7); bound by an administrator (R3.1)
    eds_iin = fields.BinaryField(null=True)
    #: the person's own rights beside the role's (R10.4, R10.5): permission → true granted, false
    #: withdrawn (``app/rights.py``)
    rights = fields.JSONField(default=dict)

    class Meta:
        table = "users"


class Inspection(Model):
    id = fields.CharField(max_length=36, primary_key=True)
    number = fields.IntField(unique=True)
    sealed = fields.BinaryField()  # plate, owner … (personal data, R7)
    category = fields.CharField(max_length=4)
    fuel = fields.CharField(max_length=12)
    axles = fields.IntField()
    operator = fields.CharField(max_length=64)
    started = fields.FloatField()  # lane time
    finished = fields.FloatField(null=True)
    status = fields.CharField(max_length=12, default="open")  # open / carded / aborted
    training = fields.BooleanField(default=False)
    steps = fields.JSONField(default=dict)  # step id -> {status, started, finished}

    class Meta:
        table = "inspections"


class HashField(fields.Field[str]):
    """A SHA-256 kept as its 32 bytes and handled as 64 hex digits: half the size of its text in
    every chained row. A stored value that is not 32 bytes (written by hand) comes back as the hex
    of whatever it holds, and its row's check fails."""

    SQL_TYPE = "BLOB"
    field_type = str
    indexable = False

    class _db_postgres:
        SQL_TYPE = "BYTEA"

    def to_db_value(self, value: Any, instance: Any) -> bytes | None:
        if value is None or isinstance(value, bytes):
            return value
        return bytes.fromhex(value)

    def to_python_value(self, value: Any) -> str | None:
        return hash_text(value)


def hash_text(value: Any) -> Any:
    """A stored hash as its hex digits (a column read by raw SQL); text as it is."""
    return bytes(value).hex() if isinstance(value, bytes | bytearray | memoryview) else value


class Chained(Model):
    """An append-only row of a hash chain (see ``app/storage/chain.py``)."""

    seq = fields.BigIntField(primary_key=True, generated=False)
    hash = HashField()  # chained to the row before's (its prev_hash, not stored)

    class Meta:
        abstract = True


#: readings are found by the first 8 characters of their inspection's id (a random UUID: 32 bits),
#: then the whole id: an index of the whole was a ninth of the database (``app/storage/migrations.py``, v13)
READINGS_INDEX = "readings_inspection"
READINGS_KEY = "substr(inspection_id, 1, 8)"


class Reading(Chained):
    inspection_id = fields.CharField(max_length=36)  # indexed by its prefix: READINGS_INDEX
    step = fields.CharField(max_length=40)
    device_id = fields.CharField(max_length=40)
    device_serial = fields.CharField(max_length=64)
    channel = fields.CharField(max_length=64)
    ts = fields.FloatField()
    sealed = fields.BinaryField()  # value, unit, raw frame (results, R7)

    class Meta:
        table = "readings"

    @classmethod
    def by_prefix(cls, inspection_id: str, step: str | None = None) -> QuerySet[Reading]:
        """The query :meth:`of` sends: the readings whose inspection id has this one's prefix."""
        q = cls.annotate(key=RawSQL(READINGS_KEY)).filter(key=inspection_id[:8])
        return (q.filter(step=step) if step is not None else q).order_by("seq")

    @classmethod
    async def of(cls, inspection_id: str, step: str | None = None) -> list[Reading]:
        """An inspection's readings (of one step) in their order, through the prefix index. The
        whole id is compared here: asked in SQL too, SQLite puts the id into the prefix's expression
        and no longer sees the index."""
        return [r for r in await cls.by_prefix(inspection_id, step) if r.inspection_id == inspection_id]


class JournalEntry(Chained):
    ts = fields.FloatField()
    actor = fields.CharField(max_length=64)
    action = fields.CharField(max_length=40, db_index=True)
    details = fields.JSONField()

    class Meta:
        table = "journal"


class Card(Chained):
    card_id = fields.CharField(max_length=36, unique=True)
    inspection_id = fields.CharField(max_length=36, unique=True)
    verdict = fields.CharField(max_length=16)
    created = fields.FloatField()
    sealed = fields.BinaryField()

    class Meta:
        table = "cards"


class Photo(Chained):
    """A vehicle photo (R3.9, R3.18): its file is encrypted apart (``storage.photos_dir``); the row
    binds the file's hashes into the chain at capture, so a changed or missing file is found (R3.10)."""

    photo_id = fields.CharField(max_length=36, unique=True)
    inspection_id = fields.CharField(max_length=36, db_index=True)
    step = fields.CharField(max_length=40)
    camera_id = fields.CharField(max_length=40)
    taken = fields.FloatField()  # wall time of the frame
    file_sha256 = fields.CharField(max_length=64)  # of the encrypted file as written
    sealed = fields.BinaryField()  # camera identity, geolocation, size, the image's own sha256

    class Meta:
        table = "photos"


class EisFeed(Model):
    """Where a feed to EIS stands in the journal (``app/eis/events.py``): the seq of the last entry
    EIS has. Moved in the transaction that stores the accepting exchange."""

    name = fields.CharField(max_length=20, primary_key=True)
    last_seq = fields.BigIntField(default=0)
    updated = fields.FloatField(default=0.0)

    class Meta:
        table = "eis_feed"


class Outbox(Model):
    id = fields.IntField(primary_key=True)
    card_id = fields.CharField(max_length=36, unique=True)
    idempotency_key = fields.CharField(max_length=64, unique=True)
    training = fields.BooleanField(default=False)
    status = fields.CharField(max_length=12, default="pending", db_index=True)
    attempts = fields.IntField(default=0)
    next_attempt = fields.FloatField(default=0.0)
    last_error = fields.CharField(max_length=500, default="")
    receipt = fields.CharField(max_length=100, default="")
    updated = fields.FloatField(default=0.0)
    #: G3: the forming employee's detached CMS signature of the card body (base64), when signed
    signature = fields.TextField(null=True)

    class Meta:
        table = "outbox"


class EisExchange(Chained):
    """G2: one request to EIS and its answer — traceable without a debugger. A chain of its own
    (migration 14), so a row taken out is found: the integrity check holds the event feed's position
    and every accepted card against these rows (``app/integrity/feed.py``). The answer's text may
    carry personal data: it is sealed (R7); the rest is plain so the admin can read the trace."""

    ts = fields.FloatField(db_index=True)
    route = fields.CharField(max_length=8)
    kind = fields.CharField(max_length=12, default="card")  # card / events / photo / requests / history
    card_id = fields.CharField(max_length=36, db_index=True)  # the card, or "" for other messages
    idempotency_key = fields.CharField(max_length=64)
    attempt = fields.IntField()
    request_digest = fields.CharField(max_length=64)
    http_status = fields.IntField()
    outcome = fields.CharField(max_length=12)
    duration_ms = fields.FloatField()
    error = fields.CharField(max_length=300, default="")
    sealed_response = fields.BinaryField(null=True)

    class Meta:
        table = "eis_exchanges"


#: The append-only, hash-chained tables, in the order the integrity check walks them.
CHAINED_MODELS: tuple[type[Chained], ...] = (Reading, JournalEntry, Card, Photo, EisExchange)

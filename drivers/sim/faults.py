"""Line faults the simulators inject on demand: a bad checksum, garbage, a truncated frame."""

from __future__ import annotations

import random


def corrupt(frame: bytes, rng: random.Random, has_checksum: bool = True) -> bytes:
    how = rng.choice(("checksum", "garbage", "truncate"))
    if how == "checksum" and has_checksum:
        return frame[:-1] + bytes([frame[-1] ^ 0x5A])
    if how == "garbage":
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
    return frame[: rng.randint(1, max(1, len(frame) - 1))]

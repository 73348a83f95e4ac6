"""What the lane reads from a server it does not control (EIS, an OCSP responder): bounded."""

from __future__ import annotations

import aiohttp


class TooLarge(ValueError):
    """A body larger than the lane reads from the far side."""


async def read_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body of ``response``, refused once it passes ``limit`` bytes (whatever its
    Content-Length says: a server may lie or send none)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the answer is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

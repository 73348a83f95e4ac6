"""RC2 decryption (RFC 2268), for the certificate bags NCA still writes under RC2-40.

Python's ``cryptography`` offers RC2 only with a 128-bit key and 128 effective bits; an NCA
PKCS#12 file encrypts its certificates with a 40-bit key (``pbeWithSHAAnd40BitRC2-CBC``), which
needs the effective-key-bits reduction of RFC 2268 §2. This is the cipher from the RFC's text,
decryption only: it runs once per container over a few kilobytes. Checked against ``cryptography``
for 128-bit keys over many random keys, and by opening NCA's own test containers
(tests/unit/test_eds_container.py).
"""

from __future__ import annotations

# RFC 2268 §2, PITABLE: a permutation of 0..255 "based on the digits of pi".
_PI = bytes.fromhex(
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2"
    "179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82"
    "54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626"
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7"
    "08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec"
    "c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731"
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9"
    "0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad"
)
_MASK = 0xFFFF


def expand_key(key: bytes, effective_bits: int) -> list[int]:
    """The 64 16-bit words of the key schedule (RFC 2268 §2)."""
    if not 1 <= len(key) <= 128 or not 1 <= effective_bits <= 1024:
        raise ValueError("RC2 key of 1..128 bytes and 1..1024 effective bits")
    buf = bytearray(128)
    buf[: len(key)] = key
    for i in range(len(key), 128):
        buf[i] = _PI[(buf[i - 1] + buf[i - len(key)]) & 0xFF]
    t8 = (effective_bits + 7) // 8
    tm = 0xFF >> (8 * t8 - effective_bits)
    buf[128 - t8] = _PI[buf[128 - t8] & tm]
    for i in range(127 - t8, -1, -1):
        buf[i] = _PI[buf[i + 1] ^ buf[i + t8]]
    return [buf[2 * i] | (buf[2 * i + 1] << 8) for i in range(64)]


def _rot_right(x: int, s: int) -> int:
    return ((x >> s) | (x << (16 - s))) & _MASK


def decrypt_block(k: list[int], block: bytes) -> bytes:
    """One 8-byte block: five reverse mixing rounds, a reverse mash, six, a mash, five (§4)."""
    r = [
        block[0] | block[1] << 8,
        block[2] | block[3] << 8,
        block[4] | block[5] << 8,
        block[6] | block[7] << 8,
    ]
    j = 63
    for rounds in (5, 6, 5):
        for _ in range(rounds):
            for i, s in ((3, 5), (2, 3), (1, 2), (0, 1)):
                r[i] = _rot_right(r[i], s)
                r[i] = (
                    r[i] - k[j] - (r[(i - 1) % 4] & r[(i - 2) % 4]) - (~r[(i - 1) % 4] & r[(i - 3) % 4])
                ) & _MASK
                j -= 1
        if j > 0:  # a reverse mashing round after the first two groups, not after the last
            for i in (3, 2, 1, 0):
                r[i] = (r[i] - k[r[(i - 1) % 4] & 63]) & _MASK
    return bytes(b for w in r for b in (w & 0xFF, w >> 8))


def cbc_decrypt(key: bytes, effective_bits: int, iv: bytes, data: bytes) -> bytes:
    """CBC decryption with PKCS#5 padding left on (the caller checks and strips it)."""
    if len(iv) != 8 or len(data) % 8:
        raise ValueError("RC2-CBC needs an 8-byte IV and whole 8-byte blocks")
    k = expand_key(key, effective_bits)
    out = bytearray()
    prev = iv
    for at in range(0, len(data), 8):
        block = data[at : at + 8]
        plain = decrypt_block(k, block)
        out += bytes(a ^ b for a, b in zip(plain, prev, strict=True))
        prev = block
    return bytes(out)

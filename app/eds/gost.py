"""GOST R 34.10-2012 / 34.10-2015 signatures (512-bit, the key NCA issues today) with Streebog-512.

The curve tables and the Streebog hash come from ``gostcrypto``; its point arithmetic (affine, one
modular inversion per step) takes about 0.45 s per verification on this machine, and a login needs
four or five of them. The arithmetic here is the same algorithm in Jacobian coordinates with
windowed scalar multiplication — one inversion per multiplication — and is checked against the
standard's own example (GOST R 34.10-2012 App. A.2), against ``gostcrypto`` both ways, and against
NCA's real certificate signatures (tests/unit/test_eds_gost.py).

NCA's byte order (reference/nca-test/README.md): the public key is x‖y, the signature r‖s and the
private key d, each number little-endian; the digest is read as a little-endian number.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from gostcrypto import gosthash
from gostcrypto.gostsignature import CURVES_R_1323565_1_024_2019

Point = tuple[int, int]
_Jac = tuple[int, int, int]


@dataclass(frozen=True)
class Curve:
    """A short Weierstrass curve y² = x³ + ax + b over GF(p), base point (x, y) of prime order q."""

    name: str
    p: int
    a: int
    b: int
    q: int
    x: int
    y: int
    size: int  # bytes per coordinate
    table: list[_Jac] = field(default_factory=list, compare=False, repr=False)

    @property
    def g(self) -> Point:
        return (self.x, self.y)


def _from_table(name: str, size: int) -> Curve:
    c = CURVES_R_1323565_1_024_2019[name]
    return Curve(name, c["p"], c["a"], c["b"], c["q"], c["x"], c["y"], size)


PARAMSET_A_512 = _from_table("id-tc26-gost-3410-12-512-paramSetA", 64)
# NCA's parameter OID 1.2.398.3.10.1.1.2.2.1 names this curve (verified on the 2022 test chain)
CURVES = {"1.2.398.3.10.1.1.2.2.1": PARAMSET_A_512}

_WINDOW = 4


def _double(c: Curve, pt: _Jac) -> _Jac:
    x, y, z = pt
    if not y or not z:
        return (1, 1, 0)
    p = c.p
    yy = y * y % p
    s = 4 * x * yy % p
    zz = z * z % p
    m = (3 * x * x + c.a * zz * zz) % p
    x3 = (m * m - 2 * s) % p
    return (x3, (m * (s - x3) - 8 * yy * yy) % p, 2 * y * z % p)


def _add(c: Curve, p1: _Jac, p2: _Jac) -> _Jac:
    if not p1[2]:
        return p2
    if not p2[2]:
        return p1
    p = c.p
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    z1z1, z2z2 = z1 * z1 % p, z2 * z2 % p
    u1, u2 = x1 * z2z2 % p, x2 * z1z1 % p
    s1, s2 = y1 * z2 * z2z2 % p, y2 * z1 * z1z1 % p
    h, r = (u2 - u1) % p, (s2 - s1) % p
    if not h:
        return _double(c, p1) if not r else (1, 1, 0)
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    return (x3, (r * (v - x3) - s1 * hhh) % p, h * z1 * z2 % p)


def _affine(c: Curve, pt: _Jac) -> Point | None:
    if not pt[2]:
        return None
    zi = pow(pt[2], -1, c.p)
    zi2 = zi * zi % c.p
    return (pt[0] * zi2 % c.p, pt[1] * zi2 * zi % c.p)


def _window(c: Curve, pt: Point) -> list[_Jac]:
    table: list[_Jac] = [(1, 1, 0), (pt[0], pt[1], 1)]
    for _ in range(2, 1 << _WINDOW):
        table.append(_add(c, table[-1], table[1]))
    return table


def _multi(c: Curve, pairs: list[tuple[int, list[_Jac]]]) -> _Jac:
    """Σ kᵢ·Pᵢ, the windows of all scalars interleaved (Shamir's trick): one chain of doublings."""
    bits = max(k.bit_length() for k, _ in pairs)
    acc: _Jac = (1, 1, 0)
    mask = (1 << _WINDOW) - 1
    for shift in range(((bits + _WINDOW - 1) // _WINDOW - 1) * _WINDOW, -1, -_WINDOW):
        for _ in range(_WINDOW):
            acc = _double(c, acc)
        for k, table in pairs:
            digit = (k >> shift) & mask
            if digit:
                acc = _add(c, acc, table[digit])
    return acc


def _base_table(c: Curve) -> list[_Jac]:
    if not c.table:
        c.table.extend(_window(c, c.g))
    return c.table


def on_curve(c: Curve, pt: Point) -> bool:
    x, y = pt
    return 0 <= x < c.p and 0 <= y < c.p and (y * y - x * x * x - c.a * x - c.b) % c.p == 0


def public_key(c: Curve, d: int) -> Point:
    if not 0 < d < c.q:
        raise ValueError("private key out of range")
    q = _affine(c, _multi(c, [(d, _base_table(c))]))
    assert q is not None
    return q


def _e(c: Curve, digest: int) -> int:
    return digest % c.q or 1  # GOST R 34.10-2012 §6.1 step 2: e = α mod q, 1 if zero


def sign(c: Curve, d: int, digest: int, k: int | None = None) -> tuple[int, int]:
    """(r, s) of GOST R 34.10-2012 §6.1; ``k`` only for known-answer tests."""
    e = _e(c, digest)
    while True:
        kk = k if k is not None else secrets.randbelow(c.q - 1) + 1
        pt = _affine(c, _multi(c, [(kk, _base_table(c))]))
        r = pt[0] % c.q if pt else 0
        s = (r * d + kk * e) % c.q
        if r and s:
            return r, s
        if k is not None:
            raise ValueError("the given k gives r = 0 or s = 0")


def verify(c: Curve, q_point: Point, digest: int, r: int, s: int) -> bool:
    """GOST R 34.10-2012 §6.2."""
    if not (0 < r < c.q and 0 < s < c.q) or not on_curve(c, q_point):
        return False
    v = pow(_e(c, digest), -1, c.q)
    z1, z2 = s * v % c.q, (c.q - r) * v % c.q
    pt = _affine(c, _multi(c, [(z1, _base_table(c)), (z2, _window(c, q_point))]))
    return pt is not None and pt[0] % c.q == r


def streebog512(data: bytes) -> bytes:
    return bytes(gosthash.new("streebog512", data=bytearray(data)).digest())


# NCA byte order: every number little-endian
def nca_sign(c: Curve, d_le: bytes, data: bytes) -> bytes:
    r, s = sign(c, int.from_bytes(d_le, "little"), int.from_bytes(streebog512(data), "little"))
    return r.to_bytes(c.size, "little") + s.to_bytes(c.size, "little")


def nca_verify(c: Curve, public_le: bytes, data: bytes, signature_le: bytes) -> bool:
    n = c.size
    if len(public_le) != 2 * n or len(signature_le) != 2 * n:
        return False
    q_point = (int.from_bytes(public_le[:n], "little"), int.from_bytes(public_le[n:], "little"))
    r, s = int.from_bytes(signature_le[:n], "little"), int.from_bytes(signature_le[n:], "little")
    return verify(c, q_point, int.from_bytes(streebog512(data), "little"), r, s)


def nca_public(c: Curve, d_le: bytes) -> bytes:
    x, y = public_key(c, int.from_bytes(d_le, "little"))
    return x.to_bytes(c.size, "little") + y.to_bytes(c.size, "little")

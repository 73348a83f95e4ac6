"""Rendered lane scenes with a car's plate, for the recogniser's evaluation set, its tests and the
simulated cameras. Deterministic for a seed: the same plate, conditions and seed give the
same image, so a benchmark's figures repeat.

A plate is drawn as its format looks (``shared/reference/norms.md`` §4.2): a white 2012+ plate with
the KZ strip at the left and the region in a box at the right; the 1993 plate with the region letter
first; a yellow plate for foreign owners, a red one with white characters for diplomats. The scene
puts it on a car's front at 1280×720 (R6's minimum), turned in perspective, with any of: motion
blur, a glare spot, dirt, night (dark and noisy).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from app.domain.plates import plate_format

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf")
WIDTH, HEIGHT = 1280, 720
#: plate size in pixels before the scene's scale (520 × 112 mm, 1 px per mm)
PLATE_W, PLATE_H = 520, 112
CONDITIONS = ("clean", "perspective", "blur", "glare", "dirt", "night")


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # BGR, HEIGHT × WIDTH × 3
    plate: str
    condition: str
    box: tuple[int, int, int, int]  # the plate's bounding box in the image (x, y, w, h)


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT), size)


def _groups(plate: str) -> tuple[list[str], str | None]:
    """The plate's character groups as printed, and its boxed region code (2012+ formats)."""
    fmt = plate_format(plate)
    fid = fmt.id if fmt else ""
    if fid == "kz2012":
        return [plate[:3], plate[3:6]], plate[6:]
    if fid == "kz2012_legal":
        return [plate[:3], plate[3:5]], plate[5:]
    if fid == "foreign":
        return [plate[:5]], plate[5:]
    if fid in ("kz1993", "kz1993_legal"):
        return [plate[0], plate[1:4], plate[4:]], None
    return [plate], None


def render_plate(plate: str) -> Image.Image:
    """The plate alone, as a PIL image of PLATE_W × PLATE_H."""
    fmt = plate_format(plate)
    fid = fmt.id if fmt else ""
    bg, fg = {"foreign": ("#f2c500", "black"), "diplomatic": ("#c8102e", "white")}.get(
        fid, ("white", "black")
    )
    img = Image.new("RGB", (PLATE_W, PLATE_H), bg)
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([2, 2, PLATE_W - 3, PLATE_H - 3], radius=10, outline=fg, width=4)
    groups, region = _groups(plate)
    left = 10
    if fid.startswith("kz2012") or fid == "foreign":  # the KZ strip: flag blue, "KZ"
        d.rectangle([10, 10, 60, PLATE_H - 11], fill="#00afca")
        d.text((16, PLATE_H - 40), "KZ", font=_font(24), fill="white")
        left = 66
    right = PLATE_W - 10
    if region:
        d.line([(PLATE_W - 110, 8), (PLATE_W - 110, PLATE_H - 9)], fill=fg, width=3)
        d.text((PLATE_W - 102, 14), region, font=_font(76), fill=fg)
        right = PLATE_W - 116
    text = " ".join(groups)
    size = 88
    while _font(size).getlength(text) > right - left - 8 and size > 40:
        size -= 2
    font = _font(size)
    x = left + (right - left - font.getlength(text)) / 2
    d.text((x, (PLATE_H - size) / 2 - 8), text, font=font, fill=fg)
    return img


def _car(rng: random.Random) -> np.ndarray:
    """A car's front on the lane, in broad strokes: floor, body, grille, lights."""
    img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    img[:] = (rng.randint(60, 110),) * 3
    img[500:] = (rng.randint(40, 70),) * 3  # the lane's floor
    colour = tuple(rng.randint(20, 230) for _ in range(3))
    cv2.rectangle(img, (180, 150), (1100, 560), colour, -1)
    cv2.rectangle(img, (330, 330), (950, 420), tuple(max(0, c - 60) for c in colour), -1)  # grille
    for x in (230, 930):
        cv2.ellipse(img, (x + 60, 250), (80, 35), 0, 0, 360, (235, 235, 225), -1)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def render_scene(plate: str, condition: str = "clean", seed: int = 0) -> Scene:
    """A 1280×720 BGR scene with ``plate`` on the car, under ``condition`` (one of CONDITIONS)."""
    if condition not in CONDITIONS:
        raise ValueError(f"condition: one of {', '.join(CONDITIONS)}")
    rng = random.Random(f"{plate}:{condition}:{seed}")
    img = _car(rng)
    pl = cv2.cvtColor(np.array(render_plate(plate)), cv2.COLOR_RGB2BGR)
    scale = rng.uniform(0.55, 0.8)
    w, h = int(PLATE_W * scale), int(PLATE_H * scale)
    cx, cy = rng.randint(420, 860), rng.randint(430, 480)
    src = np.float32([[0, 0], [PLATE_W, 0], [PLATE_W, PLATE_H], [0, PLATE_H]])
    tilt = 0.18 if condition == "perspective" else 0.04
    jx, jy = w * tilt, h * tilt
    dst = np.float32(
        [
            [cx - w / 2 + rng.uniform(-jx, jx), cy - h / 2 + rng.uniform(-jy, jy)],
            [cx + w / 2 + rng.uniform(-jx, jx), cy - h / 2 + rng.uniform(-jy, jy)],
            [cx + w / 2 + rng.uniform(-jx, jx), cy + h / 2 + rng.uniform(-jy, jy)],
            [cx - w / 2 + rng.uniform(-jx, jx), cy + h / 2 + rng.uniform(-jy, jy)],
        ]
    )
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(pl, m, (WIDTH, HEIGHT))
    mask = cv2.warpPerspective(np.full((PLATE_H, PLATE_W), 255, np.uint8), m, (WIDTH, HEIGHT))
    img[mask > 0] = warped[mask > 0]
    x, y, bw, bh = cv2.boundingRect(dst.astype(np.int32))
    if condition == "blur":
        k = rng.choice((7, 9, 11))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k  # motion blur: the car rolls in
        img = cv2.filter2D(img, -1, kernel)
    elif condition == "glare":
        glare = np.zeros_like(img, np.float32)
        gx, gy = cx + rng.randint(-w // 3, w // 3), cy + rng.randint(-h // 3, h // 3)
        cv2.circle(glare, (gx, gy), rng.randint(25, 45), (120, 120, 120), -1)
        glare = cv2.GaussianBlur(glare, (0, 0), 18)
        img = np.clip(img.astype(np.float32) + glare, 0, 255).astype(np.uint8)
    elif condition == "dirt":
        for _ in range(rng.randint(6, 12)):
            p = (rng.randint(x, x + bw), rng.randint(y, y + bh))
            cv2.circle(img, p, rng.randint(2, 5), (60, 70, 80), -1)
    elif condition == "night":
        dark = img.astype(np.float32) * rng.uniform(0.35, 0.5)
        noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 10, img.shape)
        img = np.clip(dark + noise, 0, 255).astype(np.uint8)
    return Scene(img, plate, condition, (x, y, bw, bh))


def evaluation_set(n_per_condition: int = 20, seed: int = 0) -> list[Scene]:
    """Scenes of plates of every format, under every condition."""
    rng = random.Random(seed)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    region_letters = "ZACDBELHKPNRXSTF"

    def plate(i: int) -> str:
        kind = i % 10
        d3 = f"{rng.randint(0, 999):03d}"
        reg = f"{rng.randint(1, 20):02d}"
        if kind < 5:
            return d3 + "".join(rng.choice(letters) for _ in range(3)) + reg
        if kind < 7:
            return d3 + "".join(rng.choice(letters) for _ in range(2)) + reg
        if kind < 9:
            return rng.choice(region_letters) + d3 + "".join(rng.choice(letters) for _ in range(3))
        return rng.choice("FH") + f"{rng.randint(0, 9999):04d}" + reg

    return [
        render_scene(plate(i), condition, seed * 1000 + i)
        for condition in CONDITIONS
        for i in range(n_per_condition)
    ]


def empty_lane(seed: int = 0) -> np.ndarray:
    """The lane with no car on it: the back wall and the floor (what a plate camera sees between cars)."""
    rng = random.Random(f"empty:{seed}")
    img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    img[:] = (rng.randint(60, 110),) * 3
    img[500:] = (rng.randint(40, 70),) * 3
    cv2.rectangle(img, (40, 60), (200, 480), (90, 110, 130), -1)  # a door in the wall
    return img


def camera_frames(plate: str, n: int = 2) -> list[np.ndarray]:
    """What a simulated lane camera shows: ``n`` BGR frames of one car with ``plate`` standing still
    (an empty lane when none is given), each with its own sensor noise — a lane camera's picture
    changes from frame to frame only by noise while nothing moves (the arrival watch relies on it)."""
    still = render_scene(plate, "clean", seed=0).image if plate else empty_lane()
    rng = np.random.default_rng(zlib.crc32(plate.encode()))
    out = []
    for _ in range(n):
        noise = rng.normal(0, 3, still.shape)
        out.append(np.clip(still + noise, 0, 255).astype(np.uint8))
    return out

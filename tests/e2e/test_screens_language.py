"""Issue #23 (4), "not done until": every screen, drawn at 80×24 in Kazakh and in Russian, says
nothing in English and shows no raw catalog key — but for what is a name: the product, keys of the
keyboard, protocols and formats, makers' models and serials, plates, VINs, chemical formulas. Each
role's screens are walked as people walk them, against the real daemon with a camera and an open
inspection."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_tui_pilot import SIZE
from tests.replay import WALKS
from tests.rig import PASSWORDS, Rig, start_rig, wait_for
from tui.app import OtolaneApp, make_app
from tui.screens.lane import LaneScreen

pytestmark = pytest.mark.slow

#: Latin words that are names, not English: the product, keys, protocols and formats, chemistry,
#: the demo's makers, models, serials, plates and VINs (their letters), the lane's configured names
ALLOWED = {
    "otolane", "KK", "RU", "EN", "Esc", "Enter", "Tab", "Ctrl",
    "RTSP", "REST", "SOAP", "MJPG", "MJPEG", "JPEG", "ONVIF", "HTTP", "HTTPS", "PDF", "CUPS", "SHA", "QR",
    "VIN", "UTC",
    "EUSAMA", "CO", "HC", "NO", "ppm",
    "Hikvision", "DS", "CD", "G2", "AAWRJ", "AAWRF", "Mingquan", "MQD", "XJ", "MQ", "BT", "SN",
    "ABC", "KZZ", "XTA", "USB", "NCALayer",
}  # fmt: skip
#: names the lane's own configuration and people gave: users, full names, the lane, cameras, stands
NAMES = {"admin", "operator", "technician", "Test", "Demo", "lane", "mjpeg", "brake", "dev", "backups"}
#: a command the screen tells the administrator to type (the restore, with the daemon stopped)
COMMAND = re.compile(
    r"\b(?:sudo\s+-u\s+otolane\s+)?(?:otolane|systemctl)\s+(?:restore|backup|stop|start)\b"
    r"(?:\s+-{0,2}[A-Za-z0-9_./]+)*"
)
LATIN = re.compile(r"[A-Za-z][A-Za-z_]+(?:\.[A-Za-z_]+)*")


def _foreign(drawn: str) -> set[str]:
    """What on the screen is English or a raw catalog key (``lane.step_hint``)."""
    drawn = re.sub(r"<style.*?</style>|<defs.*?</defs>", "", drawn, flags=re.S)
    drawn = re.sub(r"<[^>]+>", "", drawn).replace("&#160;", " ")
    drawn = re.sub(r"(?:https?|rtsp)://\S+|/[\w./-]+", " ", drawn)  # addresses and paths are names
    drawn = COMMAND.sub(" ", drawn)  # a command to type is typed as it is, in every language
    words = set(LATIN.findall(drawn))
    hexes = {w for w in words if re.fullmatch(r"[0-9a-f]+", w)}  # hashes, fingerprints, frames
    return {w for w in words if "." in w or w not in ALLOWED | NAMES | hexes}


async def _walk(app: OtolaneApp, pilot: Any, keys: list[str]) -> dict[str, str]:
    """Press each key (a step on a screen) and keep what the terminal shows after it."""
    seen = {}
    for key in keys:
        await pilot.press(key)
        await pilot.pause(0.4)
        seen[f"{key} → {type(app.screen).__name__}"] = app.export_screenshot()
    return seen


#: the walks of the snapshots by the three roles (the log-in screen is walked here on its own)
ROLES = {user: keys for user, keys in WALKS.values() if user in PASSWORDS}


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_no_screen_says_a_word_of_english_or_a_raw_key(tmp_path: Path, lang: str) -> None:
    rig: Rig = await start_rig(tmp_path / "lane", cameras=("mjpeg",))
    try:
        op = await rig.client("operator")
        await op.call("POST", "/v1/inspections", {"plate": "555KZZ01", "category": "M1", "axles": 2})
        found: dict[str, set[str]] = {}
        app = make_app(rig.sock, lang)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.3)
            found["login"] = _foreign(app.export_screenshot())
            await pilot.press("f2")
            await pilot.pause(0.4)
            found["login, NCA key"] = _foreign(app.export_screenshot())
        for role, keys in ROLES.items():
            app = make_app(rig.sock, lang)
            async with app.run_test(size=SIZE) as pilot:
                await app.client.login(role, PASSWORDS[role])
                await app.after_login(False)

                async def in_lane() -> bool:
                    await pilot.pause(0.05)
                    return isinstance(app.screen, LaneScreen)

                await wait_for(in_lane, "the lane screen")
                await pilot.pause(0.5)
                found[f"{role}: lane"] = _foreign(app.export_screenshot())
                for where, drawn in (await _walk(app, pilot, keys)).items():
                    found[f"{role}: {where}"] = _foreign(drawn)
        bad = {where: sorted(words) for where, words in found.items() if words}
        assert not bad, bad
    finally:
        await rig.close()

"""The operator's console locked down (D1, R10.1; issue #24 (6)): what ``otolane lockdown`` writes on a
kiosk and what ``otolane lockdown --check`` reads back.

* **USB storage**: a udev rule de-authorises every USB mass-storage interface but the devices whose
  serial numbers ``kiosk.usb_storage_allowed`` lists (the sticks with the NCA keys, the backup
  medium). An NCA token (Kaztoken and the like) is a smart card, not storage: it is not touched.
* **SysRq** off (``kernel.sysrq = 0``): no magic keys to kill the screen or reboot.
* **No other console to switch to**: logind starts no login on other virtual consoles
  (``NAutoVTs=0``, ``ReserveVT=0``), Ctrl+Alt+Del is masked, and the console's keymap
  (``kiosk/novt.map`` in ``/usr/share/otolane``, loaded by ``otolane-console.service``) binds no
  key to a console switch.
* The console itself (``otolane-console.service``): the screen on tty1, restarted when it ends,
  no shell behind it, Ctrl+C/Z/\\\\ taken by the screen (Textual reads the keys raw).

Every file is written under ``root`` (``/`` on a kiosk; a scratch folder in the tests), nothing is
built from text a user typed but the serials, which must be letters, digits, ``._-``.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import OtolaneError

if TYPE_CHECKING:
    from app.config import Config

SERIAL = re.compile(r"[A-Za-z0-9._-]{1,64}")
UDEV_RULE = "etc/udev/rules.d/70-otolane-usb-storage.rules"
SYSCTL = "etc/sysctl.d/90-otolane.conf"
LOGIND = "etc/systemd/logind.conf.d/90-otolane.conf"
KEYMAP = "usr/share/otolane/novt.map"


def serials(cfg: Config) -> list[str]:
    out = list(cfg.kiosk["usb_storage_allowed"])
    for s in out:
        if not SERIAL.fullmatch(s):
            raise OtolaneError(
                "lockdown_serial",
                f"kiosk.usb_storage_allowed: {s[:70]!r} is not a USB serial number (letters, digits, . _ -)",
                serial=s[:70],
            )
    return out


def udev_rule(allowed: list[str]) -> str:
    lines = [
        "# otolane (D1, R10.1): USB storage only for the NCA keys' sticks and the backup medium;",
        "# written by `otolane lockdown` from kiosk.usb_storage_allowed: do not edit, run it again",
        'ACTION!="add", GOTO="otolane_usb_end"',
        'SUBSYSTEM!="usb", GOTO="otolane_usb_end"',
        'ENV{DEVTYPE}!="usb_interface", GOTO="otolane_usb_end"',
        'ATTR{bInterfaceClass}!="08", GOTO="otolane_usb_end"',
        *(f'ATTRS{{serial}}=="{s}", GOTO="otolane_usb_end"' for s in allowed),
        'ATTR{authorized}="0"',
        'LABEL="otolane_usb_end"',
    ]
    return "\n".join(lines) + "\n"


SYSCTL_TEXT = "# otolane (D1): no magic SysRq keys on the kiosk's keyboard\nkernel.sysrq = 0\n"
LOGIND_TEXT = (
    "# otolane (D1): no log-in on any other virtual console; the lane's screen owns tty1\n"
    "[Login]\nNAutoVTs=0\nReserveVT=0\n"
)


def files(cfg: Config) -> dict[str, str]:
    return {UDEV_RULE: udev_rule(serials(cfg)), SYSCTL: SYSCTL_TEXT, LOGIND: LOGIND_TEXT}


def write(cfg: Config, root: Path) -> list[Path]:
    out = []
    for rel, text in files(cfg).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
        out.append(path)
    return out


def apply_live() -> list[str]:
    """On the kiosk itself (root): the rules and settings taken now, Ctrl+Alt+Del masked."""
    said = []
    for argv in (
        ["udevadm", "control", "--reload-rules"],
        ["sysctl", "-q", "-p", f"/{SYSCTL}"],
        ["systemctl", "mask", "ctrl-alt-del.target"],
        ["systemctl", "reload-or-restart", "systemd-logind.service"],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        said.append(
            f"{'ok' if done.returncode == 0 else 'FAILED'}: {' '.join(argv)} {done.stderr.strip()[-120:]}"
        )
    return said


@dataclass(frozen=True)
class Finding:
    what: str
    ok: bool
    detail: str


def check(cfg: Config, root: Path = Path("/")) -> list[Finding]:
    """What a real kiosk has of the lock-down (``otolane lockdown --check``)."""
    found = []
    for rel, text in files(cfg).items():
        path = root / rel
        try:
            same = path.read_text(encoding="utf-8") == text
        except OSError:
            found.append(Finding(rel, False, "missing: run otolane lockdown"))
            continue
        found.append(
            Finding(rel, same, "as the configuration says" if same else "differs: run otolane lockdown")
        )
    try:
        sysrq = (root / "proc/sys/kernel/sysrq").read_text().strip()
        found.append(Finding("kernel.sysrq", sysrq == "0", f"is {sysrq}"))
    except OSError:
        found.append(Finding("kernel.sysrq", False, "cannot be read"))
    cad = root / "etc/systemd/system/ctrl-alt-del.target"
    masked = cad.is_symlink() and str(cad.readlink()) == "/dev/null"
    found.append(Finding("ctrl-alt-del.target", masked, "masked" if masked else "not masked"))
    km = root / KEYMAP
    found.append(
        Finding("console keymap", km.exists(), str(km) if km.exists() else "missing (the package ships it)")
    )
    return found

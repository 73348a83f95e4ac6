"""Issue #23 (7): the command line stays for scripts and speaks the person's language — an error in
Kazakh or Russian from the screens' catalogs (the locale, OTOLANE_LANG or --lang), in English with
the daemon's own detail; never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("OTOLANE_LANG", "LANG", "LC_ALL")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, env=base | env, timeout=60
    )


@pytest.mark.parametrize(
    ("env", "args", "said"),
    [
        ({"LANG": "ru_RU.UTF-8"}, (), "— не карта ("),
        ({"LANG": "kk_KZ.UTF-8"}, (), "— карта емес ("),
        ({"LANG": "C.UTF-8", "OTOLANE_LANG": "ru"}, (), "— не карта ("),
        ({"LANG": "ru_RU.UTF-8"}, ("--lang", "kk"), "— карта емес ("),
        ({"LANG": "C.UTF-8"}, (), ": not a PDF, nor a JPEG or PNG image"),
    ],
)
def test_an_error_is_said_in_the_persons_language(
    tmp_path: Path, env: dict[str, str], args: tuple[str, ...], said: str
) -> None:
    (tmp_path / "notes.txt").write_text("not a card\n")
    r = _run(*args, "card", "verify", str(tmp_path / "notes.txt"), env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("otolane: ") and said in r.stderr and "notes.txt" in r.stderr, r.stderr

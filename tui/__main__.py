"""``python -m tui --socket PATH [--lang kk|ru|en]``: the lane screen alone, as ``otolane tui`` and the
demo start it (in its own process, so the daemon side never loads screen code)."""

from __future__ import annotations

import argparse
import sys

from tui.app import run_tui


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m tui", description=__doc__)
    p.add_argument("--socket", required=True, help="the lane daemon's socket")
    p.add_argument("--lang", choices=("kk", "ru", "en"), default="ru")
    args = p.parse_args()
    sys.exit(run_tui(args.socket, args.lang))


if __name__ == "__main__":
    main()

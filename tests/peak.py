"""A child process's own peak memory.

``wait4``'s ``ru_maxrss`` is not it: Linux carries the parent's high-water mark into a child across
``exec`` (``setmax_mm_hiwater_rss`` in ``exec_mmap``), so a child of a 400 MiB pytest worker reports
400 MiB before it has done anything — CI failed on exactly that. ``VmHWM`` in ``/proc/self/status``
belongs to the address space ``exec`` made, so the child reads it itself as it exits.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import IO, Any

#: runs ``-m module args`` or ``-c code args`` and writes VmHWM (KiB) to the file named first
_WRAPPER = """
import atexit, runpy, sys
peak_file, how, what = sys.argv[1], sys.argv[2], sys.argv[3]

def _peak() -> None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(peak_file, "w") as out:
                    out.write(line.split()[1])

atexit.register(_peak)
sys.argv = [what, *sys.argv[4:]]
if how == "-m":
    runpy.run_module(what, run_name="__main__", alter_sys=True)
else:
    exec(compile(what, "<child>", "exec"), {"__name__": "__main__"})
"""


def run_measured(
    how: str,
    what: str,
    *args: str,
    peak_file: Path,
    cwd: Path | None = None,
    stdout: IO[Any] | int | None = None,
) -> tuple[int, str, float]:
    """Run ``python how what args`` (``how`` is ``-m`` or ``-c``); return its exit code, its stderr
    and its own peak resident memory in MiB."""
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(peak_file), how, what, *args],
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
        check=False,
    )
    peak_kib = int(peak_file.read_text()) if peak_file.exists() else -1
    return proc.returncode, proc.stderr.decode(errors="replace"), peak_kib / 1024

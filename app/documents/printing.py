"""Printing a card through CUPS: the PDF goes to the lane's queue with ``lp``, as bytes on
its standard input — no file left behind, no shell, the queue name checked first. CUPS's own answer
(the job id, or why it refused) is what the operator sees."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from app.errors import OtolaneError

#: CUPS queue names: letters, digits, '-', '_', '.', up to 127 characters (no '/', '#' or spaces).
QUEUE_RE = re.compile(r"[A-Za-z0-9_.-]{1,127}")
JOB_RE = re.compile(r"request id is (\S+)")
LOCATION_RE = re.compile(r"^\s+Location: (.*)$", re.M)
LP_TIMEOUT_S = 30.0
#: CUPS's tools answer in the locale's language; the lane reads their English
_C_LOCALE = {**os.environ, "LC_ALL": "C", "LANG": "C"}


@dataclass(frozen=True)
class PrintJob:
    job: str
    queue: str
    location: str = ""  # the queue's CUPS location (lpadmin -L): where the paper comes out


def _server_args(server: str) -> list[str]:
    return ["-h", server] if server else []


def print_pdf(pdf: bytes, queue: str, server: str = "", title: str = "otolane card") -> PrintJob:
    """Send ``pdf`` to ``queue``; the CUPS job id, or :class:`OtolaneError` saying why not."""
    if not queue:
        raise OtolaneError("printer_none", "no printer is configured for this lane ([printer] queue)")
    if not QUEUE_RE.fullmatch(queue):
        raise OtolaneError("printer_name_bad", "the printer queue name is not a CUPS name", queue=queue[:40])
    lp = shutil.which("lp")
    if lp is None:
        raise OtolaneError("printer_no_cups", "the CUPS client (lp) is not installed", package="cups-client")
    args = [lp, *_server_args(server), "-d", queue, "-t", title[:80]]
    try:
        done = subprocess.run(
            args, input=pdf, capture_output=True, timeout=LP_TIMEOUT_S, check=False, env=_C_LOCALE
        )
    except subprocess.TimeoutExpired:
        raise OtolaneError("printer_failed", "CUPS did not answer", queue=queue, reason="timeout") from None
    out = done.stdout.decode(errors="replace")
    m = JOB_RE.search(out)
    if done.returncode != 0 or m is None:
        reason = done.stderr.decode(errors="replace").strip() or out.strip() or f"lp exit {done.returncode}"
        raise OtolaneError("printer_failed", "CUPS refused the job", queue=queue, reason=reason[-200:])
    return PrintJob(m.group(1), queue, queue_location(queue, server))


def queue_location(queue: str, server: str = "") -> str:
    """The queue's location as the administrator set it in CUPS ("reception desk"), or ""."""
    lpstat = shutil.which("lpstat")
    if lpstat is None or not QUEUE_RE.fullmatch(queue):
        return ""
    try:
        done = subprocess.run(
            [lpstat, *_server_args(server), "-l", "-p", queue],
            capture_output=True,
            timeout=LP_TIMEOUT_S,
            check=False,
            env=_C_LOCALE,
        )
    except subprocess.TimeoutExpired:
        return ""
    m = LOCATION_RE.search(done.stdout.decode(errors="replace"))
    return m.group(1).strip()[:200] if m else ""


def job_done(job: str, server: str = "") -> bool | None:
    """True once CUPS lists the job as completed, False while it waits; None if CUPS cannot say."""
    lpstat = shutil.which("lpstat")
    if lpstat is None:
        return None
    try:
        done = subprocess.run(
            [lpstat, *_server_args(server), "-W", "completed", "-o"],
            capture_output=True,
            timeout=LP_TIMEOUT_S,
            check=False,
            env=_C_LOCALE,
        )
    except subprocess.TimeoutExpired:
        return None
    return any(line.split()[:1] == [job] for line in done.stdout.decode(errors="replace").splitlines())

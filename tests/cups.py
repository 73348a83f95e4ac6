"""A real CUPS for the printing tests (``drivers.printer.sim``): a private ``cupsd`` with one raw
queue to a socket printer (AppSocket) that keeps every job's bytes in the test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from drivers.printer.sim import SocketPrinter, cups_missing
from drivers.printer.sim import private_cups as _private_cups

__all__ = ["Cups", "Jobs", "cups_missing", "private_cups"]


@dataclass
class Jobs:
    """The bytes of every job the printer took."""

    jobs: list[bytes] = field(default_factory=list)

    def wait_jobs(self, n: int, timeout: float = 30.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.jobs) < n and time.monotonic() < deadline:
            time.sleep(0.1)  # poll interval
        return self.jobs


@dataclass
class Cups:
    server: str  # the cupsd socket (lp -h)
    queue: str
    printer: Jobs


@contextmanager
def private_cups(queue: str = "lane-printer", location: str = "") -> Iterator[Cups]:
    jobs = Jobs()
    printer = SocketPrinter(jobs.jobs.append)
    try:
        with _private_cups(printer.uri, queue, location) as cups:
            yield Cups(cups.server, cups.queue, jobs)
    finally:
        printer.close()

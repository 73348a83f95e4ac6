"""A pseudo-terminal that stands in for a serial port: the simulator holds the master side, the
driver opens the slave by its path (or a stable symlink, like a udev name) with pyserial."""

from __future__ import annotations

import contextlib
import os
import tty
from pathlib import Path


class PtyPort:
    def __init__(self, link: str | os.PathLike[str] | None = None) -> None:
        self.master, self._slave = os.openpty()
        # Raw mode: no echo, no CR/LF translation — the bytes are the protocol.
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.link = Path(link) if link else None
        if self.link:
            self.link.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
            self.link.symlink_to(self.path)

    def write(self, data: bytes) -> bool:
        """Write or drop: a device streaming into an unplugged cable loses frames, it never blocks."""
        try:
            os.write(self.master, data)
            return True
        except (BlockingIOError, OSError):
            return False

    def read(self) -> bytes:
        try:
            return os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return b""

    def close(self) -> None:
        if self.link:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

"""A pseudo-terminal that stands in for a serial port: the simulator holds the master side, the
driver opens the slave by its path (or a stable symlink, like a udev name) with pyserial."""

from __future__ import annotations

import contextlib
import os
import socket
import tty
from pathlib import Path


class PtyPort:
    def __init__(self, link: str | os.PathLike[str] | None = None) -> None:
        self.link = Path(link) if link else None
        self._open()

    def _open(self) -> None:
        self.master, self._slave = os.openpty()
        # Raw mode: no echo, no CR/LF translation — the bytes are the protocol.
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.plugged = True
        if self.link:
            self.link.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
            self.link.symlink_to(self.path)

    def unplug(self) -> None:
        """A pulled cable: the lane's end reads an error, and the link leads nowhere."""
        self.close()
        self.plugged = False

    def replug(self) -> None:
        self._open()

    def write(self, data: bytes) -> bool:
        """Write or drop: a device streaming into an unplugged cable loses frames, it never blocks."""
        if not self.plugged:
            return False
        try:
            os.write(self.master, data)
            return True
        except (BlockingIOError, OSError):
            return False

    def read(self) -> bytes:
        if not self.plugged:
            return b""
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


class TcpPort:
    """A networked stand's line: the simulator listens on a TCP port and serves one client at a
    time (the lane daemon), with the same non-blocking read/write as :class:`PtyPort`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._listener = socket.create_server((host, port))
        self._listener.setblocking(False)
        self.address = self._listener.getsockname()
        self.path = f"socket://{self.address[0]}:{self.address[1]}"
        self._client: socket.socket | None = None
        self.link = None
        self.plugged = True

    def unplug(self) -> None:
        """A pulled network cable: the connection drops and nobody answers on the port."""
        self.close()
        self._client = None
        self.plugged = False

    def drop(self) -> bool:
        """The network drops the connection (the stand goes on listening: the daemon reconnects);
        whether there was one to drop."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
        return client is not None

    def replug(self) -> None:
        self._listener = socket.create_server(self.address)
        self._listener.setblocking(False)
        self.plugged = True

    def _accept(self) -> None:
        if not self.plugged:
            return
        try:
            client, _ = self._listener.accept()
        except (BlockingIOError, OSError):
            return
        if self._client is not None:
            self._client.close()
        client.setblocking(False)
        self._client = client

    def write(self, data: bytes) -> bool:
        self._accept()
        if self._client is None:
            return False
        try:
            self._client.sendall(data)
            return True
        except (BlockingIOError, OSError):
            return False

    def read(self) -> bytes:
        self._accept()
        if self._client is None:
            return b""
        try:
            data = self._client.recv(4096)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            data = b""
        if not data:  # the client went away
            self._client.close()
            self._client = None
        return data

    def close(self) -> None:
        for s in (self._client, self._listener):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.close()


def open_line(link: str) -> PtyPort | TcpPort:
    """A simulator's line: ``tcp:HOST:PORT`` listens for a networked stand's client; anything
    else is the path where the pty's slave is linked."""
    if link.startswith("tcp:"):
        host, _, number = link.removeprefix("tcp:").rpartition(":")
        return TcpPort(host or "127.0.0.1", int(number))
    return PtyPort(link)

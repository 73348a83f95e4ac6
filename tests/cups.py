"""A real CUPS for the printing tests: a private ``cupsd`` (its own directories and socket, nothing
of the machine's CUPS touched) with one raw queue whose device is ``socket://`` — the AppSocket /
JetDirect protocol of office printers — to a listener in the test that keeps every job's bytes."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CUPSD = shutil.which("cupsd") or "/usr/sbin/cupsd"


def cups_missing() -> str | None:
    """Why the printing tests cannot run here, or None."""
    for tool in (CUPSD, "lp", "lpadmin", "lpstat"):
        if not shutil.which(tool) and not Path(tool).exists():
            return f"{tool} not installed (Debian: cups, cups-client)"
    return None


@dataclass
class SocketPrinter:
    """A printer on a TCP port: each connection is one job, its bytes kept in ``jobs``."""

    sock: socket.socket
    jobs: list[bytes] = field(default_factory=list)
    broken: bool = False  # refuse every connection (a printer switched off)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = bytearray()
                while chunk := conn.recv(65536):
                    data += chunk
                self.jobs.append(bytes(data))

    def wait_jobs(self, n: int, timeout: float = 30.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.jobs) < n and time.monotonic() < deadline:
            time.sleep(0.1)  # poll interval
        return self.jobs


@dataclass
class Cups:
    server: str  # the cupsd socket (lp -h)
    queue: str
    printer: SocketPrinter
    root: Path


@contextmanager
def private_cups(queue: str = "lane-printer") -> Iterator[Cups]:
    # Not under pytest's tmp_path: its directories are 0700, and CUPS's backends run as 'lp'.
    root = Path(tempfile.mkdtemp(prefix="otolane-cups-"))
    for d in ("etc/ppd", "spool/tmp", "cache", "run", "log"):
        (root / d).mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    (root / "cups-files.conf").write_text(
        "\n".join(
            [
                f"ServerRoot {root}/etc",
                f"RequestRoot {root}/spool",
                f"TempDir {root}/spool/tmp",
                f"CacheDir {root}/cache",
                f"StateDir {root}/run",
                f"ErrorLog {root}/log/error_log",
                f"AccessLog {root}/log/access_log",
                f"PageLog {root}/log/page_log",
                "ServerBin /usr/lib/cups",
                "DataDir /usr/share/cups",
                "User lp",
                "Group lp",
                "SystemGroup root",
                "",
            ]
        )
    )
    sock_path = root / "cups.sock"
    (root / "cupsd.conf").write_text(
        f"Listen {sock_path}\nLogLevel warn\nWebInterface No\nBrowsing No\nDefaultAuthType None\n"
        "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
        "<Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
    )
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    printer = SocketPrinter(listener)
    threading.Thread(target=printer.serve, daemon=True).start()
    proc = subprocess.Popen(
        [CUPSD, "-f", "-c", str(root / "cupsd.conf"), "-s", str(root / "cups-files.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while not sock_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # poll interval
        subprocess.run(
            ["lpadmin", "-h", str(sock_path), "-p", queue, "-E", "-v", f"socket://127.0.0.1:{printer.port}"],
            check=True,
            capture_output=True,
        )
        yield Cups(str(sock_path), queue, printer, root)
    finally:
        proc.terminate()
        proc.wait(10)
        listener.close()
        shutil.rmtree(root, ignore_errors=True)

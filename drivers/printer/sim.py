"""A virtual printer behind a real CUPS, for the demo and the printing tests (issue #23 (8)).

A private ``cupsd`` (its own directories and socket; nothing of the machine's CUPS is touched) has one
raw queue whose device is ``socket://`` — the AppSocket / JetDirect protocol of office printers — to
:class:`SocketPrinter`, a listener that takes each connection as one job. The lane prints through
``lp`` exactly as on a real lane; the demo's printer writes each job to a folder as the PDF a paper
printer would have printed, and the queue's CUPS *location* names that folder, so the lane screen can
say where the card landed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CUPSD = shutil.which("cupsd") or "/usr/sbin/cupsd"
#: a printer's memory: a job larger than this is cut off and counted (a card is ~1 MB with photos)
MAX_JOB_BYTES = 64 * 1024 * 1024


def cups_missing() -> str | None:
    """Why a private CUPS cannot run here, or None."""
    for tool in (CUPSD, "lp", "lpadmin", "lpstat"):
        if not shutil.which(tool) and not Path(tool).exists():
            return f"{tool} not installed (Debian: cups, cups-client)"
    return None


class SocketPrinter:
    """A printer on a TCP port of loopback: each connection is one job, handed to ``sink``."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self.sink = sink
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.too_large = 0  # jobs cut at MAX_JOB_BYTES
        threading.Thread(target=self._serve, daemon=True, name="socket-printer").start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def uri(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            with conn:
                data = bytearray()
                while chunk := conn.recv(65536):
                    if len(data) + len(chunk) > MAX_JOB_BYTES:
                        self.too_large += 1
                        break
                    data += chunk
                self.sink(bytes(data))

    def close(self) -> None:
        self.sock.close()


class PrintedFolder:
    """The sink of the demo's printer: job N is written whole as ``NNNN.pdf`` (or ``.prn`` when it
    is not a PDF) in ``folder`` — never a half-written file under the final name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def __call__(self, job: bytes) -> None:
        with self._lock:
            n = 1 + max((int(p.stem) for p in self.folder.glob("[0-9]*.*") if p.stem.isdigit()), default=0)
            final = self.folder / f"{n:04d}{'.pdf' if job.startswith(b'%PDF') else '.prn'}"
            part = final.with_suffix(".part")
            part.write_bytes(job)
            os.replace(part, final)
            print(f"printed {final}", flush=True)


@dataclass
class Cups:
    server: str  # the cupsd socket (lp -h)
    queue: str
    root: Path


@contextmanager
def private_cups(device_uri: str, queue: str = "lane-printer", location: str = "") -> Iterator[Cups]:
    """A private ``cupsd`` with one raw queue to ``device_uri``; stopped and removed on exit."""
    # Not under a 0700 folder (pytest's tmp_path, the demo's home): CUPS's backends run as 'lp'.
    root = Path(tempfile.mkdtemp(prefix="otolane-cups-"))
    for d in ("etc/ppd", "spool/tmp", "cache", "run", "log"):
        (root / d).mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    files = [
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
    ]
    (root / "cups-files.conf").write_text("\n".join(files) + "\n")
    sock_path = root / "cups.sock"
    (root / "cupsd.conf").write_text(
        f"Listen {sock_path}\nLogLevel warn\nWebInterface No\nBrowsing No\nDefaultAuthType None\n"
        "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
        "<Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
    )
    proc = subprocess.Popen(
        [CUPSD, "-f", "-c", str(root / "cupsd.conf"), "-s", str(root / "cups-files.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while not sock_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # poll interval
        where = ["-L", location] if location else []
        subprocess.run(
            ["lpadmin", "-h", str(sock_path), "-p", queue, "-E", "-v", device_uri, *where],
            check=True,
            capture_output=True,
        )
        yield Cups(str(sock_path), queue, root)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)


def serve(out: Path, link: Path, queue: str) -> None:
    """The demo's printer until SIGTERM: a private CUPS whose queue ``queue`` prints into ``out``;
    its socket is linked at ``link`` (the lane's ``[printer] server``), its location is ``out``."""
    import signal

    def _stop(signum: int, frame: object) -> None:
        raise SystemExit(0)  # through the finally: cupsd stopped, its folder removed

    signal.signal(signal.SIGTERM, _stop)
    printer = SocketPrinter(PrintedFolder(out))
    try:
        with private_cups(printer.uri, queue, location=str(out)) as cups:
            part = link.with_name(link.name + ".part")
            part.unlink(missing_ok=True)
            part.symlink_to(cups.server)
            os.replace(part, link)
            print(f"ready {link} {queue}", flush=True)
            signal.pause()
    finally:
        link.unlink(missing_ok=True)
        printer.close()

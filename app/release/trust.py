"""The update repository, trusted the TUF way (R3.14, R10.8): the root pinned at install, then
timestamp → snapshot → targets, each signed by its role's keys, none expired, none older than the
one seen before (rollback and freeze attacks), every target by its length and hashes.

The lane's part is python-tuf's client (``tuf.ngclient``) with a fetcher of our own: no redirects
and no proxy from the environment (the far side cannot send the lane elsewhere), every size bounded
by TUF's configuration. A release is the target ``otolane-<version>.tar.gz``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from tuf.api.exceptions import DownloadHTTPError, RepositoryError, SlowRetrievalError
from tuf.api.metadata import Metadata, Targets
from tuf.ngclient import Updater, UpdaterConfig
from tuf.ngclient.fetcher import FetcherInterface

from app import __version__
from app.errors import OtolaneError

TARGET = re.compile(r"otolane-(\d+(?:\.\d+){1,3})\.tar\.gz")
#: a release bundle is a whole virtual environment: a few hundred MB, never more than this
MAX_BUNDLE = 1024 * 1024 * 1024


def version_key(v: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in v.split("."))
    except ValueError:
        return (-1,)


class StrictFetcher(FetcherInterface):
    """HTTP(S) GET with no redirect followed, no retry, no proxy from the environment."""

    def __init__(self, timeout_s: float = 30.0) -> None:
        self.pool = urllib3.PoolManager(headers={"User-Agent": f"otolane/{__version__}"})
        self.timeout = urllib3.Timeout(timeout_s)

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            resp = self.pool.request(
                "GET", url, preload_content=False, timeout=self.timeout, redirect=False, retries=False
            )
        except urllib3.exceptions.TimeoutError as exc:
            raise SlowRetrievalError from exc
        if resp.status != 200:
            resp.release_conn()
            raise DownloadHTTPError(f"{url}: HTTP {resp.status} (a redirect is not followed)", resp.status)
        return self._chunks(resp)

    @staticmethod
    def _chunks(resp: Any) -> Iterator[bytes]:
        try:
            yield from resp.stream(1 << 18)
        except urllib3.exceptions.TimeoutError as exc:
            raise SlowRetrievalError from exc
        finally:
            resp.release_conn()


@dataclass(frozen=True)
class Offer:
    version: str
    target: str
    length: int


class Repository:
    """The update repository as the lane trusts it: ``metadata_dir`` keeps what was verified last
    (TUF's own rule against rollbacks), ``pinned_root`` is the root of trust installed with the lane."""

    def __init__(self, pinned_root: Path, metadata_dir: Path, metadata_url: str, targets_url: str) -> None:
        # public metadata, read by the daemon (as the lane's user) for the root it trusts now
        metadata_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
        self.metadata_dir = metadata_dir
        self.pinned_root = pinned_root
        self.metadata_url, self.targets_url = metadata_url, targets_url
        self._updater: Updater | None = None

    @property
    def trusted_root(self) -> Path:
        """The newest root verified (TUF keeps it as ``root.json``), else the pinned one."""
        cached = self.metadata_dir / "root.json"
        return cached if cached.exists() else self.pinned_root

    def _open(self) -> Updater:
        if self._updater is None:
            try:
                pinned = self.pinned_root.read_bytes()
            except OSError as exc:
                raise OtolaneError(
                    "update_root",
                    f"the pinned root of the update repository {self.pinned_root}: {exc.strerror}",
                ) from exc
            (self.metadata_dir.parent / "downloads").mkdir(exist_ok=True, mode=0o700)
            cached = self.metadata_dir / "root.json"
            bootstrap = cached.read_bytes() if cached.exists() else pinned
            try:
                self._updater = Updater(
                    str(self.metadata_dir),
                    self.metadata_url,
                    str(self.metadata_dir.parent / "downloads"),
                    self.targets_url,
                    fetcher=StrictFetcher(),
                    config=UpdaterConfig(app_user_agent=f"otolane/{__version__}"),
                    bootstrap=bootstrap,
                )
            except (RepositoryError, ValueError) as exc:
                raise OtolaneError(
                    "update_untrusted", f"the trusted root cannot be loaded: {exc}", detail=str(exc)[:200]
                ) from exc
        return self._updater

    def refresh(self) -> None:
        """The top-level metadata, verified: refused (``update_untrusted``) when a signature, an
        expiry or a version does not hold, ``update_unreachable`` when the repository cannot be read."""
        try:
            self._open().refresh()
        except RepositoryError as exc:
            raise OtolaneError(
                "update_untrusted", f"the update repository is not trusted: {_say(exc)}", detail=_say(exc)
            ) from exc
        except (DownloadHTTPError, SlowRetrievalError, urllib3.exceptions.HTTPError, OSError) as exc:
            raise OtolaneError(
                "update_unreachable", f"the update repository cannot be read: {_say(exc)}", detail=_say(exc)
            ) from exc

    def offers(self) -> list[Offer]:
        """The releases the signed targets name, newest first."""
        self.refresh()
        # the targets TUF verified in this refresh (it writes a role's file only after verifying it)
        md = Metadata[Targets].from_file(str(self.metadata_dir / "targets.json"))
        targets = md.signed.targets
        out = []
        for name, info in targets.items():
            m = TARGET.fullmatch(name)
            if m and info.length <= MAX_BUNDLE:
                out.append(Offer(m.group(1), name, info.length))
        return sorted(out, key=lambda o: version_key(o.version), reverse=True)

    def download(self, offer: Offer) -> Path:
        """The bundle, checked against the signed length and hashes, in the downloads folder."""
        upd = self._open()
        try:
            info = upd.get_targetinfo(offer.target)
            if info is None:
                raise OtolaneError(
                    "update_untrusted", f"{offer.target} is not a signed target", detail=offer.target
                )
            found = upd.find_cached_target(info)
            return Path(found or upd.download_target(info))
        except RepositoryError as exc:
            raise OtolaneError(
                "update_untrusted",
                f"{offer.target} does not match its signed hashes: {_say(exc)}",
                detail=_say(exc),
            ) from exc
        except (DownloadHTTPError, SlowRetrievalError, urllib3.exceptions.HTTPError, OSError) as exc:
            raise OtolaneError(
                "update_unreachable", f"{offer.target} cannot be downloaded: {_say(exc)}", detail=_say(exc)
            ) from exc


def _say(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"

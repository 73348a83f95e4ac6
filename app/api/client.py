"""The client of the local API, shared by the TUI, the headless demo and the tests.

It holds no rules: it sends a request and returns the daemon's answer, or raises :class:`ApiError`
with the daemon's catalog code. The TUI imports this module and nothing else of ``app``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp


class ApiError(Exception):
    def __init__(self, code: str, message: str, params: dict[str, Any], status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params
        self.status = status


#: how long a call may wait on a person: NCALayer's PIN dialog (its own limit is 120 s)
PERSON_WAIT_S = 150.0


class LaneClient:
    def __init__(self, socket_path: str, timeout_s: float = 10.0) -> None:
        self.socket_path = socket_path
        self.token = ""
        self.role = ""
        #: R3.1: a password session where the centre signs in with NCA keys only views
        self.view_only = False
        self.username = ""
        #: R11: a screen with personal data locks after this long with no key pressed (0: never)
        self.lock_after_s = 0.0
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=self.socket_path), timeout=self._timeout
            )
        return self._session

    def _headers(self) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        ssh = os.environ.get("SSH_CONNECTION", "").split(" ")[0]
        if ssh:  # where this screen is seen from: the daemon cannot read another user's environment
            out["X-Otolane-Ssh"] = ssh[:64]
        return out

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout_s: float | None = None
    ) -> Any:
        """``timeout_s``: for a call that waits on a person (a PIN typed in NCALayer's dialog)."""
        return await self._request(method, path, body, raw=False, timeout_s=timeout_s)

    async def download(self, path: str, method: str = "GET") -> bytes:
        """A document (the card's PDF, a certificate) as bytes; errors as :meth:`call` raises them."""
        return bytes(await self._request(method, path, None, raw=True))

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None, raw: bool, timeout_s: float | None = None
    ) -> Any:
        timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else None
        try:
            async with self._http().request(
                method, f"http://laned{path}", json=body, headers=self._headers(), timeout=timeout
            ) as r:
                if raw and r.status < 400:
                    return await r.read()
                try:
                    data = await r.json(content_type=None)
                except ValueError:
                    data = None
                if r.status >= 400:
                    err = (data or {}).get("error", {}) if isinstance(data, dict) else {}
                    raise ApiError(
                        err.get("code", "http_error"),
                        err.get("message", f"HTTP {r.status}"),
                        err.get("params", {}),
                        r.status,
                    )
                return data
        except (aiohttp.ClientConnectionError, FileNotFoundError, ConnectionRefusedError) as exc:
            raise ApiError("daemon_unreachable", str(exc), {"socket": self.socket_path}, 0) from None
        except TimeoutError:
            raise ApiError("daemon_timeout", "timeout", {"socket": self.socket_path}, 0) from None

    async def login(self, username: str, password: str) -> dict[str, Any]:
        data = await self.call("POST", "/v1/login", {"username": username, "password": password})
        self.token, self.role, self.username = data["token"], data["role"], data["username"]
        self.lock_after_s = float(data.get("lock_after_s") or 0)
        self.view_only = bool(data.get("view_only"))
        return data

    async def login_eds(self, path: str, password: str) -> dict[str, Any]:
        """Sign in with an NCA key file the daemon reads from its key folders (R3.1)."""
        data = await self.call("POST", "/v1/login/eds", {"path": path, "password": password})
        self.token, self.role, self.username = data["token"], data["role"], data["username"]
        self.lock_after_s = float(data.get("lock_after_s") or 0)
        self.view_only = False
        return data

    async def login_ncalayer(self, storage: str = "PKCS12") -> dict[str, Any]:
        """Sign in with a key held by NCALayer (token, ID card); NCALayer asks for the PIN itself."""
        data = await self.call("POST", "/v1/login/ncalayer", {"storage": storage}, timeout_s=PERSON_WAIT_S)
        self.token, self.role, self.username = data["token"], data["role"], data["username"]
        self.lock_after_s = float(data.get("lock_after_s") or 0)
        self.view_only = False
        return data

    async def logout(self, reason: str = "", screen: str = "") -> None:
        """``reason`` "idle": the screen locked itself (``screen`` the one left open)."""
        if self.token:
            try:
                await self.call(
                    "POST", "/v1/logout", {"reason": reason, "screen": screen} if reason else None
                )
            finally:
                self.token = ""

    async def stream(self) -> AsyncIterator[dict[str, Any]]:
        """Events of the lane as they happen; ends when the daemon goes away."""
        try:
            async with self._http().ws_connect(
                "http://laned/v1/stream",
                headers=self._headers(),
                heartbeat=15,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10),
            ) as ws:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    data = msg.json()
                    for event in data if isinstance(data, list) else [data]:
                        yield event
        except aiohttp.WSServerHandshakeError as exc:
            raise ApiError("stream_refused", str(exc), {}, exc.status) from None
        except (aiohttp.ClientConnectionError, FileNotFoundError, ConnectionRefusedError) as exc:
            raise ApiError("daemon_unreachable", str(exc), {"socket": self.socket_path}, 0) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def version_when_ready(
    socket_path: str, alive: Callable[[], bool], timeout_s: float, every_s: float = 0.2
) -> dict[str, Any] | None:
    """The daemon's ``/v1/version`` as soon as it answers on its socket; None when ``alive`` says it
    ended or ``timeout_s`` passed (the demo's start, the health check of a new release)."""
    client = LaneClient(socket_path, timeout_s=2)
    deadline = time.monotonic() + timeout_s
    try:
        while alive() and time.monotonic() < deadline:
            with contextlib.suppress(ApiError, aiohttp.ClientError, OSError):  # not listening yet
                return dict(await client.call("GET", "/v1/version"))
            await asyncio.sleep(every_s)
    finally:
        await client.close()
    return None

"""ONVIF with a camera account (R3.7, R3.16): GetDeviceInformation carries a WS-Security
UsernameToken with a password digest (OASIS UsernameToken Profile 1.0, ONVIF Core § 5.12), dated by
the camera's own clock; the password never travels and is never said. Against the simulated camera
on loopback, which checks the token as a camera does."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from lxml import etree

from app.anpr.scenes import camera_frames
from drivers.camera import onvif
from drivers.camera.base import CameraError, CameraIdentity
from drivers.camera.registry import make_camera
from drivers.camera.sim import CameraSim
from tests.rig import serve_loopback

IDENT = CameraIdentity("Hikvision", "DS-2CD2043G2-I", "DS-AUTH-0001", "V5.7.3")
ACCOUNT = ("lane", "s3cret/pw@")


@pytest.fixture
async def camera() -> AsyncIterator[CameraSim]:
    # the camera's clock is two hours and a bit off the lane's (no NTP on the camera's network)
    cam = CameraSim(camera_frames, IDENT, plate="123ABC02", account=ACCOUNT, clock_offset_s=7321.0)
    await cam.start()
    try:
        yield cam
    finally:
        await cam.stop()


def test_the_digest_is_the_one_of_the_onvif_programmers_guide() -> None:
    """The worked example of the ONVIF Application Programmer's Guide (UsernameToken digest)."""
    nonce = onvif.base64.b64decode("LKqI6G/AikKCQrN0zqZFlg==")
    assert (
        onvif.password_digest(nonce, "2010-09-16T07:50:45Z", "userpassword") == "tuOSpGlFlIXsozq4HFNeeGeFLEI="
    )
    assert onvif.created_text(1284623445.9) == "2010-09-16T07:50:45Z"


def test_the_request_carries_the_token_and_not_the_password() -> None:
    nonce = b"0123456789abcdef"
    body = onvif.request("GetDeviceInformation", ACCOUNT, 1284623445.0, nonce)
    root = etree.fromstring(body)
    token = root.find(f"{{{onvif.SOAP}}}Header/{{{onvif.WSSE}}}Security/{{{onvif.WSSE}}}UsernameToken")
    assert token is not None
    password = token.find(f"{{{onvif.WSSE}}}Password")
    assert password is not None and password.get("Type") == onvif.DIGEST_TYPE
    assert password.text == onvif.password_digest(nonce, "2010-09-16T07:50:45Z", ACCOUNT[1])
    assert token.findtext(f"{{{onvif.WSSE}}}Username") == "lane"
    assert token.findtext(f"{{{onvif.WSSE}}}Nonce") == "MDEyMzQ1Njc4OWFiY2RlZg=="
    assert token.findtext(f"{{{onvif.WSU}}}Created") == "2010-09-16T07:50:45Z"
    assert root.find(f"{{{onvif.SOAP}}}Body/{{{onvif.TDS}}}GetDeviceInformation") is not None
    assert ACCOUNT[1].encode() not in body
    # without an account: no header at all
    assert b"Security" not in onvif.request("GetDeviceInformation") and b"Header" not in onvif.request("X")


def test_the_account_comes_from_the_onvif_url_else_the_streams() -> None:
    assert onvif.account_of("http://a%40b:p%2Fw@10.0.5.21/onvif", "rtsp://x:y@h/") == ("a@b", "p/w")
    assert onvif.account_of("http://10.0.5.21/onvif", "rtsp://lane:pw@h/s") == ("lane", "pw")
    assert onvif.account_of("http://10.0.5.21/onvif", "rtsp://lane@h/s") is None
    assert onvif.account_of("http://u:@h/onvif") == ("u", "")
    assert onvif.bare("http://lane:pw@10.0.5.21:8080/onvif/device_service?x=1") == (
        "http://10.0.5.21:8080/onvif/device_service?x=1"
    )
    assert onvif.bare("http://u:p@[fe80::1]/onvif") == "http://[fe80::1]/onvif"


async def test_a_camera_with_an_account_is_identified_by_its_clock(camera: CameraSim) -> None:
    """The token is dated by the camera's clock (asked first): a camera two hours off still answers."""
    url = f"http://{ACCOUNT[0]}:s3cret%2Fpw%40@{camera.http_url.removeprefix('http://')}/onvif/device_service"
    assert await onvif.device_information(url, 5.0, onvif.account_of(url)) == IDENT
    assert camera.refused == 0
    # the same through the camera driver, the account in the stream's URL only
    stream = f"http://lane:s3cret%2Fpw%40@{camera.http_url.removeprefix('http://')}/mjpeg"
    cam = make_camera("mjpeg", "front", stream, onvif_url=camera.http_url + "/onvif/device_service")
    assert await cam.identify() == IDENT


async def test_a_wrong_missing_stale_or_replayed_token_is_refused(camera: CameraSim) -> None:
    url = camera.http_url + "/onvif/device_service"
    for account in (None, ("lane", "wrong"), ("other", ACCOUNT[1])):
        with pytest.raises(CameraError) as err:
            await onvif.device_information(url, 5.0, account)
        assert "ONVIF refused the camera account" in str(err.value)
        assert "user:password@host" in str(err.value) and ACCOUNT[1] not in str(err.value)
    assert camera.refused == 3
    now = time.time() + camera.clock_offset_s
    nonces: set[str] = set()
    good = onvif.request("GetDeviceInformation", ACCOUNT, now, b"n" * 16)
    assert onvif.token_problem(good, ACCOUNT, now, nonces) == ""
    assert onvif.token_problem(good, ACCOUNT, now, nonces) == "nonce replayed"
    # dated by the lane's clock, two hours from the camera's: outside the camera's window
    stale = onvif.request("GetDeviceInformation", ACCOUNT, time.time(), b"m" * 16)
    assert onvif.token_problem(stale, ACCOUNT, now, nonces) == "created outside the camera's time window"
    # the window's edge, to the second (Created is whole seconds): inside passes, outside not
    whole = float(int(now))
    inside = onvif.request("GetDeviceInformation", ACCOUNT, whole - onvif.TOKEN_WINDOW_S, b"e" * 16)
    assert onvif.token_problem(inside, ACCOUNT, whole, nonces) == ""
    outside = onvif.request("GetDeviceInformation", ACCOUNT, whole + onvif.TOKEN_WINDOW_S + 1, b"f" * 16)
    assert onvif.token_problem(outside, ACCOUNT, whole, nonces) == "created outside the camera's time window"
    assert (
        onvif.token_problem(onvif.request("GetDeviceInformation"), ACCOUNT, now, nonces) == "no UsernameToken"
    )
    assert onvif.token_problem(b"<x", ACCOUNT, now, nonces) == "not XML"


async def test_the_password_travels_in_no_header_and_no_message() -> None:
    """The URL's user:password is taken off the request (aiohttp would send it as HTTP Basic)."""
    seen: list[tuple[dict[str, str], bytes]] = []
    clock = onvif.system_date_and_time_response(time.time())

    async def service(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append((dict(request.headers), body))
        answer = clock if b"GetSystemDateAndTime" in body else onvif.device_information_response(IDENT)
        return web.Response(body=answer, content_type="application/soap+xml")

    app = web.Application()
    app.router.add_post("/onvif/device_service", service)
    runner, port = await serve_loopback(app)
    try:
        url = f"http://lane:s3cret@127.0.0.1:{port}/onvif/device_service"
        assert await onvif.device_information(url, 5.0, onvif.account_of(url)) == IDENT
    finally:
        await runner.cleanup()
    assert [b"GetSystemDateAndTime" in body for _, body in seen] == [True, False]
    for headers, body in seen:
        assert "Authorization" not in headers and b"s3cret" not in body
        assert headers["Content-Type"].startswith("application/soap+xml")


async def _refusing(challenge: str) -> tuple[CameraError, list[tuple[dict[str, str], bytes]]]:
    """What the lane says of a camera that answers every request 401 with ``challenge`` (no SOAP
    fault, even to the clock request), and the requests it got."""
    asked: list[tuple[dict[str, str], bytes]] = []

    async def service(request: web.Request) -> web.Response:
        asked.append((dict(request.headers), await request.read()))
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    app = web.Application()
    app.router.add_post("/onvif/device_service", service)
    runner, port = await serve_loopback(app)
    try:
        url = f"http://lane:s3cret@127.0.0.1:{port}/onvif/device_service"
        with pytest.raises(CameraError) as err:
            await onvif.device_information(url, 5.0, onvif.account_of(url))
    finally:
        await runner.cleanup()
    return err.value, asked


async def test_a_camera_that_refuses_by_http_401_is_said_to_refuse_the_account() -> None:
    """A camera that refuses the HTTP Digest answer too: the lane's clock is used for the token,
    each request is answered once with its digest (not again and again), and the refusal is said as
    the account's."""
    said, asked = await _refusing(onvif.digest_challenge("IP Camera", "abc123"))
    assert said.code == "onvif_account_refused" and "user:password@host" in str(said)
    clock = [b"GetSystemDateAndTime" in body for _, body in asked]
    assert clock == [True, True, False, False]  # the clock refused, then the identity asked anyway
    assert ["Authorization" in h for h, _ in asked] == [False, True, True, True]


async def test_a_camera_asking_for_http_basic_is_never_sent_the_password() -> None:
    """HTTP Basic would carry the password itself over plain HTTP: the lane never answers it and
    says what to change on the camera (R3.16)."""
    said, asked = await _refusing('Basic realm="IP Camera"')
    assert said.code == "onvif_basic_refused" and "in the clear" in str(said)
    assert all("Authorization" not in h and b"s3cret" not in body for h, body in asked)


async def test_a_digest_challenge_the_lane_cannot_answer_is_said_as_such() -> None:
    """A malformed challenge (no nonce) or an unknown algorithm: said as the camera's setting to
    change, not as a camera that does not answer."""
    said, _ = await _refusing('Digest realm="IP Camera"')
    assert said.code == "onvif_challenge" and "nonce" in said.params["detail"]
    said, _ = await _refusing('Digest realm="IP Camera", nonce="n1", qop="auth", algorithm=MD4')
    assert said.code == "onvif_challenge" and "MD4" in said.params["detail"]


def test_the_http_digest_check_is_the_one_of_rfc_2617() -> None:
    """The simulated camera's check, on RFC 2617 § 3.5's worked example (with qop=auth)."""
    header = (
        'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",'
        ' uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b",'
        ' response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    account = ("Mufasa", "Circle Of Life")
    issued, seen = {"dcd98b7102dd2f0e8b11d0f600bfb0c093"}, set[str]()

    def problem(h: str = header, method: str = "GET", path: str = "/dir/index.html", acc=account) -> str:  # type: ignore[no-untyped-def]
        return onvif.digest_problem(h, method, path, acc, "testrealm@host.com", issued, seen)

    assert problem(method="POST") == "user or password wrong"  # the method is in the digest
    assert problem(acc=("Mufasa", "Circle of Life")) == "user or password wrong"
    assert problem(acc=("mufasa", "Circle Of Life")) == "user or password wrong"
    assert problem(path="/dir/other.html") == "Digest uri is not the request's"
    assert problem(header.replace("dcd98b7102", "00000000")) == "Digest nonce or realm not the camera's"
    assert problem(header.replace("qop=auth", "qop=auth-int")) == "Digest algorithm or qop not offered"
    assert problem(header.replace('cnonce="0a4f113b",', "")) == "Digest authorization incomplete"
    assert problem("Basic bGFuZTpzM2NyZXQ=") == "no Digest authorization"
    assert problem("") == "no Digest authorization"
    assert problem() == ""
    assert problem() == "Digest nonce count replayed"  # the same nonce count twice
    assert problem(header.replace("00000001", "00000002")) == "user or password wrong"  # nc is in the digest


async def test_a_camera_taking_the_account_by_http_digest_only_is_identified() -> None:
    """Some firmware takes the ONVIF account at the HTTP layer only (ONVIF Core § 5.12.1, HTTP
    Digest): challenged, the lane answers with the digest and is admitted; the password is in no
    request; a wrong password or no account is refused with the account's message (R3.16)."""
    cam = CameraSim(camera_frames, IDENT, plate="123ABC02", account=ACCOUNT, onvif_auth="http-digest")
    seen: list[dict[str, str]] = []

    @web.middleware
    async def record(request: web.Request, handler):  # type: ignore[no-untyped-def]
        seen.append({**request.headers, "body": (await request.read()).decode()})
        return await handler(request)

    app = cam.app
    cam.app = lambda: _with(app(), record)  # type: ignore[method-assign]
    await cam.start()
    try:
        url = (
            f"http://{ACCOUNT[0]}:s3cret%2Fpw%40@{cam.http_url.removeprefix('http://')}/onvif/device_service"
        )
        assert await onvif.device_information(url, 5.0, onvif.account_of(url)) == IDENT
        assert cam.refused == 0 and len(cam.digest_seen) == 1
        authorized = [h["Authorization"] for h in seen if "Authorization" in h]
        assert len(authorized) == 1 and authorized[0].startswith("Digest ")
        assert all(ACCOUNT[1] not in str(h) for h in seen)
        for account in (None, ("lane", "wrong"), ("other", ACCOUNT[1])):
            with pytest.raises(CameraError) as err:
                await onvif.device_information(cam.http_url + "/onvif/device_service", 5.0, account)
            assert err.value.code == "onvif_account_refused"
        assert cam.refused == 2  # no account: challenged, never answered
        # the same camera through the camera driver, the account in the stream's URL only
        stream = f"http://lane:s3cret%2Fpw%40@{cam.http_url.removeprefix('http://')}/mjpeg"
        driver = make_camera("mjpeg", "rear", stream, onvif_url=cam.http_url + "/onvif/device_service")
        assert await driver.identify() == IDENT
    finally:
        await cam.stop()


def _with(app: web.Application, middleware: object) -> web.Application:
    app.middlewares.append(middleware)  # type: ignore[arg-type]
    return app


async def test_an_unreachable_onvif_service_is_said_without_the_password() -> None:
    from app.demo_config import free_port

    url = f"http://lane:s3cret@127.0.0.1:{free_port()}/onvif/device_service"
    with pytest.raises(CameraError) as err:
        await onvif.device_information(url, 2.0, onvif.account_of(url))
    assert "s3cret" not in str(err.value) and "lane:***@127.0.0.1" in str(err.value)


def test_the_cameras_clock_is_read_from_its_answer() -> None:
    t = float(int(time.time()))
    assert onvif.parse_system_time(onvif.system_date_and_time_response(t)) == t
    with pytest.raises(CameraError):
        onvif.parse_system_time(onvif.not_authorized("x"))
    with pytest.raises(CameraError):
        onvif.parse_system_time(b"<a/>")


def test_the_simulated_camera_says_an_account_file_it_cannot_read(tmp_path: Path) -> None:
    """Bad input gets a clear error: the file, why, what it should hold; no traceback."""
    missing = tmp_path / "camera-account"
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "camera-sim", "--port", "0", "--account-file", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == (
        f"otolane: cannot read the camera account file {missing} (No such file or directory): it holds"
        " user:password on one line"
    )

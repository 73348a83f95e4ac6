"""Signature login through the real daemon (issue #10; R3.1, G3): an employee signs in with their own
NCA GOST key file and its password; every refusal is named; the binding of a key's IIN to an account
is journalled, sealed, and cannot be moved behind the software."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from app.api.client import ApiError
from app.eds.training import container, employee, issue, make_pki, revocation_list
from tests.rig import (
    CENTRE_BIN,
    IIN_OP,
    KEY_PASSWORD,
    Rig,
    admitted,
    integrity_argv,
    serve_loopback,
    signer_at_eis,
    start_key_rig,
    start_rig,
    wait_for,
)

PASSWORD = KEY_PASSWORD


@pytest.fixture
async def lane(tmp_path: Path) -> Rig:
    def keys(pki: Any) -> dict[str, Any]:
        other_root = make_pki()
        return {
            "revoked.p12": issue(employee("900101300124"), pki.ca),
            "expired.p12": issue(employee("900101300125"), pki.ca, days=(-400, -1)),
            "other-ca.p12": issue(employee(IIN_OP), other_root.ca),
            "other-bin.p12": issue(employee("900101300126", bin_="999999999999"), pki.ca),
            "unbound.p12": issue(employee("900101300127"), pki.ca),
        }

    rig = await start_key_rig(tmp_path / "home", keys)
    yield rig
    await rig.close()


async def test_an_employee_signs_in_with_their_own_gost_key(lane: Rig) -> None:
    """R3.1: the key file is chosen from the key folder, the certificate checked, the IIN bound."""
    anon = await lane.client()
    listing = await anon.call("GET", "/v1/eds/keys")
    assert listing["enabled"] is True and listing["ncalayer"] is False
    assert {k["name"] for k in listing["keys"]} >= {"operator.p12", "revoked.p12"}
    path = next(k["path"] for k in listing["keys"] if k["name"] == "operator.p12")
    c = await lane.client()
    data = await c.login_eds(path, PASSWORD)
    assert (data["username"], data["role"]) == ("operator", "operator")
    assert data["key"]["iin"] == IIN_OP and data["key"]["algorithm"] == "gost2015_512"
    # whose key it is, to show on the screen — never its serial, fingerprint or anything of the key
    assert set(data["key"]) == {"common_name", "iin", "bin", "organisation", "not_after", "algorithm"}
    assert data["key"]["common_name"] == "ТЕСТОВ ТЕСТ" and data["key"]["bin"]
    assert data["key"]["not_after"] > dt.datetime.now(dt.UTC).isoformat()
    state = await c.call("GET", "/v1/state")
    assert state["me"]["username"] == "operator"
    admin = await lane.client("admin")
    logins = await admin.call("GET", "/v1/journal?action=login&limit=20")
    eds = [e for e in logins if e["details"].get("method") == "eds"]
    assert eds and eds[0]["actor"] == "operator" and eds[0]["details"]["algorithm"] == "gost2015_512"
    journal = json.dumps(await admin.call("GET", "/v1/journal?limit=500"), ensure_ascii=False)
    assert PASSWORD not in journal
    assert IIN_OP not in journal  # personal data: the journal keeps a digest of the seal only


@pytest.mark.parametrize(
    ("name", "password", "code"),
    [
        ("operator.p12", "wrong-password", "eds_wrong_password"),
        ("revoked.p12", PASSWORD, "eds_revoked"),
        ("expired.p12", PASSWORD, "eds_expired"),
        ("other-ca.p12", PASSWORD, "eds_untrusted"),
        ("other-bin.p12", PASSWORD, "eds_not_employee"),
        ("unbound.p12", PASSWORD, "eds_iin_not_registered"),
    ],
)
async def test_each_refusal_is_named_and_journalled(lane: Rig, name: str, password: str, code: str) -> None:
    c = await lane.client()
    with pytest.raises(ApiError) as err:
        await c.login_eds(str(lane.home / "usb" / name), password)
    assert (err.value.status, err.value.code) == (401, code)
    if code != "eds_wrong_password":
        assert err.value.params["common_name"] == "ТЕСТОВ ТЕСТ"  # the screen says whose key it is
    admin = await lane.client("admin")
    failed = await admin.call("GET", "/v1/journal?action=login_failed&limit=5")
    assert failed[0]["details"]["method"] == "eds"
    assert failed[0]["details"]["reason"] in (code, code.removeprefix("eds_"))


async def test_a_key_file_outside_the_key_folders_is_never_read(lane: Rig) -> None:
    c = await lane.client()
    for path in (
        "/etc/passwd",
        str(lane.home / "usb" / ".." / "config.toml"),
        str(lane.home / "keys" / "data.key"),
    ):
        with pytest.raises(ApiError) as err:
            await c.login_eds(path, PASSWORD)
        assert err.value.code == "eds_path_refused", path


async def test_rebinding_the_iin_ends_the_key_session(lane: Rig) -> None:
    c = await lane.client()
    await c.login_eds(str(lane.home / "usb" / "operator.p12"), PASSWORD)
    admin = await lane.client("admin")
    await admin.call("POST", "/v1/users/operator/eds", {"iin": "900101300199"})
    with pytest.raises(ApiError) as err:
        await c.call("GET", "/v1/state")
    assert err.value.status == 401
    with pytest.raises(ApiError) as err:
        await admin.call("POST", "/v1/users/admin/eds", {"iin": "900101300199"})
    assert err.value.code == "eds_iin_taken"
    with pytest.raises(ApiError) as err:
        await admin.call("POST", "/v1/users/admin/eds", {"iin": "12345"})
    assert err.value.code == "eds_iin_bad"


async def test_an_insider_cannot_move_a_key_binding_with_sqlite(lane: Rig) -> None:
    """Issue #7 item 3 for the new state: the binding is cross-checked against the journal."""
    db = lane.cfg.dsn.removeprefix("sqlite://")
    with sqlite3.connect(db, timeout=60) as con:  # the daemon may hold the lock a while under load
        con.execute(
            "UPDATE users SET eds_iin = (SELECT eds_iin FROM users WHERE username='operator') "
            "WHERE username='admin'"
        )
    c = await lane.client()
    data = await c.login_eds(str(lane.home / "usb" / "operator.p12"), PASSWORD)
    assert data["username"] == "operator"  # a copied seal opens for no one else
    r = await asyncio.to_thread(
        subprocess.run,
        integrity_argv(lane.home / "config.toml", "--json"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(r.stdout)
    assert r.returncode == 1
    assert any("user admin" in line and "NCA key binding" in line for line in report["lines"]), report[
        "lines"
    ]


async def test_the_login_screen_signs_in_with_a_key_and_says_why_a_key_is_refused(lane: Rig) -> None:
    """SCREENS.md Login: the key file and its password; whose key it is and why it is refused."""
    from textual.widgets import Select

    from tests.e2e.test_tui_pilot import SIZE, text
    from tui.app import make_app
    from tui.screens.lane import LaneScreen

    app = make_app(lane.sock, "ru")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("f2")

        async def listed() -> bool:
            await pilot.pause(0.05)
            return app.screen.query_one("#key-file", Select).value == str(lane.home / "usb" / "expired.p12")

        await wait_for(listed, "the key files listed")
        assert "Ключ НУЦ" in text(app, "#login-mode")
        await pilot.press(*PASSWORD, "enter")

        async def said() -> str:
            await pilot.pause(0.05)
            return text(app, "#login-msg") if text(app, "#login-msg").startswith("✗") else ""

        msg = await wait_for(said, "the refusal")
        assert "ТЕСТОВ ТЕСТ" in msg and "900101300125" in msg and "истёк" in msg
        app.screen.query_one("#key-file", Select).value = str(lane.home / "usb" / "operator.p12")
        await pilot.press(*PASSWORD, "enter")

        async def in_lane() -> bool:
            await pilot.pause(0.05)
            return isinstance(app.screen, LaneScreen)

        await wait_for(in_lane, "the lane screen after a key login")


def _one_key(tmp_path: Path) -> tuple[Any, Any, tuple[Path, Path, Path], Path]:
    """A training PKI in ``home/pki`` and the operator's key file ``home/usb/k.p12``."""
    pki = make_pki()
    who = issue(employee(IIN_OP), pki.ca)
    files = pki.write(tmp_path / "home" / "pki")
    usb = tmp_path / "home" / "usb"
    usb.mkdir(parents=True)
    (usb / "k.p12").write_bytes(container(who, PASSWORD, [pki.ca]))
    return pki, who, files, usb


async def test_a_missing_crl_file_is_named_as_the_lanes_set_up_not_the_users_key(tmp_path: Path) -> None:
    pki, who, (root, ca, _), usb = _one_key(tmp_path)
    extra = f'\n[eds]\nca = ["{root}", "{ca}"]\ncrl = ["pki/gone.crl"]\nkey_dirs = ["usb"]\n'
    rig = await start_rig(tmp_path / "home", extra_config=extra)
    try:
        c = await rig.client()
        with pytest.raises(ApiError) as err:
            await c.login_eds(str(usb / "k.p12"), PASSWORD)
        assert err.value.code == "eds_trust_bad"
        assert err.value.params["file"].endswith("gone.crl")
    finally:
        await rig.close()


async def _ncalayer_lane(
    tmp_path: Path, trust: tuple[Path, Path, Path], token: Any, other: Any = None
) -> Any:
    """A lane that trusts ``trust`` (root, CA, CRL) and reaches a local NCALayer holding ``token``
    (and ``other``, a second key on it): the rig, the NCALayer endpoint and its runner."""

    from tests.ncalayer_sim import NcaLayerSim

    root, ca, crl = trust
    sim = NcaLayerSim(token, other)
    runner, port = await serve_loopback(sim.app())
    extra = (
        f'\n[eds]\nca = ["{root}", "{ca}"]\ncrl = ["{crl}"]\ncentre_bin = "{CENTRE_BIN}"\n'
        f'ncalayer_url = "ws://127.0.0.1:{port}/"\n'
    )
    return await start_rig(tmp_path / "home", extra_config=extra), sim, runner


async def test_a_key_on_a_token_signs_in_through_ncalayer(tmp_path: Path) -> None:
    """R3.1 for keys on tokens: NCALayer signs the lane's fresh challenge; the CMS, its content and
    the certificate are checked; a cancel, a signature over other content, or no NCALayer are named."""

    from app.eds import certs
    from app.eds.signer import open_and_check

    pki = make_pki()
    who = issue(employee(IIN_OP), pki.ca)
    root, ca, crl = pki.write(tmp_path / "home" / "pki")
    token = open_and_check(
        container(who, "pin", [pki.ca]), "pin", certs.TrustStore.from_files([root, ca], [crl])
    )
    rig, sim, runner = await _ncalayer_lane(tmp_path, (root, ca, crl), token)
    try:
        admin = await rig.client("admin")
        await admin.call("POST", "/v1/users/operator/eds", {"iin": IIN_OP})
        c = await rig.client()
        listing = await c.call("GET", "/v1/eds/keys")
        assert listing["enabled"] is True and listing["ncalayer"] is True
        data = await c.login_ncalayer("AKKaztokenStore")
        assert (data["username"], data["role"], data["must_change"]) == ("operator", "operator", False)
        assert data["key"]["iin"] == IIN_OP and set(data["key"]) <= {
            "common_name",
            "iin",
            "bin",
            "organisation",
            "not_after",
            "algorithm",
        }
        assert sim.requests[-1]["module"] == "kz.gov.pki.knca.commonUtils"
        assert sim.requests[-1]["args"][:2] == ["AKKaztokenStore", "SIGNATURE"]
        raw = await (await rig.client()).call("POST", "/v1/login/ncalayer", {})  # the default storage
        assert raw["username"] == "operator" and sim.requests[-1]["args"][0] == "PKCS12"
        for mode, code in (("cancel", "eds_ncalayer_canceled"), ("other-content", "eds_signature_invalid")):
            sim.mode = mode
            with pytest.raises(ApiError) as err:
                await (await rig.client()).login_ncalayer()
            assert err.value.code == code, mode
        with pytest.raises(ApiError) as err:
            await (await rig.client()).login_ncalayer("SomethingElse")
        assert err.value.code == "eds_ncalayer_storage"
        await runner.cleanup()
        with pytest.raises(ApiError) as err:
            await (await rig.client()).login_ncalayer()
        assert err.value.code == "eds_ncalayer_unreachable"
        failed = await admin.call("GET", "/v1/journal?action=login_failed&limit=5")
        assert {e["details"]["method"] for e in failed} == {"ncalayer"}
    finally:
        await runner.cleanup()
        await rig.close()


async def test_a_card_formed_with_a_key_on_a_token_is_signed_through_ncalayer(tmp_path: Path) -> None:
    """G3 for tokens: the card formed in an NCALayer session is signed by NCALayer (detached CMS of
    the exact body; the person confirms with the PIN in NCALayer's dialog) and reaches EIS with the
    employee's IIN; a cancel or a signature by another key forms nothing, and the card can be formed
    again."""

    from app.eds import certs
    from app.eds.signer import open_and_check
    from tests.rig import run_brake_steps

    pki = make_pki()
    root, ca, crl = pki.write(tmp_path / "home" / "pki")
    trust = certs.TrustStore.from_files([root, ca], [crl])
    token, other = (
        open_and_check(container(issue(employee(iin), pki.ca), "pin", [pki.ca]), "pin", trust)
        for iin in (IIN_OP, "900101300199")
    )
    rig, sim, runner = await _ncalayer_lane(tmp_path, (root, ca, crl), token, other)
    try:
        admin = await rig.client("admin")
        await admin.call("POST", "/v1/users/operator/eds", {"iin": IIN_OP})
        c = await rig.client()
        await c.login_ncalayer("AKKaztokenStore")
        await wait_for(lambda: admitted(c), "the brake tester")
        insp = await c.call(
            "POST", "/v1/inspections", {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2}
        )
        await run_brake_steps(c, insp)
        await c.call("POST", f"/v1/inspections/{insp['id']}/visual", {"defects": []})

        async def ready() -> bool:
            return not (await c.call("GET", "/v1/state"))["inspection"]["card_holds"]

        await wait_for(ready, "the card gates")
        for mode, code in (("cancel", "eds_ncalayer_canceled"), ("other-key", "eds_signature_invalid")):
            sim.mode = mode
            with pytest.raises(ApiError) as err:
                await c.call("POST", f"/v1/inspections/{insp['id']}/card")
            assert err.value.code == code and err.value.status == 409, mode
        assert (await c.call("GET", "/v1/state"))["inspection"]["id"] == insp["id"]  # still open
        sim.mode = "sign"
        card = await c.call("POST", f"/v1/inspections/{insp['id']}/card")
        assert sim.requests[-1]["args"][3] is False  # detached: the body travels apart

        async def accepted() -> bool:
            return (await c.call("GET", "/v1/state"))["outbox"]["accepted"] == 1

        await wait_for(accepted, "EIS acceptance of the token-signed card")
        assert signer_at_eis(rig, card["card_id"]) == (f"IIN{IIN_OP}",)
        assert len(await admin.call("GET", "/v1/journal?action=card_formed")) == 1
    finally:
        await runner.cleanup()
        await rig.close()


async def test_an_ocsp_responder_is_asked_when_configured(tmp_path: Path) -> None:
    """Issue #10: revocation from OCSP when configured — a key revoked after the CRL was published is
    refused; an answer signed by another key, an error status, an old answer or another nonce is not
    trusted (revocation_unknown)."""

    from tests.ocsp_sim import OcspSim

    pki, who, (root, ca, crl), usb = _one_key(tmp_path)
    sim = OcspSim(pki.ca)
    runner, port = await serve_loopback(sim.app())
    url = f"http://127.0.0.1:{port}/"
    extra = f'\n[eds]\nca = ["{root}", "{ca}"]\ncrl = ["{crl}"]\nkey_dirs = ["usb"]\nocsp_url = "{url}"\n'
    rig = await start_rig(tmp_path / "home", extra_config=extra)
    try:
        admin = await rig.client("admin")
        await admin.call("POST", "/v1/users/operator/eds", {"iin": IIN_OP})
        data = await (await rig.client()).login_eds(str(usb / "k.p12"), PASSWORD)
        assert data["username"] == "operator" and sim.asked == 1
        for mode in ("other-key", "unauthorized", "stale", "other-nonce"):
            sim.mode = mode
            with pytest.raises(ApiError) as err:
                await (await rig.client()).login_eds(str(usb / "k.p12"), PASSWORD)
            assert err.value.code == "eds_revocation_unknown", mode
        sim.mode = "honest"
        sim.revoked.add(who.cert.serial_number)
        with pytest.raises(ApiError) as err:
            await (await rig.client()).login_eds(str(usb / "k.p12"), PASSWORD)
        assert err.value.code == "eds_revoked"
        await runner.cleanup()
        with pytest.raises(ApiError) as err:
            await (await rig.client()).login_eds(str(usb / "k.p12"), PASSWORD)
        assert err.value.code == "eds_revocation_unknown"
    finally:
        await runner.cleanup()
        await rig.close()


async def test_a_refreshed_crl_is_taken_without_a_restart(tmp_path: Path) -> None:
    """The site refreshes the CRL file: a key revoked since is refused at the next login."""
    pki, who, (root, ca, crl), usb = _one_key(tmp_path)
    extra = f'\n[eds]\nca = ["{root}", "{ca}"]\ncrl = ["{crl}"]\nkey_dirs = ["usb"]\n'
    rig = await start_rig(tmp_path / "home", extra_config=extra)
    try:
        admin = await rig.client("admin")
        await admin.call("POST", "/v1/users/operator/eds", {"iin": IIN_OP})
        assert (await (await rig.client()).login_eds(str(usb / "k.p12"), PASSWORD))["username"] == "operator"
        crl.write_bytes(revocation_list(pki.ca, [who]))
        with pytest.raises(ApiError) as err:
            await (await rig.client()).login_eds(str(usb / "k.p12"), PASSWORD)
        assert err.value.code == "eds_revoked"
    finally:
        await rig.close()


async def test_a_card_formed_in_a_key_session_reaches_eis_signed_by_the_employee(lane: Rig) -> None:
    """G3, R3.1: every card the employee forms goes to EIS with their detached CMS signature of the
    very body sent; EIS (the simulator) verifies it and knows the signer's IIN."""
    from tests.rig import run_to_card

    c = await lane.client()
    await c.login_eds(str(lane.home / "usb" / "operator.p12"), PASSWORD)
    card = await run_to_card(c, {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2})

    async def accepted() -> bool:
        return (await c.call("GET", "/v1/state"))["outbox"]["accepted"] == 1

    await wait_for(accepted, "EIS acceptance of the signed card")
    assert signer_at_eis(lane, card["card_id"]) == (f"IIN{IIN_OP}",)
    admin = await lane.client("admin")
    formed = await admin.call("GET", "/v1/journal?action=card_formed")
    assert formed[0]["details"]["signed_by"]  # the certificate's serial, in the journal


async def test_a_signature_changed_behind_the_software_is_refused_by_eis(lane: Rig) -> None:
    """An insider who swaps the stored signature gets the card rejected and shown, never accepted."""
    from tests.rig import run_to_card

    c = await lane.client()
    await c.login_eds(str(lane.home / "usb" / "operator.p12"), PASSWORD)
    lane.eis.knobs["fail_rate"] = 1.0  # EIS unavailable: the card waits in the outbox
    card = await run_to_card(c, {"plate": "777AAA01", "category": "M1", "fuel": "petrol", "axles": 2})
    with sqlite3.connect(lane.cfg.dsn.removeprefix("sqlite://"), timeout=60) as con:
        con.execute("PRAGMA busy_timeout = 5000")
        con.execute("UPDATE outbox SET signature = ? WHERE card_id = ?", ("AAAA", card["card_id"]))
    lane.eis.knobs["fail_rate"] = 0.0

    async def rejected() -> bool:
        return (await c.call("GET", "/v1/state"))["outbox"].get("rejected", 0) == 1

    await wait_for(rejected, "EIS refusing the swapped signature", timeout=90)
    assert lane.eis.db.execute("SELECT count(*) FROM cards").fetchone() == (0,)


@pytest.mark.parametrize("status", [302, 307])
async def test_an_ocsp_responder_that_redirects_is_not_followed(tmp_path: Path, status: int) -> None:
    """Issue #21 (1): OCSP is asked of the responder configured only: one that answers with a
    redirect (to a responder that would say "good") leaves the revocation unknown, and the other is
    never asked."""
    from aiohttp import web

    from app.eds import ocsp
    from app.eds.errors import EdsError
    from tests.ocsp_sim import OcspSim

    pki, who, _, _ = _one_key(tmp_path)
    sim = OcspSim(pki.ca)
    runner, port = await serve_loopback(sim.app())

    async def moved(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": f"http://127.0.0.1:{port}/"})

    app = web.Application()
    app.router.add_post("/", moved)
    mover, moved_port = await serve_loopback(app)
    try:
        at = dt.datetime.now(dt.UTC)
        assert (await ocsp.status(f"http://127.0.0.1:{port}/", who.cert, pki.ca.cert, at))[0] == "good"
        with pytest.raises(EdsError) as err:
            await ocsp.status(f"http://127.0.0.1:{moved_port}/", who.cert, pki.ca.cert, at)
        assert err.value.code == "eds_revocation_unknown" and "redirect" in str(err.value)
        assert sim.asked == 1
    finally:
        await mover.cleanup()
        await runner.cleanup()


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
async def test_the_first_wrong_key_password_is_said_where_the_eye_is(lane: Rig, lang: str) -> None:
    """Issue #23 (6): the first wrong password of an NCA key is said at once, on screen at 80×24."""
    from textual.widgets import Select

    from tests.e2e.test_tui_pilot import SIZE, text
    from tui.app import make_app

    app = make_app(lane.sock, lang)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("f2")

        async def listed() -> bool:
            await pilot.pause(0.05)
            return bool(app.screen.query_one("#key-file", Select).value)

        await wait_for(listed, "the key files listed")
        app.screen.query_one("#key-file", Select).value = str(lane.home / "usb" / "operator.p12")
        await pilot.press(*"not-the-password", "enter")

        async def said() -> str:
            await pilot.pause(0.05)
            return text(app, "#login-msg") if text(app, "#login-msg").startswith("✗") else ""

        msg = await wait_for(said, "the refusal of the first wrong password")
        region = app.screen.query_one("#login-msg").region
        assert region.height > 0 and region.bottom <= SIZE[1], (region, msg)

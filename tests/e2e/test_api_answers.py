"""What each route answers, field by field, and how it refuses (R10.3, R10.6, issue #7 item 8): the rig's
daemon in this process, called over its Unix socket. ``test_api_lane.py`` runs the lane; these pin
the answers' shapes, statuses, defaults and the parameters of every refusal, so a dropped field or a
changed status is noticed by the mutation run."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app import __version__
from app.api.client import ApiError, LaneClient
from app.api.server import API_VERSION, MAX_FIELD
from app.journal import MAX_PAGE
from app.storage.models import Inspection, JournalEntry
from tests.rig import PASSWORDS, Rig, admitted, wait_for


async def _refused(c: LaneClient, method: str, path: str, body: Any = None) -> ApiError:
    with pytest.raises(ApiError) as err:
        await c.call(method, path, body)
    return err.value


async def _raw(rig: Rig, method: str, path: str, body: bytes = b"", token: str = "") -> tuple[int, Any]:
    conn = aiohttp.UnixConnector(path=rig.sock)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(connector=conn) as http:
        async with http.request(method, f"http://laned{path}", data=body, headers=headers) as r:
            return r.status, await r.json(content_type=None)


async def test_sessions_and_the_answers_that_open_and_end_them(rig: Rig) -> None:
    """D1: the version needs no session; a login answers who and what role; a logout ends it."""
    assert stat.S_IMODE(os.stat(rig.sock).st_mode) == 0o660  # the lane's group only (docs/security.md)
    anon = await rig.client()
    assert await anon.call("GET", "/v1/version") == {
        "api": API_VERSION,
        "version": __version__,
        "release": "development",
    }  # a checkout: no release folder
    answer = await anon.call("POST", "/v1/login", {"username": "Operator", "password": PASSWORDS["operator"]})
    assert set(answer) == {"token", "username", "role", "must_change", "view_only", "lock_after_s"}
    assert answer["view_only"] is False  # this centre lets passwords work (R3.1, [eds] login)
    assert (answer["username"], answer["role"], answer["must_change"]) == ("operator", "operator", False)
    assert len(answer["token"]) >= 40
    keys = await anon.call("GET", "/v1/eds/keys")
    assert keys == {"enabled": True, "keys": [], "ncalayer": False}  # the rig enables EDS, holds no key files
    op = await rig.client("operator")
    state = await op.call("GET", "/v1/state")
    assert state["me"] == {"username": "operator", "role": "operator"}
    assert await op.call("POST", "/v1/logout") == {"ok": True}
    err = await _refused(op, "GET", "/v1/state")
    assert (err.status, err.code) == (401, "session_required")
    # a token that is not a session's, and none at all
    assert (await _raw(rig, "GET", "/v1/state", token="forged"))[0] == 401
    status, body = await _raw(rig, "GET", "/v1/state")
    assert (status, body["error"]["code"]) == (401, "session_required")
    # the password route: the old one is asked for, the new one follows the policy
    tech = await rig.client("technician")
    err = await _refused(tech, "POST", "/v1/password", {"old": "wrong-one-00", "new": "Fresh-Roller-77"})
    assert (err.status, err.code) == (400, "password_old_wrong")
    err = await _refused(tech, "POST", "/v1/password", {"old": PASSWORDS["technician"]})
    assert (err.code, err.params) == ("field_missing", {"field": "new"})
    new = "Fresh-Roller-77"
    assert await tech.call("POST", "/v1/password", {"old": PASSWORDS["technician"], "new": new}) == {
        "ok": True
    }
    assert (await tech.call("GET", "/v1/state"))["me"]["role"] == "technician"  # one's own change: still in
    again = await rig.client()
    assert (await again.login("technician", new))["role"] == "technician"


async def test_unknown_paths_methods_and_large_bodies_get_a_code(rig: Rig) -> None:
    op = await rig.client("operator")
    status, body = await _raw(rig, "GET", "/v1/nowhere", token=op.token)
    assert status == 404 and body["error"] == {"code": "not_found", "message": "Not Found", "params": {}}
    status, body = await _raw(rig, "DELETE", "/v1/state", token=op.token)
    assert (status, body["error"]["code"], body["error"]["params"]) == (405, "method_not_allowed", {})
    status, body = await _raw(rig, "POST", "/v1/inspections", b"{" + b" " * 70_000 + b"}", op.token)
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    status, body = await _raw(rig, "POST", "/v1/login", b"[1]")
    assert (status, body["error"]["code"]) == (400, "body_not_object")
    status, body = await _raw(rig, "POST", "/v1/login", b"{nope")
    assert (status, body["error"]["code"]) == (400, "body_not_json")
    deep = b'{"a":' * 33 + b"1" + b"}" * 33
    status, body = await _raw(rig, "POST", "/v1/login", deep)
    assert (status, body["error"]["code"]) == (400, "body_too_deep")
    just = b'{"a":' * 31 + b'{"s": "[[[[{{{{\\"]]]"}' + b"}" * 31  # brackets inside a string do not count
    status, body = await _raw(rig, "POST", "/v1/login", just)
    assert (status, body["error"]["code"]) == (400, "field_missing")


async def test_the_fields_of_a_new_inspection_are_checked_and_all_of_them_kept(rig: Rig) -> None:
    """R3.2, issue #7 item 8: each field by its name — missing, wrong type, too long — and every
    field that passes reaches the record (the facts journalled, the rest sealed)."""
    op = await rig.client("operator")
    await wait_for(lambda: admitted(op), "the brake tester")
    base = {"plate": "123ABC02", "category": "M1"}
    cases: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
        ({"category": "M1"}, "field_missing", {"field": "plate"}),
        ({"plate": "123ABC02"}, "field_missing", {"field": "category"}),
        (base | {"axles": True}, "field_type", {"field": "axles"}),
        (base | {"axles": "2"}, "field_type", {"field": "axles"}),
        (base | {"year": 2.5}, "field_type", {"field": "year"}),
        (base | {"fuel": 1}, "field_type", {"field": "fuel"}),
        (base | {"catalyst": "yes"}, "field_type", {"field": "catalyst"}),
        (base | {"turbo": 1}, "field_type", {"field": "turbo"}),
        (base | {"use": None}, "field_type", {"field": "use"}),
        (base | {"vin": 17}, "field_type", {"field": "vin"}),
        (base | {"owner": []}, "field_type", {"field": "owner"}),
        (base | {"make_model": {}}, "field_type", {"field": "make_model"}),
        (base | {"reinspection_of": 5}, "field_type", {"field": "reinspection_of"}),
        (base | {"plate_confirmed": "no"}, "field_type", {"field": "plate_confirmed"}),
        (base | {"recognition": 1}, "field_type", {"field": "recognition"}),
        (base | {"owner": "x" * (MAX_FIELD + 1)}, "field_too_long", {"field": "owner", "max": MAX_FIELD}),
    ]
    for body, code, params in cases:
        err = await _refused(op, "POST", "/v1/inspections", body)
        assert (err.status, err.code, err.params) == (400, code, params), body
    # exactly MAX_FIELD passes the API (the record's own limit then speaks)
    err = await _refused(op, "POST", "/v1/inspections", base | {"owner": "x" * MAX_FIELD})
    assert (err.code, err.params["field"]) == ("field_too_long", "owner") and err.params["max"] < MAX_FIELD
    assert await Inspection.all().count() == 0
    full = base | {
        "fuel": "diesel",
        "axles": 3,
        "year": 2012,
        "catalyst": True,
        "turbo": True,
        "use": "taxi",
        "vin": "XTA21099012345678",
        "make_model": "KAMAZ 5490",
        "owner": "ТОО Жол",
        "headlight_tilt": 1.25,  # kept to a tenth, as a headlamp is marked
    }
    for bad in ("1.2", True, [1]):  # a number, not text, a yes or a list (issue #22 (7))
        err = await _refused(op, "POST", "/v1/inspections", full | {"headlight_tilt": bad})
        assert (err.code, err.params) == ("field_type", {"field": "headlight_tilt"}), bad
    insp = await op.call("POST", "/v1/inspections", full)
    assert (insp["category"], insp["fuel"], insp["axles"]) == ("M1", "diesel", 3)
    started = await JournalEntry.get(action="inspection_started")
    assert started.details["vehicle"] == {
        "category": "M1",
        "fuel": "diesel",
        "axles": 3,
        "year": 2012,
        "catalyst": True,
        "turbo": True,
        "use": "taxi",
        "plate_format": started.details["vehicle"]["plate_format"],
        "headlight_tilt": 1.2,
    }
    row = await Inspection.get(id=insp["id"])
    lane = rig.daemon.lane
    assert lane is not None
    sealed = lane.keyring.open_json(row.sealed, f"inspections:{row.id}")
    assert (sealed["vin"], sealed["make_model"], sealed["owner"], sealed["plate"]) == (
        "XTA21099012345678",
        "KAMAZ 5490",
        "ТОО Жол",
        "123ABC02",
    )
    # the defaults of a field left out: petrol, two axles, private
    assert await op.call("POST", f"/v1/inspections/{insp['id']}/abort", {"reason": "r" * 300}) == {"ok": True}
    aborted = await JournalEntry.get(action="inspection_aborted")
    assert aborted.details["reason"] == "r" * 200  # a reason is cut at 200 characters
    # a plate in no known format is held for the operator's confirmation unless it is given
    err = await _refused(op, "POST", "/v1/inspections", {"plate": "TRANSIT7", "category": "M1"})
    assert (err.status, err.code) == (409, "plate_format_unknown")
    plain = await op.call("POST", "/v1/inspections", {"plate": "124ABC02", "category": "M1"})
    assert (plain["fuel"], plain["axles"]) == ("petrol", 2)
    row = await Inspection.get(id=plain["id"])
    sealed = lane.keyring.open_json(row.sealed, f"inspections:{row.id}")
    assert (sealed["vin"], sealed["make_model"], sealed["owner"]) == ("", "", "")
    assert "recognition" not in sealed and "reinspection_of" not in sealed
    second = await JournalEntry.filter(action="inspection_started").order_by("-seq").first()
    assert second is not None
    assert (second.details["vehicle"]["use"], second.details["vehicle"]["year"]) == ("private", None)
    assert (second.details["vehicle"]["catalyst"], second.details["vehicle"]["turbo"]) == (False, False)
    # visual checks: a list of check ids, at most 64 of them
    for bad in (
        {"defects": "visual.horn"},
        {"defects": [1]},
        {"defects": ["x" * 65]},
        {"defects": ["a"] * 65},
    ):
        err = await _refused(op, "POST", f"/v1/inspections/{plain['id']}/visual", bad)
        assert (err.status, err.code, err.params) == (400, "field_type", {"field": "defects"}), bad
    ok = await op.call("POST", f"/v1/inspections/{plain['id']}/visual", {"defects": ["visual.horn"] * 64})
    assert ok["id"] == plain["id"]
    none = await op.call("POST", f"/v1/inspections/{plain['id']}/visual", {})  # no defects found
    assert none["id"] == plain["id"]
    for none in ({}, {"reason": ""}, {"reason": "   "}):  # issue #23 (6): never without a reason
        err = await _refused(op, "POST", f"/v1/inspections/{plain['id']}/abort", none)
        assert (err.status, err.code, err.params) == (400, "abort_reason_missing", {"field": "reason"})
    assert await op.call("POST", f"/v1/inspections/{plain['id']}/abort", {"reason": "vehicle_left"}) == {
        "ok": True
    }
    last = await JournalEntry.filter(action="inspection_aborted").order_by("-seq").first()
    assert last is not None and last.details["reason"] == "vehicle_left"


async def test_queries_are_whole_numbers_in_their_range(rig: Rig) -> None:
    """Issue #7 item 8: ``limit`` and ``before`` are checked, with the range said."""
    admin = await rig.client("admin")
    for path, field, low, high in [
        ("/v1/journal?limit=0", "limit", 1, MAX_PAGE),
        (f"/v1/journal?limit={MAX_PAGE + 1}", "limit", 1, MAX_PAGE),
        ("/v1/journal?limit=x", "limit", 1, MAX_PAGE),
        ("/v1/journal?before=0", "before", 1, 2**63 - 1),
        ("/v1/eis/outbox?limit=0", "limit", 1, MAX_PAGE),
        ("/v1/eis/exchanges?limit=-3", "limit", 1, MAX_PAGE),
        ("/v1/eis/exchanges?fold=2", "fold", 0, 1),
        ("/v1/cameras/front/preview?w=7", "w", 8, 160),
        ("/v1/cameras/front/preview?w=161", "w", 8, 160),
        ("/v1/cameras/front/preview?h=3", "h", 4, 96),
        ("/v1/cameras/front/preview?h=97", "h", 4, 96),
    ]:
        err = await _refused(admin, "GET", path)
        assert (err.status, err.code, err.params) == (
            400,
            "query_bad",
            {"field": field, "low": low, "high": high},
        )
    err = await _refused(admin, "GET", "/v1/journal?action=" + "a" * 41)
    assert (err.code, err.params) == ("query_bad", {"field": "action", "low": 1, "high": 40})
    err = await _refused(admin, "GET", "/v1/eis/exchanges?card=" + "c" * 37)
    assert (err.code, err.params) == ("query_bad", {"field": "card", "low": 1, "high": 36})
    for kinds in ("cards", "card,bogus", "card;drop", ","):  # issue #23 (10): named kinds only
        err = await _refused(admin, "GET", f"/v1/eis/exchanges?kind={kinds}")
        assert (err.code, err.params) == ("query_bad", {"field": "kind"}), kinds
    assert await admin.call("GET", "/v1/eis/exchanges?kind=card,events&fold=1") == []
    # at the edges the query passes
    assert len(await admin.call("GET", f"/v1/journal?limit={MAX_PAGE}")) >= 1
    assert await admin.call("GET", "/v1/eis/exchanges?card=" + "c" * 36) == []
    one = await admin.call("GET", "/v1/journal?limit=1")
    assert len(one) == 1
    seq = one[0]["seq"]
    older = await admin.call("GET", f"/v1/journal?before={seq}&limit=2")
    assert [e["seq"] for e in older] == [seq - 1, seq - 2]
    logins = await admin.call("GET", "/v1/journal?action=login")
    assert logins and {e["action"] for e in logins} == {"login"}
    assert len(await admin.call("GET", "/v1/journal")) == min(
        100, len(await admin.call("GET", "/v1/journal?limit=500"))
    )


async def test_devices_answer_their_frames_and_take_only_service_commands(rig: Rig) -> None:
    """R3.7, R10.3: the technician reads raw frames and may zero a stand; nothing else."""
    tech = await rig.client("technician")
    await wait_for(lambda: admitted(tech), "the brake tester")
    frames = await tech.call("GET", "/v1/devices/brake/frames")
    assert frames["device"]["id"] == "brake" and frames["device"]["service_commands"] == ["zero"]
    assert frames["frames"] and set(frames["frames"][0]) == {"ts", "hex", "ok", "note", "values"}
    assert len(frames["frames"]) <= 100
    err = await _refused(tech, "GET", "/v1/devices/nothing/frames")
    assert (err.status, err.code) == (404, "device_unknown")
    err = await _refused(tech, "POST", "/v1/devices/brake/command", {"command": "calibrate"})
    assert (err.status, err.code, err.params) == (400, "command_not_allowed", {"command": "calibrate"})
    assert await tech.call("POST", "/v1/devices/brake/command", {"command": "zero"}) == {"ok": True}
    said = await JournalEntry.get(action="device_command")
    assert (said.actor, said.details.pop("where")["via"]) == ("technician", "local")  # R11: from where
    assert said.details == {"device": "brake", "command": "zero"}
    # while a step runs on the stand, no command reaches it
    op = await rig.client("operator")
    insp = await op.call("POST", "/v1/inspections", {"plate": "123ABC02", "category": "M1"})
    await op.call("POST", f"/v1/inspections/{insp['id']}/steps/brakes_axle_1")
    err = await _refused(tech, "POST", "/v1/devices/brake/command", {"command": "zero"})
    assert (err.status, err.code) == (409, "device_busy")
    assert await JournalEntry.filter(action="device_command").count() == 1


async def test_the_administrator_s_user_routes_answer_and_journal(rig: Rig) -> None:
    admin = await rig.client("admin")
    body = {"username": "Dana", "role": "operator", "password": "Quiet-Field-88", "full_name": "Dana K."}
    assert await admin.call("POST", "/v1/users", body) == {"ok": True}
    users = {u["username"]: u for u in await admin.call("GET", "/v1/users")}
    assert (users["dana"]["role"], users["dana"]["full_name"], users["dana"]["disabled"]) == (
        "operator",
        "Dana K.",
        False,
    )
    err = await _refused(admin, "POST", "/v1/users", {"username": "x", "role": "operator"})
    assert (err.code, err.params) == ("field_missing", {"field": "password"})
    await admin.call(
        "POST", "/v1/users", {"username": "erlan", "role": "operator", "password": "Quiet-Field-88"}
    )
    assert {u["username"]: u for u in await admin.call("GET", "/v1/users")}["erlan"]["full_name"] == ""
    assert await admin.call("POST", "/v1/users/dana/role", {"role": "technician"}) == {"ok": True}
    err = await _refused(admin, "POST", "/v1/users/dana/role", {"role": "x" * 17})
    assert (err.code, err.params) == ("field_too_long", {"field": "role", "max": 16})
    assert await admin.call("POST", "/v1/users/dana/lock") == {"ok": True}
    assert {u["username"]: u for u in await admin.call("GET", "/v1/users")}["dana"]["disabled"] is True
    assert await admin.call("POST", "/v1/users/dana/unlock") == {"ok": True}
    assert {u["username"]: u for u in await admin.call("GET", "/v1/users")}["dana"]["disabled"] is False
    err = await _refused(admin, "POST", "/v1/users/dana/eds", {"iin": "1" * 13})
    assert (err.code, err.params) == ("field_too_long", {"field": "iin", "max": 12})
    actions = [(e.actor, e.action) for e in await JournalEntry.filter(actor="admin").order_by("seq")]
    assert [a for a in actions if a[1].startswith("user_")] == [
        ("admin", "user_added"),
        ("admin", "user_added"),
        ("admin", "user_role_changed"),
        ("admin", "user_locked"),
        ("admin", "user_unlocked"),
    ]
    assert await admin.call("GET", "/v1/eis/outbox") == []
    no_camera = {"state": "no_camera", "camera": None, "reads": 0, "bad_looks": 0, "arrival_age_s": None}
    assert (await admin.call("GET", "/v1/cameras")) == {"cameras": [], "watch": no_camera}


async def test_a_storage_refusal_is_503_and_a_bug_500_never_a_traceback(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue #7 items 1, 8: the database refusing to store is "try again" (503, nothing lost); a bug
    is "internal error" (500) in the answer, its traceback only in the daemon's log."""
    from tortoise.exceptions import OperationalError

    op = await rig.client("operator")
    lane = rig.daemon.lane
    assert lane is not None

    async def locked() -> dict[str, Any]:
        raise OperationalError("database is locked")

    async def broken() -> dict[str, Any]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(lane.views, "snapshot", locked)
    err = await _refused(op, "GET", "/v1/state")
    assert (err.status, err.code, err.params) == (503, "storage_failed", {"detail": "database is locked"})
    monkeypatch.setattr(lane.views, "snapshot", broken)
    with caplog.at_level("ERROR", logger="otolane"):
        err = await _refused(op, "GET", "/v1/state")
    assert (err.status, err.code, err.message, err.params) == (500, "internal", "internal error", {})
    assert any("internal error on GET /v1/state" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    assert (await op.call("GET", "/v1/state"))["me"]["username"] == "operator"  # the daemon goes on


async def test_a_refused_role_is_told_what_it_may_not_do_and_journalled(rig: Rig) -> None:
    """R10.3, R10.6: the refusal names the permission and the act; the journal names the path, the
    permission and where the call came from."""
    op = await rig.client("operator")
    err = await _refused(op, "GET", "/v1/users")
    assert (err.status, err.code, err.params) == (
        403,
        "forbidden",
        {"permission": "users_manage", "action": "list users"},
    )
    denied = await JournalEntry.get(action="access_denied")
    assert denied.actor == "operator" and denied.details.pop("where")["via"] == "local"
    assert denied.details == {"path": "/v1/users", "permission": "users_manage"}


async def test_a_locked_user_s_stream_is_closed_within_seconds(rig: Rig) -> None:
    """Issue #7 item 7: the session guard ends the stream of a session its account no longer allows
    (closed with 4401, "log in again")."""
    op = await rig.client("operator")
    admin = await rig.client("admin")
    conn = aiohttp.UnixConnector(path=rig.sock)
    async with aiohttp.ClientSession(connector=conn) as http:
        headers = {"Authorization": f"Bearer {op.token}"}
        async with http.ws_connect("http://laned/v1/stream", headers=headers) as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello == {"type": "hello", "api": API_VERSION}
            await admin.call("POST", "/v1/users/operator/lock")
            while True:
                msg = await ws.receive(timeout=10)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    break
            assert ws.close_code == 4401


async def test_the_card_s_documents_say_whether_they_are_copies(rig: Rig) -> None:
    """R3.8: the first PDF of a card is the original, every later one a copy (header and journal);
    a certificate is numbered and its copies marked too."""
    from tests.rig import run_to_card

    op = await rig.client("operator")
    card = await run_to_card(op, {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2})
    cid = card["card_id"]
    assert (await op.call("GET", f"/v1/cards/{cid}"))["card_id"] == cid
    conn = aiohttp.UnixConnector(path=rig.sock)
    async with aiohttp.ClientSession(connector=conn) as http:
        headers = {"Authorization": f"Bearer {op.token}"}
        copies = []
        for _ in range(2):
            async with http.get(f"http://laned/v1/cards/{cid}/pdf", headers=headers) as r:
                assert r.status == 200 and r.content_type == "application/pdf"
                assert (await r.read()).startswith(b"%PDF")
                copies.append(r.headers["X-Otolane-Copy"])
        assert copies == ["0", "1"]
        numbers = []
        for _ in range(2):
            async with http.post(f"http://laned/v1/cards/{cid}/certificate", headers=headers) as r:
                assert r.status == 201 and r.content_type == "application/pdf"
                assert (await r.read()).startswith(b"%PDF")
                numbers.append((r.headers["X-Otolane-Certificate"], r.headers["X-Otolane-Copy"]))
        assert numbers[0][1] == "0" and numbers[1][1] == "1" and numbers[0][0] == numbers[1][0] != ""
    err = await _refused(op, "GET", "/v1/cards/no-such-card")
    assert err.status == 404
    # G2: the exchanges of this card, and of no other
    admin = await rig.client("admin")

    async def traced() -> bool:
        return bool(await admin.call("GET", f"/v1/eis/exchanges?card={cid}"))

    await wait_for(traced, "the card's exchange with EIS")
    rows = await admin.call("GET", f"/v1/eis/exchanges?card={cid}")
    assert {r["card_id"] for r in rows} == {cid}
    assert await admin.call("GET", "/v1/eis/exchanges?card=another") == []


async def test_what_a_route_creates_answers_201(rig: Rig) -> None:
    """D1: a new inspection, a card, a user are created (201); reading and acting answer 200."""
    op = await rig.client("operator")
    admin = await rig.client("admin")
    await wait_for(lambda: admitted(op), "the brake tester")
    body = b'{"plate": "123ABC02", "category": "M1", "axles": 1}'
    status, insp = await _raw(rig, "POST", "/v1/inspections", body, op.token)
    assert status == 201 and insp["axles"] == 1
    status, preview = await _raw(rig, "GET", f"/v1/inspections/{insp['id']}/preview", token=op.token)
    assert status == 200 and preview["verdict"] is None  # nothing measured yet: the card is held
    assert {h["code"] for h in preview["holds"]} >= {"steps_not_done", "min_duration"}
    status, step = await _raw(
        rig, "POST", f"/v1/inspections/{insp['id']}/steps/brakes_axle_1", token=op.token
    )
    assert status == 200 and step["id"] == insp["id"]
    user = b'{"username": "dana", "role": "operator", "password": "Quiet-Field-88"}'
    status, answer = await _raw(rig, "POST", "/v1/users", user, admin.token)
    assert (status, answer) == (201, {"ok": True})
    status, answer = await _raw(rig, "POST", "/v1/users/dana/eds", b'{"iin": "900101300123"}', admin.token)
    assert (status, answer) == (200, {"ok": True})
    bound = await JournalEntry.get(action="user_eds_bound")
    assert bound.details["username"] == "dana" and "900101300123" not in str(bound.details)


async def test_the_administrator_registers_a_replaced_stand_by_its_certificate(rig: Rig) -> None:
    """R3.15: the replacement is journalled with the old and new identity and the verification."""
    import datetime as dt

    admin = await rig.client("admin")
    await wait_for(lambda: admitted(admin), "the brake tester")
    until = (dt.date.today() + dt.timedelta(days=300)).isoformat()
    err = await _refused(admin, "POST", "/v1/devices/brake/replace", {"certificate": "C-1"})
    assert (err.code, err.params) == ("field_missing", {"field": "verified_until"})
    err = await _refused(
        admin, "POST", "/v1/devices/ghost/replace", {"certificate": "C-1", "verified_until": until}
    )
    assert (err.status, err.code) == (404, "device_unknown")
    answer = await admin.call(
        "POST", "/v1/devices/brake/replace", {"certificate": "C-77", "verified_until": until}
    )
    assert answer["id"] == "brake" and answer["admitted"] is True
    replaced = await JournalEntry.get(action="device_replaced")
    assert (replaced.actor, replaced.details["certificate"], replaced.details["verified_until"]) == (
        "admin",
        "C-77",
        until,
    )


async def test_the_journal_of_a_period_is_exported_signed_and_the_export_journalled(rig: Rig) -> None:
    """R3.19: the admin's export names its file, its period and how many entries it holds."""
    import datetime as dt

    admin = await rig.client("admin")
    now = dt.datetime.now(dt.UTC)
    period = {
        "from": (now - dt.timedelta(hours=1)).isoformat(),
        "to": (now + dt.timedelta(minutes=1)).isoformat(),
    }
    made = await admin.call("POST", "/v1/journal/export", period)
    assert made["entries"] >= 1 and made["file"].endswith(".json")
    said = await JournalEntry.get(action="journal_exported")
    assert said.details.pop("where")["via"] == "local"
    assert said.details == {
        "file": Path(made["file"]).name,
        "entries": made["entries"],
        "start": made["from"],
        "end": made["to"],
    }
    err = await _refused(admin, "POST", "/v1/journal/export", {"from": "yesterday", "to": period["to"]})
    assert err.status == 400 and err.params.get("field") == "from"
    err = await _refused(admin, "POST", "/v1/journal/export", {"from": period["from"], "to": "tomorrow"})
    assert err.status == 400 and err.params.get("field") == "to"
    exported = json.loads(Path(made["file"]).read_text())
    assert exported["lane"] == rig.cfg.lane["name"]


async def test_a_lane_without_cameras_says_so(rig: Rig) -> None:
    op = await rig.client("operator")
    admin = await rig.client("admin")
    err = await _refused(op, "POST", "/v1/anpr", {})
    assert (err.status, err.code) == (404, "camera_none")
    err = await _refused(admin, "POST", "/v1/cameras/front/register")
    assert (err.status, err.code, err.params) == (404, "camera_unknown", {"camera": "front"})
    err = await _refused(op, "GET", "/v1/cameras/front/preview?w=8&h=4")
    assert (err.status, err.code, err.params) == (404, "camera_unknown", {"camera": "front"})


async def test_a_burst_of_events_reaches_a_screen_in_batches_of_at_most_200(rig: Rig) -> None:
    """D2 on a bad link: events are sent as they come, gathered at most 200 to a message."""
    op = await rig.client("operator")
    lane = rig.daemon.lane
    assert lane is not None
    before = lane.bus.open_streams
    conn = aiohttp.UnixConnector(path=rig.sock)
    async with aiohttp.ClientSession(connector=conn) as http:
        headers = {"Authorization": f"Bearer {op.token}"}
        async with http.ws_connect("http://laned/v1/stream", headers=headers) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            assert lane.bus.open_streams == before + 1
            for i in range(450):  # in one go: the stream's sender cannot run in between
                lane.bus.publish({"type": "burst", "n": i})
            seen: list[int] = []
            sizes: list[int] = []
            while len(seen) < 450:
                batch = await ws.receive_json(timeout=10)
                burst = [e["n"] for e in batch if e.get("type") == "burst"]
                seen += burst
                sizes.append(len(batch))
            assert seen == list(range(450)) and max(sizes) == 200

    async def released() -> bool:  # a screen that left holds no queue in the lane
        return lane.bus.open_streams == before

    await wait_for(released, "the closed stream's subscription released")


async def test_a_stopping_daemon_closes_the_streams_as_going_away(rig: Rig) -> None:
    """A screen tells a daemon that stops (1001: it reconnects) from an ended session (4401)."""
    op = await rig.client("operator")
    conn = aiohttp.UnixConnector(path=rig.sock)
    async with aiohttp.ClientSession(connector=conn) as http:
        headers = {"Authorization": f"Bearer {op.token}"}
        async with http.ws_connect("http://laned/v1/stream", headers=headers) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            rig.daemon.stopping.set()
            while not ws.closed:
                msg = await ws.receive(timeout=15)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    break
            assert ws.close_code == 1001

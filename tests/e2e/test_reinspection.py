"""Re-inspection (issue #8): a failed vehicle comes back, only its failed items are measured again,
and the new card is linked to the first (R3.6, R3.8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.api.client import ApiError
from drivers.registry import SCENARIOS
from tests.rig import run_brake_steps, run_to_card, start_rig, wait_for

VEHICLE = {"plate": "123ABC02", "category": "M1", "fuel": "petrol", "axles": 2}


async def test_a_repaired_car_is_rechecked_on_its_failed_items_and_linked_to_its_first_card(
    tmp_path: Path,
) -> None:
    rig = await start_rig(tmp_path / "lane", scenario="weak-rear")
    try:
        op = await rig.client("operator")
        first = await run_to_card(op, VEHICLE, defects=("visual.leaks",))
        assert first["verdict"] == "not_admitted"
        failed = sorted(i["id"] for i in first["items"] if not i["passed"])
        assert failed == ["brake.imbalance.axle2", "brake.specific_force", "visual.leaks"]
        # The refusals first, each with its reason.
        with pytest.raises(ApiError) as err:
            await op.call(
                "POST",
                "/v1/inspections",
                VEHICLE | {"plate": "777AAA01", "reinspection_of": first["card_id"]},
            )
        assert err.value.code == "reinspection_plate" and err.value.params["field"] == "plate"
        with pytest.raises(ApiError) as err:
            await op.call("POST", "/v1/inspections", VEHICLE | {"reinspection_of": "no-such-card"})
        assert err.value.code == "card_unknown" and err.value.status == 404

        rig.sim.scenario = dict(SCENARIOS["jx-brake"]["good"])  # the rear brakes were repaired
        first_card = await op.call("GET", f"/v1/cards/{first['card_id']}")
        # The operator types the first card's number as printed on it.
        insp = await op.call(
            "POST", "/v1/inspections", VEHICLE | {"reinspection_of": str(first_card["number"])}
        )
        # Only the steps that measure a failed item: every brake axle (the specific force needs
        # them all) and the checklist; no side slip, emissions or other stands.
        assert [s["id"] for s in insp["steps"]] == [
            "identification",
            "brakes_axle_1",
            "brakes_axle_2",
            "visual",
        ]
        await run_brake_steps(op, insp)
        await op.call("POST", f"/v1/inspections/{insp['id']}/visual", {"defects": []})

        async def ready() -> bool:
            return not (await op.call("GET", "/v1/state"))["inspection"]["card_holds"]

        await wait_for(ready, "the card gates")
        second = await op.call("POST", f"/v1/inspections/{insp['id']}/card")
        assert second["verdict"] == "admitted", second["items"]
        card = await op.call("GET", f"/v1/cards/{second['card_id']}")
        assert card["reinspection_of"] == {"card_id": first["card_id"], "number": first_card["number"]}
        assert not any(i.get("carried") for i in card["items"])
        admin = await rig.client("admin")
        started = (await admin.call("GET", "/v1/journal?action=inspection_started"))[0]
        assert started["details"]["reinspection_of"] == first["card_id"]
        # An admitted card is not re-inspected.
        with pytest.raises(ApiError) as err:
            await op.call("POST", "/v1/inspections", VEHICLE | {"reinspection_of": second["card_id"]})
        assert err.value.code == "reinspection_not_failed"
        # By its printed number the card is found through unique keys (issue #20), and the chained
        # card has the say: an inspection's number moved behind the software finds no card.
        from tortoise import connections

        await connections.get("default").execute_query(
            "UPDATE inspections SET number = 990 WHERE number = ?", [second_number := card["number"]]
        )
        for typed in ("990", str(second_number)):
            with pytest.raises(ApiError) as err:
                await op.call("POST", "/v1/inspections", VEHICLE | {"reinspection_of": typed})
            assert err.value.code == "card_unknown", typed
    finally:
        await rig.close()

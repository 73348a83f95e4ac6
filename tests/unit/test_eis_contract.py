"""The EIS contract (issue #11, G1): the published JSON schemas, the SOAP form of the same message,
and which endpoints are production whatever the configuration calls them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from app import config as config_mod
from app.eis import contract, endpoint, soap
from app.errors import ConfigError
from tests.rig import sample_card


def test_a_valid_card_passes_and_each_fault_is_named_by_its_field() -> None:
    assert contract.validate_card(sample_card()) == []
    failed = sample_card(items=[{"id": "x", "value": 1, "norm": {}, "passed": False}])
    assert contract.validate_card(failed) == ["verdict: 'admitted' with a failed item"]
    assert contract.validate_card(failed | {"verdict": "not_admitted"}) == []
    assert contract.validate_card([]) == ["card: expected an object"]
    cases = {
        "readings: expected integer": {"readings": True},
        "vehicle.plate: does not match": {"vehicle": {"plate": "123 abc"}},
        "verdict: expected one of": {"verdict": "maybe"},
        "finished: not a date-time": {"finished": "2026-01-01T10:00:00"},  # no zone
        "items[0]: missing 'passed'": {"items": [{"id": "x", "value": 1, "norm": {}}]},
        "contract: expected 'otolane-eis/1'": {"contract": "otolane-eis/0"},
    }
    for said, change in cases.items():
        found = contract.validate_card(sample_card(**change))
        assert any(p.startswith(said) for p in found), (said, found)
    missing = sample_card()
    del missing["inspector"]
    assert contract.validate_card(missing) == ["card: missing 'inspector'"]


def test_the_published_schemas_are_the_ones_the_code_checks() -> None:
    """docs/eis-contract.md names the schema files; each is valid JSON Schema draft 2020-12."""
    from jsonschema import Draft202012Validator

    doc = (Path(__file__).parents[2] / "docs" / "eis-contract.md").read_text(encoding="utf-8")
    for kind in contract.SCHEMAS:
        Draft202012Validator.check_schema(contract.schema(kind))
        assert f"app/eis/schema/{kind}.schema.json" in doc


def test_a_card_survives_the_soap_form_unchanged() -> None:
    """The XPath json-to-xml mapping is lossless: ints stay ints, floats the same float, nulls,
    nesting and Unicode as they were; the receiver checks the very same schema."""
    card = sample_card(
        items=[{"id": "brake", "value": 0.1 + 0.2, "norm": {"max": 20}, "passed": True, "x": None}],
        lane={"name": "Жол 1 — «Астана»", "latitude": 51.1801},
    )
    kind, back, signed = soap.read(soap.envelope("card", card))
    assert (kind, signed) == ("card", False)
    assert back == card and json.dumps(back, sort_keys=True) == json.dumps(card, sort_keys=True)
    assert contract.body(back) == contract.body(card)


@pytest.mark.parametrize(
    "xml",
    [
        b"not xml",
        b"<a/>",
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>',
        soap.envelope("card", {"a": 1}).replace(b'kind="card"', b""),
        soap.envelope("card", {"a": 1})
        .replace(b"<fn:number", b"<fn:numbr")
        .replace(b"</fn:number", b"</fn:numbr"),
        soap.envelope("card", {"a": 1}).replace(b">1<", b">1e999x<"),
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "a">]>' + soap.envelope("card", {}).split(b"?>", 1)[1],
    ],
)
def test_a_bad_envelope_is_a_clear_refusal(xml: bytes) -> None:
    with pytest.raises(soap.SoapError) as e:
        soap.read(xml)
    assert e.value.code == "eis_soap_bad" and e.value.message


def test_answers_and_faults_say_whether_to_try_again() -> None:
    assert soap.read_answer(soap.answer({"receipt": "R-1"})) == ("ok", {"receipt": "R-1"})
    assert soap.read_answer(soap.fault("Client", "vehicle.plate: missing")) == (
        "Client",
        "vehicle.plate: missing",
    )
    assert soap.read_answer(soap.fault("Server", "busy"))[0] == "Server"
    root = etree.fromstring(soap.fault("Client", "x"))
    assert root.find(".//faultcode").text == "soap:Client"


def test_state_domains_are_production_by_url_and_by_certificate_names() -> None:
    """Issue #11: the environment label does not decide; the host does."""
    for url in (
        "https://sb.egov.kz/vshep/v1",
        "https://EIS.NITEC.KZ./api",
        "https://x.bip.bee.kz",
        "https://gov.kz",
    ):
        assert endpoint.production_url(url), url
    for url in ("http://127.0.0.1:8765/api/v1", "https://eis-test.example.org", "https://notgov.kz"):
        assert not endpoint.production_url(url), url
    assert endpoint.production_url("https://eis.centre.example", extra=["centre.example"])
    assert endpoint.in_domains("*.egov.kz", endpoint.PRODUCTION_DOMAINS)
    assert endpoint.loopback("http://localhost:1/") and not endpoint.loopback("http://10.0.0.1/")


@pytest.mark.parametrize(
    "url",
    [
        "https://eis\u3002gov\u3002kz/api",  # ideographic full stops
        "https://eis\uff0egov\uff0ekz/api",  # full-width
        "https://sb.EGOV.kz\uff61/api",  # a half-width final dot
        "https://xn--e1afmkfd.egov.kz/api",  # a name in Cyrillic, as the resolver spells it
        "https://\u0435\u0438\u0441.egov.kz/api",  # the same in Cyrillic letters
    ],
)
def test_a_production_host_spelt_another_way_is_still_production(tmp_path: Path, url: str) -> None:
    """Issue #21 (7): hosts are compared after IDNA normalisation, as the URL library will resolve
    them: another spelling of a state domain is production, and a training lane may not use it."""
    assert endpoint.production_url(url), url
    with pytest.raises(ConfigError) as e:
        config_mod.load(_cfg(tmp_path, "training = true", f'url = "{url}"'))
    assert e.value.params["key"] == "eis.url"


def _cfg(tmp_path: Path, lane: str, eis: str) -> Path:
    p = tmp_path / "lane.toml"
    p.write_text(f'[lane]\nname = "L"\n{lane}\n[eis]\n{eis}\n', encoding="utf-8")
    return p


def test_a_training_lane_cannot_be_configured_towards_a_production_host(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        config_mod.load(_cfg(tmp_path, "training = true", 'url = "https://sb.egov.kz/vshep/v1"'))
    assert e.value.params["key"] == "eis.url" and "production" in e.value.message
    extra = 'url = "https://eis.centre.example/api"\nproduction_hosts = ["centre.example"]'
    with pytest.raises(ConfigError):
        config_mod.load(_cfg(tmp_path, "training = true", extra))
    # a production lane may; plain http only to this machine; the CA file must exist
    assert config_mod.load(_cfg(tmp_path, "", 'url = "https://sb.egov.kz/vshep/v1"'))
    with pytest.raises(ConfigError) as e:
        config_mod.load(_cfg(tmp_path, "", 'url = "http://10.1.2.3/api"'))
    assert "https://" in e.value.message
    with pytest.raises(ConfigError) as e:
        config_mod.load(_cfg(tmp_path, "", 'url = "https://10.1.2.3/api"\nca_file = "nope.pem"'))
    assert e.value.params["key"] == "eis.ca_file"
    with pytest.raises(ConfigError):
        config_mod.load(_cfg(tmp_path, "", 'url = "https://10.1.2.3/api"\ntransport = "carrier-pigeon"'))


def test_a_cards_photo_goes_before_it_bound_by_the_hash_the_card_names(tmp_path: Path) -> None:
    """Issue #9: the card names its photos by SHA-256 (signed with it); each image travels in a photo
    message; EIS refuses an image whose bytes are not the named hash, and holds a card (424, to be
    retried, never rejected) until it has every photo with the hash the card names."""
    import base64
    import hashlib

    from app.eis.simulator import EisSimulator

    jpeg = b"\xff\xd8" + bytes(range(256)) * 4 + b"\xff\xd9"
    digest = hashlib.sha256(jpeg).hexdigest()
    photo = {
        "photo_id": "p1", "taken": 1.0, "camera": {"id": "front", "serial": "DS-1"}, "latitude": 51.0,
        "longitude": 71.0, "width": 1280, "height": 720, "format": "jpeg", "sha256": digest,
        "jpeg": base64.b64encode(jpeg).decode(),
    }  # fmt: skip
    card = sample_card("c1", photos=[photo])
    message = contract.card_message(card)
    assert "jpeg" not in message["photos"][0] and message["photos"][0]["sha256"] == digest
    assert "jpeg" in card["photos"][0]  # the stored card keeps its image (the PDF shows it)
    assert contract.problems("card", card) == [
        "photos: the images travel in photo messages of their own, not in the card"
    ]
    (msg,) = contract.photo_messages(card)
    assert contract.problems("photo", msg) == []
    sim = EisSimulator(tmp_path / "eis.db")
    headers = {"Idempotency-Key": "c1", "X-SPO-Key": "K"}
    assert sim.handle("card", message, headers, "", "rest").status == 424  # its photo first
    forged = msg | {"jpeg": base64.b64encode(jpeg[:-1] + b"\x00").decode()}
    assert sim.handle("photo", forged, {"Idempotency-Key": "p1", "X-SPO-Key": "K"}, "", "rest").status == 422
    assert sim.handle("photo", msg, {"Idempotency-Key": "p1", "X-SPO-Key": "K"}, "", "rest").status == 201
    assert sim.handle("photo", msg, {"Idempotency-Key": "p1", "X-SPO-Key": "K"}, "", "rest").status == 200
    assert sim.handle("card", message, headers, "", "rest").status == 201

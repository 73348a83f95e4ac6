"""Fuzzing what EIS and the lane read from each other (issue #11): SOAP envelopes and answers, any JSON
against the contract's schemas, and journal exports — each gives its result or a named refusal,
never another exception (a dead outbox worker or a 500 from EIS)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.eis import contract, history, soap
from tests.rig import sample_card

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=30,
)
ENVELOPE = soap.envelope("card", sample_card())
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(json_values)
def test_any_json_survives_the_soap_form(value: Any) -> None:
    """The json-to-xml mapping is lossless for every JSON value (XML cannot hold some characters:
    those are refused by name, not lost)."""
    try:
        data = soap.envelope("card", {"v": value})
    except ValueError:  # lxml: a control character XML 1.0 cannot carry
        return
    kind, back, signed = soap.read(data)
    assert (kind, signed) == ("card", False)
    assert json.dumps(back, sort_keys=True) == json.dumps({"v": value}, sort_keys=True)


@FAST
@given(
    st.binary(max_size=300) | st.lists(st.tuples(st.integers(0, len(ENVELOPE) - 1), st.binary(max_size=3)))
)
def test_any_bytes_are_read_or_refused_by_name(edit: Any) -> None:
    if isinstance(edit, bytes):
        data = edit
    else:
        data = bytearray(ENVELOPE)
        for at, new in edit:
            data[at : at + len(new)] = new
        data = bytes(data)
    for read in (soap.read, soap.read_answer):
        try:
            read(data)
        except soap.SoapError as e:
            assert e.code == "eis_soap_bad" and e.message


@FAST
@given(st.sampled_from(contract.SCHEMAS), json_values)
def test_any_message_is_judged_with_named_problems(kind: str, value: Any) -> None:
    found = contract.problems(kind, value)
    assert all(isinstance(p, str) and ": " in p for p in found)


@FAST
@given(json_values, st.sampled_from(["entries", "signature", "chain", "public_key", "lane", "from"]))
def test_an_export_with_any_field_replaced_is_refused_not_crashed(value: Any, field: str) -> None:
    doc = {
        "format": contract.HISTORY_FORMAT,
        "lane": "L",
        "from": "2026-01-01T00:00:00+00:00",
        "to": "2026-01-02T00:00:00+00:00",
        "generated": "2026-01-02T00:00:00+00:00",
        "request": None,
        "entries": [],
        "chain": {"head_seq": 0, "head_hash": "0" * 64},
        "public_key": "not a key",
        "signature": "AAAA",
    }
    doc[field] = value
    assert history.verify(doc)  # never valid: no key signed it

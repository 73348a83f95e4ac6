"""Issue #25 (4): the traceability matrix ``docs/traceability.md`` is current (``./lane
trace`` writes it), no test quotes a requirement ID that does not exist, and every ID has a test —
but the gaps ``tests/trace.py: GAPS`` lists, each with what will bring its test; a gap that gets a
test must leave the list."""

from __future__ import annotations

from tests import trace


def test_every_id_a_test_quotes_exists() -> None:
    _, unknown = trace.matrix()
    assert unknown == {}, {i: sorted(t)[:3] for i, t in unknown.items()}


def test_every_requirement_has_a_test_but_the_gaps_written_down() -> None:
    rows, _ = trace.matrix()
    untested = {i for i, r in rows.items() if not r.tests}
    assert untested - trace.GAPS.keys() == set(), "an ID without a test (add one, or say why in GAPS)"
    assert trace.GAPS.keys() - untested == set(), "a gap has a test now: take it off GAPS"


def test_the_matrix_is_current() -> None:
    rows, _ = trace.matrix()
    assert trace.OUT.read_text(encoding="utf-8") == trace.render(rows), "run ./lane trace"

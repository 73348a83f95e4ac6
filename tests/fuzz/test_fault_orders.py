"""The simulators' control socket takes free text (`otolane sim fault`): no order, however mangled,
raises; every answer is "ok …" or "error: …"; a refused order changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.sim.control import apply


@dataclass
class FakeLine:
    """Stands in for a simulator: the state the orders change, nothing else."""

    garble: float = 0.0
    stuck: bool = False
    rate: float = 10.0
    serial: str = "S-1"
    pulled: float = 0.0

    def set_serial(self, serial: str) -> None:
        self.serial = serial

    def pull(self, seconds: float) -> None:
        self.pulled = seconds


words = st.sampled_from(["garble", "stuck", "slow", "serial", "pull", "clear", "status", "on", "off"])
orders = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(words, st.text(max_size=8), st.floats().map(str)), max_size=4).map(" ".join),
)


@settings(max_examples=500, deadline=None)
@given(orders)
def test_any_order_gets_ok_or_a_clear_error_and_a_refusal_changes_nothing(order: str) -> None:
    line = FakeLine()
    before = FakeLine()
    answer = apply(line, order, normal_rate=10.0)
    assert answer.startswith(("ok ", "error: "))
    if answer.startswith("error: "):
        assert line == before
    else:
        assert 0.0 <= line.garble <= 1.0 and line.rate > 0 and 0.0 <= line.pulled <= 3600


def test_numbers_that_are_not_finite_are_refused() -> None:
    for order in ("slow inf", "slow nan", "garble nan", "pull inf", "slow 1e-400", "slow 0", "serial a;b;c"):
        line = FakeLine()
        assert apply(line, order, normal_rate=10.0).startswith("error: "), order
        assert line == FakeLine(), order

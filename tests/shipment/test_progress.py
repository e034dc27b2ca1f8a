"""The status fold: a function of the set of events, never moved back by a late event."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ordertrail.carrier.status import SUBSTATUSES, status_of
from ordertrail.shipment.progress import INITIAL, Point, fingerprint, fold, newer_than, step

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def pt(minutes: int, sub: str, text: str = "") -> Point:
    at = T0 + timedelta(minutes=minutes)
    return Point(at, status_of(sub).value, sub, fingerprint(at, None, text or sub, None, sub))


SUBS = sorted(SUBSTATUSES)
points = st.builds(lambda m, s, t: pt(m, s, t), st.integers(0, 5000), st.sampled_from(SUBS),
                   st.text(max_size=3))


@settings(max_examples=300)
@given(st.lists(points, max_size=25), st.randoms(use_true_random=False),
       st.lists(st.integers(0, 24), max_size=10))
def test_any_permutation_and_duplication_gives_the_same_status(events, rnd, dups):
    shuffled = list(events) + [events[i % len(events)] for i in dups] if events else []
    rnd.shuffle(shuffled)
    assert fold(shuffled) == fold(events)


@settings(max_examples=200)
@given(st.lists(points, min_size=1, max_size=25), st.integers(0, 24))
def test_incremental_fold_equals_refold_when_news_is_newer(events, cut):
    events = sorted(events, key=lambda p: p.occurred_at)
    head, tail = events[:cut], events[cut:]
    state = fold(head)
    if newer_than(state, tail) and len({p.occurred_at for p in tail}) == len(tail):
        assert fold(tail, state) == fold(events)


def test_a_late_scan_never_moves_the_status_back():
    delivered = fold([pt(0, "in_transit.picked_up"), pt(60, "out_for_delivery.other"),
                      pt(120, "delivered.signed")])
    assert delivered.status == "delivered"
    late = fold([pt(0, "in_transit.picked_up"), pt(60, "out_for_delivery.other"),
                 pt(120, "delivered.signed"), pt(30, "in_transit.arrived")])
    assert late.status == "delivered"
    # A scan stamped after delivery that is "in transit" (a re-scan at a hub) is ignored too.
    assert step(delivered, pt(200, "in_transit.arrived")).status == "delivered"


def test_an_exception_applies_and_a_later_forward_scan_clears_it():
    state = fold([pt(0, "in_transit.picked_up"), pt(10, "exception.delayed")])
    assert (state.status, state.substatus) == ("exception", "exception.delayed")
    state = step(state, pt(20, "in_transit.arrived"))
    assert state.status == "in_transit"


def test_an_earlier_forward_scan_does_not_clear_a_newer_exception():
    state = fold([pt(0, "in_transit.picked_up"), pt(10, "exception.lost"),
                  pt(5, "in_transit.arrived")])
    assert state.substatus == "exception.lost"


def test_a_return_is_sticky_against_forward_scans():
    state = fold([pt(0, "in_transit.picked_up"), pt(10, "exception.returning"),
                  pt(20, "in_transit.arrived"), pt(30, "out_for_delivery.other")])
    assert state.substatus == "exception.returning"
    assert step(state, pt(40, "exception.returned")).substatus == "exception.returned"


def test_failed_attempt_then_delivery():
    state = fold([pt(0, "out_for_delivery.other"), pt(10, "attempt_fail.no_one_home"),
                  pt(20, "out_for_delivery.other"), pt(30, "delivered.signed_by_proxy")])
    assert (state.status, state.substatus) == ("delivered", "delivered.signed_by_proxy")


def test_a_late_failed_attempt_after_delivery_is_ignored():
    state = fold([pt(0, "out_for_delivery.other"), pt(30, "delivered.signed")])
    assert step(state, pt(40, "attempt_fail.no_one_home")).status == "delivered"


def test_empty_is_pending():
    assert fold([]) == INITIAL

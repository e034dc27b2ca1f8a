"""Order numbers: readable, per-day counters, and never the same number twice."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.config import Settings
from ordertrail.db import write_session
from ordertrail.kit.clock import FrozenClock
from ordertrail.models import Order
from ordertrail.order.numbering import check_pattern, next_numbers
from ordertrail.order.schemas import OrderCreate
from ordertrail.order.service import create_order
from tests.conftest import ctx_for, make_people, order_body, run_together

DEFAULT = Settings.model_fields["order_number_pattern"].default
SHANGHAI = "Asia/Shanghai"
# 17:00 UTC on 20 November is 01:00 on 21 November in Shanghai.
LATE_EVENING_UTC = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)


def numbers(db: Session, pattern: str = DEFAULT, at: datetime = LATE_EVENING_UTC,
            count: int = 1, tz: str = SHANGHAI) -> list[str]:
    return next_numbers(db, pattern, at, tz, count)


# Patterns ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", [
    DEFAULT,
    "{seq}",
    "INV-{seq:06d}",
    "{date:%y%m}/B2B-{seq:04d}",
    "ORD{seq:06d}-{date:%Y}",
    "订单{date:%Y%m%d}{seq:04d}",
])
def test_good_patterns(pattern):
    check_pattern(pattern)
    assert Settings(order_number_pattern=pattern).order_number_pattern == pattern


@pytest.mark.parametrize(("pattern", "says"), [
    ("SO{date:%Y%m%d}", "needs exactly one {seq} field"),
    ("SO-{seq}-{seq}", "needs exactly one {seq} field"),
    ("SO{user}-{seq}", "unknown fields ['user']"),
    ("SO{date.year}-{seq}", "unknown fields ['date.year']"),
    ("SO{}-{seq}", "unknown fields ['']"),
    ("SO{seq:%Y}", "cannot be rendered"),
    ("SO{seq:s}", "cannot be rendered"),
    ("X" * 60 + "{seq:08d}", "longer than 64 characters"),
])
def test_bad_patterns_are_refused(pattern, says):
    with pytest.raises(ValueError, match="order number pattern") as err:
        check_pattern(pattern)
    assert says in str(err.value)


def test_settings_refuse_a_bad_pattern_at_startup():
    with pytest.raises(ValidationError, match="needs exactly one"):
        Settings(order_number_pattern="SO{date:%Y%m%d}")


def test_settings_refuse_an_unknown_time_zone():
    with pytest.raises(ValidationError, match="unknown time zone 'Asia/Shangai'"):
        Settings(timezone="Asia/Shangai")


# Rendering and counters --------------------------------------------------------------------------


def test_default_pattern_uses_the_local_date(db):
    assert numbers(db) == ["SO20261121-00001"]


def test_forty_second_order_of_the_day(db):
    got = numbers(db, count=42)
    assert got[0] == "SO20261121-00001"
    assert got[-1] == "SO20261121-00042"
    assert got == [f"SO20261121-{n:05d}" for n in range(1, 43)]


def test_the_same_instant_in_utc_is_still_the_previous_day(db):
    assert numbers(db, tz="UTC") == ["SO20261120-00001"]
    assert numbers(db) == ["SO20261121-00001"]


def test_numbers_continue_across_calls(db):
    assert numbers(db, count=3)[-1] == "SO20261121-00003"
    assert numbers(db) == ["SO20261121-00004"]
    assert numbers(db, count=2) == ["SO20261121-00005", "SO20261121-00006"]


def test_counter_restarts_at_local_midnight(db):
    numbers(db, count=5)
    before_midnight = datetime(2026, 11, 21, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Shanghai
    assert numbers(db, at=before_midnight) == ["SO20261121-00006"]
    midnight = datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
    assert numbers(db, at=midnight) == ["SO20261122-00001"]
    # A late request stamped with the earlier day keeps that day's sequence.
    assert numbers(db, at=before_midnight - timedelta(hours=1)) == ["SO20261121-00007"]


def test_counters_are_per_prefix(db):
    assert numbers(db, "SO{seq:05d}") == ["SO00001"]
    assert numbers(db, "PO{seq:05d}") == ["PO00001"]
    assert numbers(db, "SO{seq:05d}") == ["SO00002"]
    assert numbers(db) == ["SO20261121-00001"]


def test_custom_pattern(db):
    pattern = "{date:%y%m}/B2B-{seq:04d}"
    assert numbers(db, pattern, count=2) == ["2611/B2B-0001", "2611/B2B-0002"]
    next_month = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    assert numbers(db, pattern, at=next_month) == ["2612/B2B-0001"]


def test_date_after_the_counter_still_separates_counters(db):
    pattern = "ORD{seq:06d}-{date:%Y}"
    assert numbers(db, pattern, count=2) == ["ORD000001-2026", "ORD000002-2026"]
    assert numbers(db, pattern, at=datetime(2027, 1, 1, 0, 0, tzinfo=UTC)) == ["ORD000001-2027"]


def test_counter_grows_past_its_padding(db):
    assert numbers(db, "T{seq:02d}", count=101)[-3:] == ["T99", "T100", "T101"]


def test_a_rolled_back_number_is_given_out_again(db):
    savepoint = db.begin_nested()
    assert numbers(db) == ["SO20261121-00001"]
    savepoint.rollback()
    assert numbers(db) == ["SO20261121-00001"]


# Concurrency on the real database -----------------------------------------------------------------

THREADS = 8
EACH = 25


@contextmanager
def plain_transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction begun the default way (no BEGIN IMMEDIATE on SQLite)."""
    with factory() as session, session.begin():
        yield session


@pytest.mark.parametrize("transaction", [write_session, plain_transaction],
                         ids=["write_session", "plain"])
def test_concurrent_creators_get_distinct_gap_free_numbers(committing, transaction):
    def creator(_i: int) -> list[str]:
        got = []
        for _ in range(EACH):
            with transaction(committing) as session:
                got.extend(next_numbers(session, DEFAULT, LATE_EVENING_UTC, SHANGHAI))
        return got

    per_thread = run_together(THREADS, creator)
    everything = [n for got in per_thread for n in got]
    assert len(everything) == THREADS * EACH
    assert sorted(everything) == [f"SO20261121-{n:05d}" for n in range(1, THREADS * EACH + 1)]
    for got in per_thread:
        assert got == sorted(got), "each creator sees its numbers increase"


def test_concurrent_batches_get_disjoint_consecutive_ranges(committing):
    def creator(_i: int) -> list[list[str]]:
        batches = []
        for _ in range(5):
            with write_session(committing) as session:
                batches.append(next_numbers(session, "B{seq:04d}", LATE_EVENING_UTC,
                                            SHANGHAI, count=7))
        return batches

    batches = [b for got in run_together(THREADS, creator) for b in got]
    for batch in batches:
        first = int(batch[0][1:])
        assert batch == [f"B{n:04d}" for n in range(first, first + 7)]
    everything = sorted(n for b in batches for n in b)
    assert everything == [f"B{n:04d}" for n in range(1, THREADS * 5 * 7 + 1)]


def test_concurrent_order_creation_numbers_every_order_once(committing):
    clock = FrozenClock(LATE_EVENING_UTC)
    make_people(committing, clock)
    settings = Settings()
    body = OrderCreate.model_validate(order_body("retail"))
    per_thread = 5

    def creator(_i: int) -> list[str]:
        got = []
        for _ in range(per_thread):
            with write_session(committing) as session:
                order = create_order(ctx_for(session, "alice", clock, settings), body)
                got.append(order.order_no)
        return got

    created = [n for got in run_together(THREADS, creator) for n in got]
    expected = [f"SO20261121-{n:05d}" for n in range(1, THREADS * per_thread + 1)]
    assert sorted(created) == expected
    with committing() as session:
        stored = session.scalars(select(Order.order_no).order_by(Order.order_no)).all()
        assert stored == expected
        assert session.scalar(select(func.count(func.distinct(Order.order_no)))) == len(expected)


def test_a_failed_order_does_not_use_up_a_number(committing: sessionmaker[Session]):
    clock = FrozenClock(LATE_EVENING_UTC)
    make_people(committing, clock)
    settings = Settings()
    body = OrderCreate.model_validate(order_body("retail"))
    with pytest.raises(RuntimeError), write_session(committing) as session:
        create_order(ctx_for(session, "alice", clock, settings), body)
        raise RuntimeError("the request failed after numbering the order")
    with write_session(committing) as session:
        order = create_order(ctx_for(session, "alice", clock, settings), body)
        assert order.order_no == "SO20261121-00001"

"""create_orders (the batch API) writes exactly what create_order writes, one by one.

Batches from COPY_MIN_ROWS rows go to PostgreSQL with COPY; the values must come back the
same as through INSERT (exact decimals, UTC times, JSON, NULLs).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ordertrail.config import Settings
from ordertrail.db import COPY_MIN_ROWS
from ordertrail.errors import Conflict
from ordertrail.kit.clock import FrozenClock
from ordertrail.models import Order, OrderLine, OutboxEvent, StageVisit, TimelineEntry
from ordertrail.order import service
from ordertrail.order.schemas import OrderCreate
from tests.conftest import ctx_for, order_body


def _bodies(count: int) -> list[OrderCreate]:
    bodies = []
    for i in range(count):
        body = order_body(
            lines=[{"sku": f"S{i}", "name": "Gear 40T", "qty": "2.5", "unit_price": "99.125"},
                   {"sku": "BOLT", "name": "螺栓 M8", "qty": 100, "unit_price": "0.35"}],
            shipping_fee="20", discount="1.10", tags=["bulk", f"t{i % 3}"],
            custom={"po": f"PO-{i}", "n": i}, channel=None if i % 2 else "shop",
            external_source="import", external_ref=f"EXT-{i}")
        if i % 4 == 0:
            body.pop("promised_at")
            body["customer"] = {"name": "只有名字"}
        bodies.append(OrderCreate.model_validate(body))
    return bodies


def _rows(db: Session, numbers: list[str]) -> list[Any]:
    orders = db.scalars(select(Order).where(Order.order_no.in_(numbers))
                        .order_by(Order.order_no)).all()
    out = []
    for o in orders:
        skip = {"id", "order_no", "external_ref", "_sa_instance_state"}
        out.append((
            {k: v for k, v in vars(o).items() if k not in skip},
            [(ln.line_no, ln.sku, ln.name, ln.qty, ln.unit_price, ln.amount)
             for ln in db.scalars(select(OrderLine).where(OrderLine.order_id == o.id)
                                  .order_by(OrderLine.line_no))],
            [(v.stage, v.entered_at, v.exited_at, v.responsible_role, v.sla_target,
              v.held_seconds) for v in db.scalars(select(StageVisit)
                                                 .where(StageVisit.order_id == o.id))],
            [(t.kind, t.at, t.actor, t.role, t.to_stage, t.note, t.source, t.data)
             for t in db.scalars(select(TimelineEntry).where(TimelineEntry.order_id == o.id))],
            [(e.name, {k: v for k, v in e.payload.items() if k != "order_no"}, e.created_at,
              e.processed_at) for e in db.scalars(select(OutboxEvent).where(
                  OutboxEvent.aggregate_id == o.order_no))],
        ))
    return out


def test_a_batch_writes_what_single_creates_write(db: Session, people, clock: FrozenClock,
                                                  settings: Settings):
    count = COPY_MIN_ROWS + 5
    ctx = ctx_for(db, "alice", clock, settings)
    batch = service.create_orders(ctx, _bodies(count))
    singles = []
    for body in _bodies(count):
        body = body.model_copy(update={"external_ref": f"ONE-{body.external_ref}"})
        singles.append(service.create_order(ctx, body).order_no)
    db.expunge_all()
    assert len(batch) == count
    assert _rows(db, batch) == _rows(db, singles)
    assert db.scalar(select(Order.total).where(Order.order_no == batch[0])) == \
        db.scalar(select(Order.total).where(Order.order_no == singles[0]))


def test_a_batch_refuses_external_references_that_exist(db: Session, people,
                                                        clock: FrozenClock, settings: Settings):
    ctx = ctx_for(db, "alice", clock, settings)
    first = service.create_order(ctx, _bodies(1)[0])  # import / EXT-0
    other_source = [b.model_copy(update={"external_source": "shop"}) for b in _bodies(3)]
    assert len(service.create_orders(ctx, other_source)) == 3  # same refs, another source
    with pytest.raises(Conflict) as refused:
        service.create_orders(ctx, _bodies(COPY_MIN_ROWS + 1)[1:] + _bodies(1))
    assert refused.value.code == "duplicate_external_ref"
    assert refused.value.extra["order_no"] == first.order_no
    twice = _bodies(2)[1:] * 2
    with pytest.raises(Conflict, match="appears twice"):
        service.create_orders(ctx, twice)

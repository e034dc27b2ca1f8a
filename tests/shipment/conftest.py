"""Helpers for shipment tests: an order ready to ship, shipments without an order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ordertrail.context import Ctx
from ordertrail.flow import planner
from ordertrail.kit.clock import FrozenClock
from ordertrail.models import Shipment
from ordertrail.order import service as orders
from ordertrail.order.schemas import OrderCreate
from tests.conftest import order_body


def packed_order(ctx_sales: Ctx, ctx_wh: Ctx, **body: object) -> str:
    """A retail order moved to `packed`, waiting for its parcel."""
    data = order_body("retail", **body)
    order = orders.create_order(ctx_sales, OrderCreate.model_validate(data))
    orders.act(ctx_sales, order.order_no, planner.Advance("picking"))
    orders.act(ctx_wh, order.order_no, planner.Advance("packed"))
    return order.order_no


def bare_shipment(session: Session, clock: FrozenClock, number: str, carrier: str = "sf",
                  provider: str = "generic", at: datetime | None = None) -> Shipment:
    """A shipment row without an order, for ingestion tests."""
    now = at or clock.now()
    s = Shipment(carrier=carrier, provider=provider, tracking_number=number, status="pending",
                 substatus="pending.registered", progress_rank=0, event_count=0,
                 check_failures=0, created_at=now, updated_at=now, registered_at=now, meta={})
    session.add(s)
    session.flush()
    return s

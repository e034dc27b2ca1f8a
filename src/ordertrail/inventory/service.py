"""Inventory services: the functions other domains and the HTTP/CLI layers call.

Services never commit; the caller's transaction does. The work is split by concern —
``catalog`` (products, warehouses, roles), ``ledger`` (movements and stock rows), ``needs``
(what an order needs), ``reservations`` (hold, wait, allocate, release, consume) and ``read``
(availability and states) — and this module is the agreed interface over them.
"""

from __future__ import annotations

from decimal import Decimal

from ordertrail.context import Ctx
from ordertrail.inventory.catalog import (
    create_product,
    create_warehouse,
    default_warehouse,
    get_product,
    list_products,
    list_warehouses,
    read_product,
    update_product,
)
from ordertrail.inventory.ledger import Movement, list_movements, list_stock, record
from ordertrail.inventory.merged import reserve_numbers, reserve_orders
from ordertrail.inventory.needs import Need, fully_reserved, needs_of_order, waiting_orders
from ordertrail.inventory.read import (
    Shortage,
    availability,
    reservations_read,
    shortages,
    waiting_of,
)
from ordertrail.inventory.reservations import (
    ReservationState,
    allocate_waiting,
    consume,
    receive_produced,
    release_order,
    reserve_order,
)
from ordertrail.inventory.schemas import MovementIn, MovementKind
from ordertrail.inventory.waits import refresh_expected

__all__ = [
    "Movement",
    "Need",
    "ReservationState",
    "Shortage",
    "availability",
    "consume",
    "create_product",
    "create_warehouse",
    "default_warehouse",
    "fully_reserved",
    "get_product",
    "list_movements",
    "list_products",
    "list_stock",
    "list_warehouses",
    "move",
    "needs_of_order",
    "read_product",
    "receive",
    "receive_produced",
    "refresh_expected",
    "release_order",
    "reservations_read",
    "reserve_numbers",
    "reserve_order",
    "reserve_orders",
    "shortages",
    "update_product",
    "waiting_of",
    "waiting_orders",
]


def move(ctx: Ctx, data: MovementIn) -> list[Movement]:
    """Write a movement (a transfer writes two legs); stock that becomes free is offered to
    the orders waiting for it."""
    moves = record(ctx, data)
    if any(m.qty > 0 for m in moves):
        allocate_waiting(ctx, [data.sku])
    return moves


def receive(ctx: Ctx, sku: str, warehouse: str, qty: Decimal, *, reason: str,
            ref_type: str | None = None, ref_id: str | None = None) -> Movement:
    """A receipt into ``warehouse``; then the stock goes to waiting orders (priority, then
    oldest), completing those it covers (and firing ``reservation.completed``)."""
    (m,) = move(ctx, MovementIn(kind=MovementKind.RECEIPT, sku=sku, warehouse=warehouse,
                                qty=Decimal(qty), reason=reason, ref_type=ref_type,
                                ref_id=ref_id))
    return m

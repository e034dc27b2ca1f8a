"""Waiting for stock: one wait row per short SKU, the expected date from procurement, and
the reason as people read it ("GEAR-40 short by 6 (expected 2026-12-03)")."""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ordertrail.context import Ctx
from ordertrail.i18n import Msg
from ordertrail.inventory import needs as needs_mod
from ordertrail.inventory.catalog import qty_text
from ordertrail.models.inventory import OrderStock, StockWait

STATE = OrderStock.__table__
WAITS = StockWait.__table__


def sync_waits(ctx: Ctx, order_id: int, shortfall: dict[str, Decimal],
                expected: dict[str, datetime], now: datetime, waited: bool) -> None:
    """One wait row per short SKU; a SKU keeps the time it started waiting."""
    s = ctx.session
    if waited:
        s.execute(delete(WAITS).where(WAITS.c.order_id == order_id,
                                      WAITS.c.sku.not_in(list(shortfall))))
    s.execute(upsert_waits(s.get_bind().dialect.name),
              [{"order_id": order_id, "sku": sku, "short_qty": q, "since_at": now,
                "expected_at": expected.get(sku), "updated_at": now}
               for sku, q in sorted(shortfall.items())])


@functools.cache
def upsert_waits(dialect: str) -> Any:
    """One wait row per (order, SKU); a SKU keeps the time it started waiting."""
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(WAITS)
    return stmt.on_conflict_do_update(
        index_elements=["order_id", "sku"],
        set_={"short_qty": stmt.excluded.short_qty, "expected_at": stmt.excluded.expected_at,
              "updated_at": stmt.excluded.updated_at})


def refresh_expected(ctx: Ctx, skus: list[str]) -> None:
    """Purchase orders' dates changed for ``skus``: each wait takes procurement's new expected
    date, and each waiting order its earliest one (the rule ``reserve_order`` applies)."""
    if not skus:
        return
    s = ctx.session
    expected = needs_mod.expected_receipts(s, skus)
    for sku in skus:
        s.execute(update(WAITS).where(WAITS.c.sku == sku)
                  .values(expected_at=expected.get(sku)))
    firsts: dict[int, datetime | None] = {}
    for order_id, at in s.execute(
            select(WAITS.c.order_id, WAITS.c.expected_at).where(WAITS.c.order_id.in_(
                select(WAITS.c.order_id).where(WAITS.c.sku.in_(skus))))):
        best = firsts.get(order_id)
        firsts[order_id] = at if best is None or (at is not None and at < best) else best
    for order_id, first in firsts.items():
        s.execute(update(STATE).where(STATE.c.order_id == order_id,
                                      STATE.c.state == "waiting").values(expected_at=first))


def waiting_reason(shortfall: dict[str, Decimal], expected: dict[str, datetime]) -> Msg:
    """"Waiting for stock: A short by 3 (expected 2026-12-01); B short by 1"."""
    parts = [sku_reason(sku, q, expected.get(sku)) for sku, q in sorted(shortfall.items())]
    return Msg("Waiting for stock: {parts}.", {"parts": parts})


def sku_reason(sku: str, short: Decimal, expected: datetime | None) -> Msg:
    if expected is None:
        return Msg("{sku} short by {qty} (no receipt expected yet)",
                   {"sku": sku, "qty": qty_text(short)})
    return Msg("{sku} short by {qty} (expected {date})",
               {"sku": sku, "qty": qty_text(short), "date": expected.date().isoformat()})

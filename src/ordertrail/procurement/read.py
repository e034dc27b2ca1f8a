"""Purchase orders as the API, the CLI and the supplier page show them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordertrail.models import Order, Shipment
from ordertrail.models.procurement import (
    PurchaseOrder,
    PurchaseOrderHistory,
    PurchaseOrderLine,
    PurchaseOrderOrder,
    Supplier,
)
from ordertrail.procurement.schemas import (
    HistoryRead,
    InboundRead,
    PoLineRead,
    PoList,
    PoRead,
    PoSummary,
    ServedOrder,
    SupplierRead,
    SupplierView,
)
from ordertrail.procurement.service import ZERO, due_of, lines_of


def supplier_read(row: Supplier) -> SupplierRead:
    return SupplierRead(code=row.code, name=row.name, contact=row.contact, email=row.email,
                        phone=row.phone, lead_time_days=row.lead_time_days, locale=row.locale)


def line_reads(lines: list[PurchaseOrderLine]) -> list[PoLineRead]:
    return [PoLineRead(line_no=ln.line_no, sku=ln.sku, qty=ln.qty, unit_price=ln.unit_price,
                       received_qty=ln.received_qty, open_qty=max(ln.qty - ln.received_qty,
                                                                  ZERO))
            for ln in lines]


def inbound_read(session: Session, shipment_id: int | None) -> InboundRead | None:
    row = session.get(Shipment, shipment_id) if shipment_id else None
    if row is None:
        return None
    return InboundRead(shipment_id=row.id, carrier=row.carrier,
                       tracking_number=row.tracking_number, status=row.status,
                       substatus=row.substatus, delivered_at=row.delivered_at)


def po_read(session: Session, po: PurchaseOrder) -> PoRead:
    supplier = session.get(Supplier, po.supplier_id)
    assert supplier is not None
    lines = lines_of(session, po.id)
    served = session.execute(
        select(Order.order_no, PurchaseOrderOrder.sku, PurchaseOrderOrder.short_qty)
        .join(Order, Order.id == PurchaseOrderOrder.order_id)
        .where(PurchaseOrderOrder.po_id == po.id)
        .order_by(Order.order_no, PurchaseOrderOrder.sku)).all()
    rows = session.scalars(select(PurchaseOrderHistory)
                           .where(PurchaseOrderHistory.po_id == po.id)
                           .order_by(PurchaseOrderHistory.at, PurchaseOrderHistory.id))
    return PoRead(
        po_no=po.po_no, supplier=supplier_read(supplier), warehouse=po.warehouse,
        status=po.status, currency=po.currency, expected_at=po.expected_at,
        confirmed_at=po.confirmed_at, due_at=due_of(po), note=po.note,
        total=sum((ln.qty * ln.unit_price for ln in lines), ZERO).quantize(ZERO.scaleb(-2)),
        receive_on_delivery=po.receive_on_delivery, lines=line_reads(lines),
        orders=[ServedOrder(order_no=no, sku=sku, short_qty=short)
                for no, sku, short in served],
        inbound=inbound_read(session, po.shipment_id),
        history=[HistoryRead(at=h.at, kind=h.kind, actor=h.actor, source=h.source,
                             old_date=h.old_date, new_date=h.new_date, note=h.note,
                             data=h.data) for h in rows],
        created_at=po.created_at, updated_at=po.updated_at)


def po_list(session: Session, pos: list[PurchaseOrder]) -> PoList:
    ids = [p.id for p in pos]
    stats: dict[int, list[Decimal]] = {}   # po id -> [line count, open qty]
    if ids:
        for po_id, qty, got in session.execute(
                select(PurchaseOrderLine.po_id, PurchaseOrderLine.qty,
                       PurchaseOrderLine.received_qty).where(PurchaseOrderLine.po_id.in_(ids))):
            row = stats.setdefault(po_id, [ZERO, ZERO])
            row[0] += 1
            row[1] += max(qty - got, ZERO)
    codes = {row.id: row.code for row in session.execute(select(Supplier.id, Supplier.code)
                                                           .where(Supplier.id.in_(
                                                               {p.supplier_id for p in pos})))}
    out = []
    for p in pos:
        count, open_qty = stats.get(p.id, [ZERO, ZERO])
        out.append(PoSummary(po_no=p.po_no, supplier=codes.get(p.supplier_id, "?"),
                             warehouse=p.warehouse, status=p.status, due_at=due_of(p),
                             lines=int(count), open_qty=open_qty,
                             shipment_id=p.shipment_id, created_at=p.created_at))
    return PoList(purchase_orders=out)


def supplier_view(session: Session, po: PurchaseOrder, expires_at: datetime) -> SupplierView:
    supplier = session.get(Supplier, po.supplier_id)
    assert supplier is not None
    return SupplierView(po_no=po.po_no, supplier=supplier.name, status=po.status,
                        expected_at=po.expected_at, confirmed_at=po.confirmed_at,
                        lines=line_reads(lines_of(session, po.id)),
                        inbound=inbound_read(session, po.shipment_id), expires_at=expires_at)

"""What a supplier does through the signed link (or its JSON twin): see the purchase order,
confirm the date, propose another, give the inbound parcel's number.

The token is checked first (``links.verify``: refused, logged, nothing read); the change
then runs as the supplier (actor = the supplier's name, source ``supplier``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.errors import Invalid, NotFound
from ordertrail.i18n import Msg
from ordertrail.models.procurement import PurchaseOrder, Supplier
from ordertrail.procurement import links, receiving, service
from ordertrail.procurement.service import logged


@dataclass(frozen=True)
class Access:
    """A verified link: which purchase order, until when."""

    po_id: int
    expires_at: datetime


def check(session: Session, settings: Settings, token: str, now: datetime,
          client: str | None) -> Access:
    """Verify a token (403 tampered, 410 expired; logged)."""
    po_id, expires_at = links.verify(session, settings, token, now, client)
    return Access(po_id, expires_at)


def load(ctx: Ctx, access: Access, *, for_update: bool = False,
         ) -> tuple[PurchaseOrder, Supplier, Ctx]:
    """The linked purchase order, its supplier, and a context acting as the supplier."""
    po = ctx.session.get(PurchaseOrder, access.po_id,
                         with_for_update=True if for_update else None)
    if po is None:
        raise NotFound(Msg("This purchase order no longer exists."),
                       code="unknown_purchase_order")
    supplier = ctx.session.get(Supplier, po.supplier_id)
    assert supplier is not None
    return po, supplier, service.as_supplier(ctx, supplier)


def confirm(ctx: Ctx, access: Access, note: str | None) -> PurchaseOrder:
    """The supplier confirms the current date."""
    po, _supplier, as_supplier = load(ctx, access, for_update=True)
    with logged(as_supplier, "supplier confirm", po.po_no):
        service.set_date(as_supplier, po, None, note)
    return po


def propose(ctx: Ctx, access: Access, when: date | datetime | None,
            note: str | None) -> PurchaseOrder:
    """The supplier promises another date (with an optional note)."""
    po, _supplier, as_supplier = load(ctx, access, for_update=True)
    with logged(as_supplier, "supplier date change", po.po_no):
        if when is None:
            raise Invalid(Msg("Give the new date."), code="date_required")
        moment = service.to_utc(when, ctx.settings)
        assert moment is not None
        if moment > ctx.clock.now() + timedelta(days=3 * 365):
            raise Invalid(Msg("{date} is too far ahead.", {"date": when}),
                          code="date_too_far")
        service.set_date(as_supplier, po, moment, note)
    return po


def tracking(ctx: Ctx, access: Access, carrier: str | None, number: str) -> PurchaseOrder:
    """The supplier gives the carrier and tracking number of the inbound parcel."""
    po, _supplier, as_supplier = load(ctx, access, for_update=True)
    with logged(as_supplier, "supplier tracking", po.po_no):
        receiving.set_tracking(as_supplier, po, carrier or None, number)
    return po

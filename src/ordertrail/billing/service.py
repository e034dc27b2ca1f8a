"""Billing rules: issue and void invoices, record payments and allocate them. Services never
commit; every change writes its timeline row and outbox event in the caller's transaction,
and fires the flow trigger it makes true (``invoice.issued``, ``payment.fully_paid``).

Rules (docs/billing.md):
- The invoices of an order that are not void never add up to more than its total.
- The payments of an order never add up to more than its total, and a payment aimed at an
  invoice never exceeds that invoice's open amount: over-payment is refused.
- A payment without an invoice pays the order's open invoices, oldest due first; what is left
  (a prepayment, common in B2B) stays unallocated and pays the next invoice issued.
- A payment's ``reference`` is unique per ``source``: the same one again (same order, same
  amount) changes nothing and returns the payment already recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, and_, insert
from sqlalchemy.orm import Session

from ordertrail.billing import repository as repo
from ordertrail.billing.parse import CENT, MAX_AMOUNT
from ordertrail.billing.terms import DEFAULT_TERMS, Terms, due_at, local_date, parse_terms
from ordertrail.context import Ctx
from ordertrail.errors import Conflict, Forbidden, Invalid, NotFound, OrdertrailError
from ordertrail.i18n import Msg
from ordertrail.jobs.outbox import emit
from ordertrail.kit.clock import ensure_utc
from ordertrail.models.alert import Alert
from ordertrail.models.billing import Invoice, InvoiceLine, Payment, PaymentAllocation
from ordertrail.ops import triggers

log = logging.getLogger("ordertrail.billing")

WRITE_ROLES = ("finance", "manager", "system")
METHODS = ("bank", "alipay", "wechat", "card", "cash", "other")
# Invoice numbers: like order numbers, one atomic counter per day (a setting later).
INVOICE_NUMBER_PATTERN = "INV{date:%Y%m%d}-{seq:04d}"
# A payment dated further ahead than this is a typo, not a payment.
FUTURE_SLACK = timedelta(days=1)
ZERO = repo.ZERO


def refused(ctx: Ctx, exc: OrdertrailError) -> OrdertrailError:
    """Log a refused attempt (who, what, why) and hand the error back to be raised."""
    log.warning("billing: refused %s for %s (%s): %s", exc.code, ctx.actor.name,
                ",".join(sorted(ctx.actor.roles)) or "-", exc.detail("en"))
    return exc


def require_writer(ctx: Ctx, what: Msg) -> None:
    """Invoices and payments are written by finance, managers, admins and the system."""
    actor = ctx.actor
    if actor.is_admin or actor.roles & set(WRITE_ROLES):
        return
    raise refused(ctx, Forbidden(Msg("Your role may not {what}: that needs finance, manager "
                                     "or admin, and you have {yours}.",
                                     {"what": what, "yours": sorted(actor.roles)}),
                                 code="role_not_allowed"))


def check_amount(ctx: Ctx, value: Decimal, field: str) -> Decimal:
    """A positive amount with at most two decimals."""
    if not value.is_finite() or value <= 0:
        raise refused(ctx, Invalid(Msg("{field}: the amount must be more than zero, not "
                                       "{amount}.", {"field": field, "amount": value}),
                                   code="bad_amount", field=field))
    if value > MAX_AMOUNT or value != value.quantize(CENT):
        raise refused(ctx, Invalid(Msg("{field}: {amount} is not an amount of money (at most "
                                       "two decimals).", {"field": field, "amount": value}),
                                   code="bad_amount", field=field))
    return value.quantize(CENT)


def load_order(ctx: Ctx, order_no: str, *, lock: bool = True) -> Row[Any]:
    """The order's billing facts (locked for the change by default), or NotFound."""
    order = repo.order_row(ctx.session, order_no=order_no, lock=lock)
    if order is None:
        raise refused(ctx, NotFound(Msg("No order {order_no}.", {"order_no": order_no}),
                                    code="unknown_order"))
    return order


def get_invoice(ctx: Ctx, number: str, *, lock: bool = False) -> Invoice:
    invoice = repo.invoice_by_number(ctx.session, number, lock=lock)
    if invoice is None:
        raise refused(ctx, NotFound(Msg("No invoice {number}.", {"number": number}),
                                    code="unknown_invoice"))
    return invoice


# Invoices ---------------------------------------------------------------------------------


@dataclass
class LineRequest:
    line_no: int
    qty: Decimal | None = None
    amount: Decimal | None = None


def terms_of(ctx: Ctx, order: Row[Any], given: str | None) -> Terms:
    """The given terms, else the order's custom field ``payment_terms``, else net 30."""
    text, field = (given, "terms") if given else (
        (order.custom or {}).get("payment_terms") or DEFAULT_TERMS, "custom.payment_terms")
    try:
        return parse_terms(str(text))
    except ValueError as exc:
        raise refused(ctx, Invalid(Msg("{field}: {problem}", {"field": field,
                                                              "problem": str(exc)}),
                                   code="bad_terms", field=field)) from None


def _invoice_lines(ctx: Ctx, order: Row[Any], wanted: list[LineRequest],
                   ) -> list[dict[str, Any]]:
    lines = repo.order_lines(ctx.session, order.id)
    done = repo.invoiced_qty(ctx.session, order.id)
    out = []
    for n, req in enumerate(wanted, start=1):
        line = lines.get(req.line_no)
        if line is None:
            raise refused(ctx, Invalid(Msg("lines[{n}]: order {order_no} has no line {line}.",
                                           {"n": n, "order_no": order.order_no,
                                            "line": req.line_no}),
                                       code="unknown_line", field="lines"))
        left = line.qty - done.get(line.id, Decimal(0))
        qty = left if req.qty is None else req.qty
        if qty <= 0 or qty > left:
            raise refused(ctx, Invalid(Msg("lines[{n}]: line {line} ({sku}) has {left} not "
                                           "invoiced yet; {qty} cannot be invoiced.",
                                           {"n": n, "line": req.line_no, "sku": line.sku,
                                            "left": left, "qty": qty}),
                                       code="line_qty", field="lines"))
        amount = ((qty * line.unit_price).quantize(CENT) if req.amount is None
                  else check_amount(ctx, req.amount, f"lines[{n}].amount"))
        out.append({"line_no": n, "order_line_id": line.id,
                    "description": f"{line.sku} {line.name}"[:200], "qty": qty,
                    "amount": amount})
    return out


def issue_invoice(ctx: Ctx, order_no: str, *, amount: Decimal | None = None,
                  lines: list[LineRequest] | None = None, terms: str | None = None,
                  note: str | None = None) -> Invoice:
    """Invoice (part of) an order; without amount or lines, everything not invoiced yet."""
    require_writer(ctx, Msg("issue invoices"))
    order = load_order(ctx, order_no)
    if order.status == "cancelled":
        raise refused(ctx, Conflict(Msg("Order {order_no} is cancelled; it cannot be "
                                        "invoiced.", {"order_no": order_no}),
                                    code="order_cancelled"))
    plan = terms_of(ctx, order, terms)
    invoiced = repo.invoiced_total(ctx.session, order.id)
    rows = _invoice_lines(ctx, order, lines) if lines else []
    if rows:
        total = sum((r["amount"] for r in rows), ZERO)
        if amount is not None and check_amount(ctx, amount, "amount") != total:
            raise refused(ctx, Invalid(Msg("amount: {amount} is not the sum of the lines "
                                           "({lines}).", {"amount": amount, "lines": total}),
                                       code="amount_mismatch", field="amount"))
        amount = total
    elif amount is None:
        amount = order.total - invoiced
        if amount <= 0:
            raise refused(ctx, Conflict(Msg("Order {order_no} is fully invoiced ({invoiced} "
                                            "{currency}).", {"order_no": order_no,
                                                             "invoiced": invoiced,
                                                             "currency": order.currency}),
                                        code="fully_invoiced"))
    amount = check_amount(ctx, amount, "amount")
    if invoiced + amount > order.total:
        raise refused(ctx, Invalid(Msg(
            "An invoice of {amount} {currency} would bring the invoices of order {order_no} "
            "to {after}, above its total {total} ({invoiced} is invoiced already).",
            {"amount": amount, "currency": order.currency, "order_no": order_no,
             "after": invoiced + amount, "total": order.total, "invoiced": invoiced}),
            code="invoice_above_total", field="amount", total=str(order.total),
            invoiced=str(invoiced), requested=str(amount)))
    return _write_invoice(ctx, order, amount, rows, plan, note)


def _write_invoice(ctx: Ctx, order: Row[Any], amount: Decimal, rows: list[dict[str, Any]],
                   plan: Terms, note: str | None) -> Invoice:
    from ordertrail.order.numbering import next_numbers

    session, now, tz = ctx.session, ctx.clock.now(), ctx.settings.timezone
    number = next_numbers(session, INVOICE_NUMBER_PATTERN, now, tz)[0]
    invoice = Invoice(number=number, order_id=order.id, currency=order.currency, amount=amount,
                      paid_amount=ZERO, status="open", terms=plan.text, issued_at=now,
                      due_at=due_at(plan, now, tz), paid_at=None, voided_at=None,
                      void_reason=None, note=note, overdue_alert_state="pending",
                      created_by=ctx.actor.user_id, created_by_name=ctx.actor.name)
    session.add(invoice)
    session.flush()
    if rows:
        session.execute(insert(InvoiceLine.__table__),
                        [{**r, "invoice_id": invoice.id} for r in rows])
    # Prepayments waiting for an invoice pay it now.
    credit = []
    for payment in repo.unallocated_payments(session, order.id):
        if invoice.paid_amount >= invoice.amount:
            break
        credit.append(_allocate(ctx, payment, invoice,
                                min(payment.unallocated, invoice.amount - invoice.paid_amount)))
    due = local_date(invoice.due_at, tz)
    triggers.timeline(ctx, order.id, "invoice_issued",
                      f"Invoice {number} issued: {amount} {order.currency}, due {due} "
                      f"({plan.text})", {
        "invoice": number, "amount": str(amount), "currency": order.currency,
        "terms": plan.text, "due_at": invoice.due_at.isoformat(),
        "prepaid": str(sum(credit, ZERO))})
    emit(session, "invoice.issued", "invoice", number, {
        "invoice": number, "order_no": order.order_no, "amount": str(amount),
        "currency": order.currency, "terms": plan.text, "due_at": invoice.due_at.isoformat(),
        "paid_amount": str(invoice.paid_amount), "status": invoice.status,
        "actor": ctx.actor.name, "at": now.isoformat()}, now)
    session.flush()
    triggers.fire_if_waiting(ctx, order.id, "invoice.issued", f"invoice {number}")
    return invoice


def void_invoice(ctx: Ctx, number: str, reason: str | None = None) -> Invoice:
    """Void an invoice nothing has been paid on."""
    require_writer(ctx, Msg("void invoices"))
    invoice = get_invoice(ctx, number)
    order = repo.order_row(ctx.session, order_id=invoice.order_id, lock=True)
    assert order is not None
    ctx.session.refresh(invoice)  # as it stands under the order's lock
    if invoice.status == "void":
        raise refused(ctx, Conflict(Msg("Invoice {number} is void already.",
                                        {"number": number}), code="invoice_void"))
    if invoice.paid_amount > 0:
        raise refused(ctx, Conflict(Msg("Invoice {number} has {paid} {currency} paid on it; "
                                        "only unpaid invoices can be voided.",
                                        {"number": number, "paid": invoice.paid_amount,
                                         "currency": invoice.currency}),
                                    code="invoice_paid"))
    now = ctx.clock.now()
    invoice.status, invoice.voided_at, invoice.void_reason = "void", now, reason
    invoice.overdue_alert_state = None
    ctx.session.flush()
    _resolve_overdue(ctx, invoice, "invoice voided")
    triggers.timeline(ctx, order.id, "invoice_voided",
                      f"Invoice {number} voided ({invoice.amount} {invoice.currency})"
                      + (f": {reason}" if reason else ""), {
        "invoice": number, "amount": str(invoice.amount), "reason": reason})
    emit(ctx.session, "invoice.voided", "invoice", number, {
        "invoice": number, "order_no": order.order_no, "amount": str(invoice.amount),
        "currency": invoice.currency, "reason": reason, "actor": ctx.actor.name,
        "at": now.isoformat()}, now)
    return invoice


# Payments ---------------------------------------------------------------------------------


@dataclass
class PaymentRequest:
    amount: Decimal
    order_no: str | None = None
    invoice_no: str | None = None
    currency: str | None = None
    received_at: datetime | None = None
    method: str = "bank"
    reference: str | None = None
    source: str | None = None
    payer: str | None = None
    note: str | None = None


def _allocate(ctx: Ctx, payment: Payment, invoice: Invoice, amount: Decimal) -> Decimal:
    """Apply ``amount`` of a payment to an invoice; settle the invoice when it is paid."""
    now = ctx.clock.now()
    ctx.session.execute(insert(PaymentAllocation.__table__), [{
        "payment_id": payment.id, "invoice_id": invoice.id, "amount": amount,
        "at": max(payment.received_at, invoice.issued_at)}])
    payment.unallocated -= amount
    invoice.paid_amount += amount
    if invoice.paid_amount >= invoice.amount:
        invoice.status, invoice.paid_at, invoice.overdue_alert_state = "paid", now, None
        ctx.session.flush()
        _resolve_overdue(ctx, invoice, "invoice paid")
    else:
        invoice.status = "partially_paid"
    return amount


def _resolve_overdue(ctx: Ctx, invoice: Invoice, reason: str) -> None:
    from ordertrail.sla import alerts

    alerts.auto_resolve(ctx.session, ctx.clock.now(),
                        and_(Alert.__table__.c.cause == overdue_cause(invoice.id)), reason)


def overdue_cause(invoice_id: int) -> str:
    return f"payment_overdue:invoice:{invoice_id}"


def _source(ctx: Ctx, req: PaymentRequest) -> str:
    source = (req.source or req.method).strip().lower()
    if not source or len(source) > 32:
        raise refused(ctx, Invalid(Msg("source: give 1 to 32 characters, e.g. bank or cmb."),
                                   code="bad_source", field="source"))
    return source


def record_payment(ctx: Ctx, req: PaymentRequest, *, import_id: int | None = None,
                   source_kind: str | None = None) -> tuple[Payment, bool]:
    """Record a payment and allocate it; (payment, False) when its reference was already
    recorded from this source with the same order and amount (nothing changes)."""
    require_writer(ctx, Msg("record payments"))
    session, now = ctx.session, ctx.clock.now()
    if req.method not in METHODS:
        raise refused(ctx, Invalid(Msg("method: {method} is not one of {methods}.",
                                       {"method": req.method, "methods": list(METHODS)}),
                                   code="bad_method", field="method"))
    amount = check_amount(ctx, req.amount, "amount")
    source = _source(ctx, req)
    reference = (req.reference or "").strip() or None
    invoice = get_invoice(ctx, req.invoice_no) if req.invoice_no else None
    if invoice is not None:
        order = repo.order_row(session, order_id=invoice.order_id, lock=True)
        assert order is not None
        if req.order_no and req.order_no != order.order_no:
            raise refused(ctx, Invalid(Msg("Invoice {number} belongs to order {order_no}, not "
                                           "{given}.", {"number": invoice.number,
                                                        "order_no": order.order_no,
                                                        "given": req.order_no}),
                                       code="invoice_of_other_order", field="order_no"))
        session.refresh(invoice)
    elif req.order_no:
        order = load_order(ctx, req.order_no)
    else:
        raise refused(ctx, Invalid(Msg("Give the order number or the invoice number the "
                                       "payment is for."), code="no_order", field="order_no"))
    currency = (req.currency or order.currency).strip().upper()
    if currency != order.currency:
        raise refused(ctx, Invalid(Msg("currency: order {order_no} is in {expected}; a "
                                       "payment in {currency} cannot be recorded against it.",
                                       {"order_no": order.order_no,
                                        "expected": order.currency, "currency": currency}),
                                   code="wrong_currency", field="currency"))
    received = ensure_utc(req.received_at) if req.received_at else now
    if received > now + FUTURE_SLACK:
        raise refused(ctx, Invalid(Msg("received_at: {at} is in the future.",
                                       {"at": received.isoformat()}),
                                   code="future_payment", field="received_at"))
    if reference is not None:
        existing = repo.payment_by_reference(session, source, reference)
        if existing is not None:
            if existing.order_id == order.id and existing.amount == amount:
                return existing, False
            raise refused(ctx, Conflict(Msg(
                "Reference {reference} from {source} is already recorded as payment {id} "
                "({amount} {currency}) for another order or amount.",
                {"reference": reference, "source": source, "id": existing.id,
                 "amount": existing.amount, "currency": existing.currency}),
                code="duplicate_reference", payment_id=existing.id))
    if order.status == "cancelled":
        raise refused(ctx, Conflict(Msg("Order {order_no} is cancelled; payments for it "
                                        "cannot be recorded.", {"order_no": order.order_no}),
                                    code="order_cancelled"))
    paid = repo.paid_total(session, order.id)
    owed = order.total - paid
    if amount > owed:
        raise refused(ctx, Invalid(Msg(
            "A payment of {amount} {currency} is more than order {order_no} still owes: "
            "{owed} of {total} ({paid} is paid already).",
            {"amount": amount, "currency": currency, "order_no": order.order_no,
             "owed": owed, "total": order.total, "paid": paid}),
            code="over_payment", field="amount", owed=str(owed), requested=str(amount)))
    if invoice is not None:
        if invoice.status == "void":
            raise refused(ctx, Conflict(Msg("Invoice {number} is void; it cannot be paid.",
                                            {"number": invoice.number}), code="invoice_void"))
        left = invoice.amount - invoice.paid_amount
        if amount > left:
            raise refused(ctx, Invalid(Msg(
                "A payment of {amount} {currency} is more than the {open} still open on "
                "invoice {number}.", {"amount": amount, "currency": currency, "open": left,
                                      "number": invoice.number}),
                code="over_payment", field="amount", owed=str(left), requested=str(amount)))
    payment = Payment(order_id=order.id, amount=amount, currency=currency, unallocated=amount,
                      received_at=received, method=req.method, source=source,
                      reference=reference, payer=(req.payer or "").strip()[:200] or None,
                      note=req.note, import_id=import_id, created_at=now,
                      created_by=ctx.actor.user_id, created_by_name=ctx.actor.name)
    session.add(payment)
    session.flush()
    allocations: list[dict[str, str]] = []
    targets = [invoice] if invoice is not None else repo.open_invoices(session, order.id)
    for inv in targets:
        if payment.unallocated <= 0:
            break
        part = _allocate(ctx, payment, inv, min(payment.unallocated,
                                                inv.amount - inv.paid_amount))
        allocations.append({"invoice": inv.number, "amount": str(part)})
    session.flush()
    paid_now = paid + amount
    _announce_payment(ctx, order, payment, allocations, paid_now, source_kind)
    if paid < order.total <= paid_now:
        emit(session, "payment.fully_paid", "order", order.order_no, {
            "order_no": order.order_no, "total": str(order.total), "paid": str(paid_now),
            "currency": currency, "payment_id": payment.id, "at": now.isoformat()}, now)
        triggers.fire_if_waiting(ctx, order.id, "payment.fully_paid",
                                 f"fully paid: {paid_now} {currency}")
    return payment, True


def _announce_payment(ctx: Ctx, order: Row[Any], payment: Payment,
                      allocations: list[dict[str, str]], paid: Decimal,
                      source_kind: str | None) -> None:
    now = ctx.clock.now()
    ref = f", ref {payment.reference}" if payment.reference else ""
    who = f" from {payment.payer}" if payment.payer else ""
    note = (f"Payment {payment.amount} {payment.currency} received ({payment.method}{ref})"
            f"{who}; paid {paid} of {order.total}")
    data = {"payment_id": payment.id, "amount": str(payment.amount),
            "currency": payment.currency, "method": payment.method, "source": payment.source,
            "reference": payment.reference, "payer": payment.payer,
            "received_at": payment.received_at.isoformat(), "allocations": allocations,
            "unallocated": str(payment.unallocated), "paid": str(paid),
            "outstanding": str(order.total - paid)}
    triggers.timeline(ctx, order.id, "payment_received", note, data,
                      source=source_kind)
    emit(ctx.session, "payment.received", "order", order.order_no,
         {**data, "order_no": order.order_no, "actor": ctx.actor.name,
          "at": now.isoformat()}, now)


# State checks (flow triggers) -----------------------------------------------------------


def fully_paid(session: Session, order_id: int) -> bool:
    """Payments add up to the order's total (the check behind ``payment.fully_paid``)."""
    order = repo.order_row(session, order_id=order_id)
    return order is not None and repo.paid_total(session, order_id) >= order.total


def has_invoice(session: Session, order_id: int) -> bool:
    """The order has an invoice that is not void (the check behind ``invoice.issued``)."""
    return repo.has_live_invoice(session, order_id)


def not_invoiced(session: Session, order_id: int) -> Decimal:
    """The part of the order's total no live invoice covers yet."""
    order = repo.order_row(session, order_id=order_id)
    if order is None:
        return ZERO
    return max(order.total - repo.invoiced_total(session, order_id), ZERO)

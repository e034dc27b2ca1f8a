"""HTTP API: invoices, payments, payment imports, an order's billing, receivable aging.

Reads are open to every role; writes need finance, manager or admin.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from ordertrail.api.deps import Reader, Writer, lang, reader, writer
from ordertrail.billing import aging, imports, read, service
from ordertrail.billing.schemas import (
    AgingReport,
    BillingSummary,
    ImportReport,
    InvoiceCreate,
    InvoicePage,
    InvoiceRead,
    InvoiceStatus,
    InvoiceVoid,
    Method,
    PaymentCreate,
    PaymentPage,
    PaymentRead,
)
from ordertrail.context import Ctx
from ordertrail.errors import Invalid
from ordertrail.i18n import Msg

router = APIRouter(prefix="/api/v1", tags=["billing"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or unknown API key"},
    403: {"description": "Your role may not do this (writes need finance, manager or admin)"},
    404: {"description": "Unknown order or invoice"},
    409: {"description": "Not possible in the current state: invoice void or paid, order "
                         "cancelled or fully invoiced, reference recorded for another "
                         "payment"},
    422: {"description": "Invalid amount, currency, terms or file; over-payment; invoice "
                         "above the order total (the amounts are named)"},
}
Number = Annotated[str, Path(max_length=64)]
OrderNo = Annotated[str | None, Query(max_length=64)]
_CSV_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}, "example":
                 "date,amount,reference,order_no,payer\n"
                 "2026-11-22,\"1,234.50\",CMB0001,SO20261122-00001,深圳某某公司\n"},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}, "required": ["file"]}}}}}


@router.get("/invoices", response_model=InvoicePage, responses=PROBLEMS)
async def list_invoices(
    r: Reader = Depends(reader),
    order_no: OrderNo = None,
    status: InvoiceStatus | None = None,
    overdue: Annotated[bool, Query(description="only unpaid invoices past due")] = False,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Invoices, newest first."""
    return await r.run(lambda ctx: read.invoice_page(ctx, order_no=order_no, status=status,
                                                     overdue=overdue, cursor=cursor,
                                                     limit=limit))


@router.post("/invoices", status_code=201, response_model=InvoiceRead, responses=PROBLEMS)
async def issue_invoice(body: InvoiceCreate, w: Writer = Depends(writer)) -> Response:
    """Issue an invoice for an order: an amount, some lines, or (neither) all not invoiced
    yet. Refused (422) if the order's invoices would exceed its total."""

    def run(ctx: Ctx) -> InvoiceRead:
        lines = ([service.LineRequest(ln.line_no, ln.qty, ln.amount) for ln in body.lines]
                 if body.lines else None)
        return read.invoice_read(ctx, service.issue_invoice(
            ctx, body.order_no, amount=body.amount, lines=lines, terms=body.terms,
            note=body.note))

    return await w.arun(run, status_code=201)


@router.get("/invoices/{number}", response_model=InvoiceRead, responses=PROBLEMS)
async def get_invoice(number: Number, r: Reader = Depends(reader)) -> Response:
    """One invoice with its lines and the payments allocated to it."""
    return await r.run(lambda ctx: read.invoice_read(ctx, service.get_invoice(ctx, number)))


@router.post("/invoices/{number}/void", response_model=InvoiceRead, responses=PROBLEMS)
async def void_invoice(number: Number, body: InvoiceVoid | None = None,
                       w: Writer = Depends(writer)) -> Response:
    """Void an invoice nothing has been paid on."""
    reason = body.reason if body else None
    return await w.arun(lambda ctx: read.invoice_read(ctx, service.void_invoice(ctx, number,
                                                                                reason)))


@router.get("/payments", response_model=PaymentPage, responses=PROBLEMS)
async def list_payments(
    r: Reader = Depends(reader),
    order_no: OrderNo = None,
    reference: Annotated[str | None, Query(max_length=128)] = None,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Payments, newest recorded first."""
    return await r.run(lambda ctx: read.payment_page(ctx, order_no=order_no,
                                                     reference=reference, cursor=cursor,
                                                     limit=limit))


@router.post("/payments", status_code=201, response_model=PaymentRead, responses=PROBLEMS)
async def record_payment(body: PaymentCreate, w: Writer = Depends(writer)) -> Response:
    """Record a payment. Its reference is unique per source: sending the same payment again
    changes nothing and answers the payment recorded first (``duplicate: true``)."""

    def run(ctx: Ctx) -> PaymentRead:
        payment, created = service.record_payment(ctx, service.PaymentRequest(
            amount=body.amount, order_no=body.order_no, invoice_no=body.invoice_no,
            currency=body.currency, received_at=body.received_at, method=body.method,
            reference=body.reference, source=body.source, payer=body.payer, note=body.note))
        return read.payment_read(ctx, payment, duplicate=not created)

    return await w.arun(run, status_code=201)


async def csv_of(request: Request) -> tuple[bytes, str | None]:
    """The CSV bytes of a text/csv body or of a multipart form's ``file`` part (parsed by
    Starlette with python-multipart)."""
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/"):
        return await request.body(), None
    try:
        form = await request.form()
    except Exception as exc:  # noqa: BLE001 - a malformed form is the client's problem
        raise Invalid(Msg("The multipart form could not be read: {error}",
                          {"error": str(exc)}), code="bad_form") from None
    part = form.get("file")
    if part is None or isinstance(part, str):
        raise Invalid(Msg("The multipart form has no part named file."), code="no_file")
    return await part.read(), part.filename


@router.post("/payments/import", response_model=ImportReport, responses={
    **PROBLEMS, 413: {"description": "The file is larger than 5 MB"}},
    openapi_extra=_CSV_BODY)
async def import_payments(
    request: Request,
    w: Writer = Depends(writer),
    language: str = Depends(lang),
    dry_run: Annotated[bool, Query(description="report what would happen, change "
                                               "nothing")] = False,
    source: Annotated[str | None, Query(max_length=32, description=(
        "where the references come from (e.g. cmb, alipay); default: the method"))] = None,
    method: Annotated[Method | None, Query(description="default: alipay or wechat when the "
                                                       "export says so, else bank")] = None,
) -> Response:
    """Import payments from a bank or payment-gateway CSV export (body ``text/csv`` or a
    multipart ``file``). Good rows are applied together; bad rows are reported with their
    line number and reason; rows already imported are duplicates and change nothing."""
    data, filename = await csv_of(request)
    return await w.arun(lambda ctx: imports.import_payments(
        ctx, data, dry_run=dry_run, source=source, method=method, filename=filename,
        lang=language))


@router.get("/orders/{order_no}/billing", response_model=BillingSummary, responses=PROBLEMS)
async def order_billing(order_no: Number, r: Reader = Depends(reader)) -> Response:
    """An order's total, invoiced, paid and outstanding amounts, invoices and payments."""
    return await r.run(lambda ctx: read.summary(ctx, order_no))


@router.get("/receivables/aging", response_model=AgingReport, responses=PROBLEMS)
async def receivables_aging(
    r: Reader = Depends(reader),
    as_of: Annotated[date | None, Query(description="the day (local time zone); default: "
                                                    "today")] = None,
) -> Response:
    """Open receivables per customer and in total, by days past due: current, 1–30, 31–60,
    61–90, over 90."""
    return await r.run(lambda ctx: aging.aging(ctx, as_of))

"""CLI: `ordertrail billing …`: invoices, payments, CSV imports, aging, an order's summary.

Writes act as ``--as USER`` (a finance, manager or admin user), or without it as the command
line's own administrator ("cli"). Errors are one line on stderr and exit 1.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from ordertrail.config import Settings

app = typer.Typer(help="Billing: invoices, payments, imports, aging.", no_args_is_help=True)
invoice_app = typer.Typer(help="Invoices: issue, list, show, void.", no_args_is_help=True)
app.add_typer(invoice_app, name="invoice")
log = logging.getLogger("ordertrail.billing")

AsUser = Annotated[str | None, typer.Option(
    "--user", "--as", help="acting user (default: the CLI as admin)")]
JsonOut = Annotated[bool, typer.Option("--json", help="print JSON")]


def _base() -> Any:
    from ordertrail import cli  # the root CLI owns sessions and error handling

    return cli


def _ctx(session: Session, settings: Settings, user: str | None) -> Any:
    return _base()._ctx(session, settings, user)


def _amount(text: str | None, option: str) -> Decimal | None:
    from ordertrail.billing.parse import parse_amount

    if text is None:
        return None
    try:
        return parse_amount(text)
    except ValueError as exc:
        log.warning("billing: refused command line input %s: %s", option, exc)
        raise ValueError(f"{option}: {exc}") from None


def _line(text: str) -> Any:
    from ordertrail.billing.service import LineRequest

    no, _, qty = text.partition(":")
    try:
        return LineRequest(int(no), Decimal(qty) if qty else None)
    except (ValueError, ArithmeticError):
        raise ValueError(f"--line {text!r}: write LINE_NO or LINE_NO:QTY, e.g. 1:2") from None


def _show_invoice(inv: Any) -> None:
    flag = f"  OVERDUE {inv.days_overdue}d" if inv.overdue else ""
    typer.echo(f"{inv.number:<18} {inv.order_no:<18} {inv.status:<15} {inv.amount:>12} "
               f"{inv.currency}  open {inv.open_amount:>12}  due {inv.due_date} "
               f"({inv.terms}){flag}")


@invoice_app.command("issue")
def invoice_issue(
    order_no: Annotated[str, typer.Argument(metavar="ORDER_NO")],
    amount: Annotated[str | None, typer.Option(help="default: all not invoiced yet")] = None,
    line: Annotated[list[str] | None, typer.Option(help="LINE_NO[:QTY]; repeat")] = None,
    terms: Annotated[str | None, typer.Option(help="net 30, EOM 30, due on receipt, 月结60天 "
                                                   "…")] = None,
    note: Annotated[str | None, typer.Option()] = None,
    user: AsUser = None,
    json_out: JsonOut = False,
) -> None:
    """Issue an invoice for an order."""
    from ordertrail.billing import read, service

    base = _base()
    with base.friendly_errors():
        value = _amount(amount, "--amount")
        lines = [_line(item) for item in line] if line else None

    def run(session: Session, settings: Settings) -> None:
        ctx = _ctx(session, settings, user)
        inv = read.invoice_read(ctx, service.issue_invoice(ctx, order_no, amount=value,
                                                           lines=lines, terms=terms,
                                                           note=note))
        if json_out:
            base._print_json(inv.model_dump(mode="json"))
            return
        typer.echo(f"issued {inv.number} for {inv.order_no}: {inv.amount} {inv.currency}, "
                   f"due {inv.due_date} ({inv.terms}), {inv.status}")

    base.with_session(run)


@invoice_app.command("list")
def invoice_list(
    order: Annotated[str | None, typer.Option(help="order number")] = None,
    status: Annotated[str | None, typer.Option(help="open, partially_paid, paid, void")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="only unpaid past due")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    json_out: JsonOut = False,
) -> None:
    """Invoices, newest first."""
    from ordertrail.billing import read

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        page = read.invoice_page(_ctx(session, settings, None), order_no=order, status=status,
                                 overdue=overdue, limit=limit)
        if json_out:
            base._print_json([i.model_dump(mode="json") for i in page.items])
            return
        for inv in page.items:
            _show_invoice(inv)
        if not page.items:
            typer.echo("no invoices")

    base.with_session(run)


@invoice_app.command("show")
def invoice_show(number: Annotated[str, typer.Argument(metavar="NUMBER")],
                 json_out: JsonOut = False) -> None:
    """One invoice, its lines and the payments allocated to it."""
    from ordertrail.billing import read, service

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        ctx = _ctx(session, settings, None)
        inv = read.invoice_read(ctx, service.get_invoice(ctx, number))
        if json_out:
            base._print_json(inv.model_dump(mode="json"))
            return
        _show_invoice(inv)
        typer.echo(f"  customer {inv.customer}  issued {inv.issued_at:%Y-%m-%d %H:%M}Z by "
                   f"{inv.issued_by}  paid {inv.paid_amount}")
        for ln in inv.lines:
            typer.echo(f"  line {ln.line_no}: {ln.description}  x{ln.qty}  {ln.amount}")
        for a in inv.allocations:
            typer.echo(f"  payment {a.payment_id}: {a.amount} ({a.at:%Y-%m-%d})")
        if inv.void_reason:
            typer.echo(f"  void: {inv.void_reason}")

    base.with_session(run)


@invoice_app.command("void")
def invoice_void(number: Annotated[str, typer.Argument(metavar="NUMBER")],
                 reason: Annotated[str | None, typer.Option()] = None,
                 user: AsUser = None) -> None:
    """Void an unpaid invoice."""
    from ordertrail.billing import service

    def run(session: Session, settings: Settings) -> None:
        inv = service.void_invoice(_ctx(session, settings, user), number, reason)
        typer.echo(f"{inv.number} is void")

    _base().with_session(run)


@app.command("pay")
def pay(
    order_no: Annotated[str | None, typer.Argument(metavar="[ORDER_NO]",
                                                   help="or give --invoice")] = None,
    amount: Annotated[str, typer.Option(help="e.g. 1234.50 or ¥1,234.50")] = "",
    invoice: Annotated[str | None, typer.Option(help="pay this invoice only")] = None,
    method: Annotated[str, typer.Option(help="bank, alipay, wechat, card, cash, other")]
    = "bank",
    reference: Annotated[str | None, typer.Option(help="bank or gateway transaction id")]
    = None,
    source: Annotated[str | None, typer.Option(help="where the reference comes from; "
                                                    "default: the method")] = None,
    payer: Annotated[str | None, typer.Option()] = None,
    currency: Annotated[str | None, typer.Option()] = None,
    received_at: Annotated[str | None, typer.Option(help="date or ISO time; default: now")]
    = None,
    note: Annotated[str | None, typer.Option()] = None,
    user: AsUser = None,
    json_out: JsonOut = False,
) -> None:
    """Record a payment for an order (its open invoices, oldest due first) or an invoice."""
    from ordertrail.billing import read, service
    from ordertrail.billing.parse import parse_time
    from ordertrail.config import get_settings

    base = _base()
    with base.friendly_errors():
        if not amount:
            raise ValueError("--amount: give the amount received")
        value = _amount(amount, "--amount")
        when = parse_time(received_at, get_settings().timezone) if received_at else None

    def run(session: Session, settings: Settings) -> None:
        ctx = _ctx(session, settings, user)
        payment, created = service.record_payment(ctx, service.PaymentRequest(
            amount=value or Decimal(0), order_no=order_no, invoice_no=invoice,
            currency=currency, received_at=when, method=method, reference=reference,
            source=source, payer=payer, note=note))
        shown = read.payment_read(ctx, payment, duplicate=not created)
        if json_out:
            base._print_json(shown.model_dump(mode="json"))
            return
        if not created:
            typer.echo(f"payment {shown.id} with reference {shown.reference} was already "
                       "recorded; nothing changed")
            return
        paid = ", ".join(f"{a.invoice} {a.amount}" for a in shown.allocations) or "no invoice"
        typer.echo(f"payment {shown.id}: {shown.amount} {shown.currency} for "
                   f"{shown.order_no} -> {paid}"
                   + (f"; {shown.unallocated} unallocated" if shown.unallocated else ""))

    base.with_session(run)


@app.command("import-payments")
def import_payments(
    file: Annotated[Path, typer.Argument(help="CSV export of a bank or payment gateway")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report, change nothing")]
    = False,
    source: Annotated[str | None, typer.Option(help="e.g. cmb, alipay; default: the "
                                                    "method")] = None,
    method: Annotated[str | None, typer.Option(help="default: alipay/wechat if the export "
                                                    "says so, else bank")] = None,
    user: AsUser = None,
    json_out: JsonOut = False,
) -> None:
    """Import payments from CSV; bad rows are reported by line, good rows applied."""
    from ordertrail.billing import imports

    base = _base()
    with base.friendly_errors():
        data = file.read_bytes()

    def run(session: Session, settings: Settings) -> None:
        report = imports.import_payments(_ctx(session, settings, user), data, dry_run=dry_run,
                                         source=source, method=method, filename=file.name)
        if json_out:
            base._print_json(report.model_dump(mode="json"))
            return
        for item in report.items:
            what = " ".join(x for x in (item.order_no or item.invoice_no or "",
                                        str(item.amount or ""), item.reference or "") if x)
            typer.echo(f"line {item.line:>5}  {item.status:<11} {what}"
                       + (f"  {item.reason}" if item.reason else ""))
        verb = "would apply" if dry_run else "applied"
        typer.echo(f"{report.rows} rows: {report.applied} {verb}, {report.duplicates} "
                   f"duplicate, {report.skipped} skipped, {report.failed} failed"
                   + (" (dry run: nothing changed)" if dry_run else ""))

    base.with_session(run)


@app.command("aging")
def aging_cmd(
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default: today")] = None,
    json_out: JsonOut = False,
) -> None:
    """Receivable aging per customer: current, 1-30, 31-60, 61-90, >90 days past due."""
    from datetime import date

    from ordertrail.billing import aging

    base = _base()
    with base.friendly_errors():
        try:
            day = date.fromisoformat(as_of) if as_of else None
        except ValueError:
            raise ValueError(f"--as-of: bad date {as_of!r}: use YYYY-MM-DD") from None

    def run(session: Session, settings: Settings) -> None:
        report = aging.aging(_ctx(session, settings, None), day)
        if json_out:
            base._print_json(report.model_dump(mode="json"))
            return
        typer.echo(f"receivables as of {report.as_of} ({report.timezone})")
        typer.echo(f"{'customer':<24} {'cur':<4} {'current':>12} {'1-30':>12} {'31-60':>12} "
                   f"{'61-90':>12} {'>90':>12} {'total':>12}")
        for r in [*report.customers, *report.totals]:
            name = getattr(r, "customer", "TOTAL")
            typer.echo(f"{name[:24]:<24} {r.currency:<4} {r.current:>12} {r.d1_30:>12} "
                       f"{r.d31_60:>12} {r.d61_90:>12} {r.over_90:>12} {r.total:>12}")

    base.with_session(run)


@app.command("summary")
def summary(order_no: Annotated[str, typer.Argument(metavar="ORDER_NO")],
            json_out: JsonOut = False) -> None:
    """An order's total, invoiced, paid, outstanding; its invoices and payments."""
    from ordertrail.billing import read

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        s = read.summary(_ctx(session, settings, None), order_no)
        if json_out:
            base._print_json(s.model_dump(mode="json"))
            return
        typer.echo(f"{s.order_no}  {s.customer}  total {s.total} {s.currency}  invoiced "
                   f"{s.invoiced}  paid {s.paid}  outstanding {s.outstanding}"
                   + ("  FULLY PAID" if s.fully_paid else ""))
        for inv in s.invoices:
            _show_invoice(inv)
        for p in s.payments:
            typer.echo(f"payment {p.id:<6} {p.received_at:%Y-%m-%d} {p.amount:>12} {p.method:<7}"
                       f" {p.reference or '-'}  {p.payer or ''}")

    base.with_session(run)

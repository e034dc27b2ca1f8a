"""CLI: `ordertrail procurement …` — suppliers, purchase orders, supplier links, receipts.

Without ``--user`` the command line acts as an administrator of its own database (like
``ordertrail calendar``); with it, as that user with their roles.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from ordertrail.config import Settings

app = typer.Typer(
    help="Procurement: suppliers, purchase orders, supplier links, receipts.",
    no_args_is_help=True)
supplier_app = typer.Typer(help="Suppliers: add, list.", no_args_is_help=True)
po_app = typer.Typer(help="Purchase orders: list, show, create, suggest, from-shortages, link, "
                          "confirm, track, receive, cancel.", no_args_is_help=True)
app.add_typer(supplier_app, name="supplier")
app.add_typer(po_app, name="po")

User = Annotated[str | None, typer.Option("--user", help="act as this user (default: the "
                                                         "command line as admin)")]
Json = Annotated[bool, typer.Option("--json", help="print JSON")]
_LINE = re.compile(r"^\s*([^=@\s]+)\s*=\s*([0-9.]+)\s*(?:@\s*([0-9.]+))?\s*$")


def _base() -> Any:
    from ordertrail import cli  # the root CLI owns sessions and error handling

    return cli


def _ctx(session: Session, settings: Settings, user: str | None) -> Any:
    return _base()._ctx(session, settings, user)


def _run(user: str | None, fn: Any) -> Any:
    return _base().with_session(lambda session, settings: fn(_ctx(session, settings, user)))


def _lines(values: list[str], *, price: bool) -> list[dict[str, Any]]:
    out = []
    for raw in values:
        m = _LINE.match(raw)
        if m is None or (m.group(3) and not price):
            form = "SKU=QTY@PRICE" if price else "SKU=QTY"
            _base().fail(f"--line {raw!r}: use {form}")
        assert m is not None
        try:
            item: dict[str, Any] = {"sku": m.group(1), "qty": Decimal(m.group(2))}
            if price and m.group(3):
                item["unit_price"] = Decimal(m.group(3))
        except InvalidOperation:
            _base().fail(f"--line {raw!r}: not a number")
        out.append(item)
    return out


def _day(value: datetime | None) -> str:
    """The local date (install time zone) of a stored time."""
    from ordertrail.config import get_settings
    from ordertrail.procurement.service import day_text

    return day_text(value, get_settings())


def _show(po: Any, json_out: bool) -> None:
    base = _base()
    if json_out:
        base._print_json(po.model_dump(mode="json"))
        return
    typer.echo(f"{po.po_no}  {po.status}  supplier {po.supplier.code} ({po.supplier.name})  "
               f"warehouse {po.warehouse}")
    typer.echo(f"  expected {_day(po.expected_at)}  confirmed {_day(po.confirmed_at)}  "
               f"total {po.total} {po.currency}")
    for ln in po.lines:
        typer.echo(f"  {ln.line_no:>3}  {ln.sku:<20} {ln.qty.normalize():>10} @ "
                   f"{ln.unit_price.normalize():<10} received {ln.received_qty.normalize()}")
    if po.orders:
        typer.echo("  serves " + ", ".join(f"{o.order_no} ({o.sku})" for o in po.orders))
    if po.inbound:
        i = po.inbound
        typer.echo(f"  parcel {i.carrier} {i.tracking_number} {i.status}")


# Suppliers -------------------------------------------------------------------------------


@supplier_app.command("add")
def supplier_add(
    code: str,
    name: Annotated[str, typer.Option(help="company name")],
    contact: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    lead_time: Annotated[int, typer.Option("--lead-time", help="days")] = 7,
    locale: Annotated[str, typer.Option(help="zh-CN or en (the link page's language)")]
    = "zh-CN",
    user: User = None,
) -> None:
    """Add a supplier."""
    from ordertrail.procurement import service
    from ordertrail.procurement.schemas import SupplierCreate

    def run(ctx: Any) -> None:
        row = service.create_supplier(ctx, SupplierCreate(
            code=code, name=name, contact=contact, email=email, phone=phone,
            lead_time_days=lead_time, locale=locale))
        typer.echo(f"added supplier {row.code} ({row.name}), lead time {row.lead_time_days} d")

    _run(user, run)


@supplier_app.command("list")
def supplier_list(json_out: Json = False) -> None:
    """Suppliers by code."""
    from ordertrail.procurement import read, service

    def run(ctx: Any) -> None:
        rows = [read.supplier_read(s) for s in service.list_suppliers(ctx.session)]
        if json_out:
            _base()._print_json([r.model_dump(mode="json") for r in rows])
            return
        for r in rows:
            typer.echo(f"{r.code:<16} {r.lead_time_days:>3} d  {r.locale:<5} {r.name}")
        if not rows:
            typer.echo("no suppliers")

    _run(None, run)


# Purchase orders -------------------------------------------------------------------------


@po_app.command("list")
def po_list(
    status: Annotated[str | None, typer.Option(help="a status, or open")] = None,
    supplier: Annotated[str | None, typer.Option()] = None,
    sku: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    json_out: Json = False,
) -> None:
    """Purchase orders, newest first."""
    from ordertrail.procurement import read, service

    def run(ctx: Any) -> None:
        page = read.po_list(ctx.session, service.list_pos(ctx.session, status=status,
                                                          supplier=supplier, sku=sku,
                                                          limit=limit))
        if json_out:
            _base()._print_json([p.model_dump(mode="json") for p in page.purchase_orders])
            return
        for p in page.purchase_orders:
            typer.echo(f"{p.po_no:<18} {p.status:<19} {p.supplier:<12} due {_day(p.due_at)}  "
                       f"open {p.open_qty.normalize()}")
        if not page.purchase_orders:
            typer.echo("no purchase orders")

    _run(None, run)


@po_app.command("show")
def po_show(po_no: str, json_out: Json = False) -> None:
    """One purchase order with its lines, served orders and parcel."""
    from ordertrail.procurement import read, service

    _run(None, lambda ctx: _show(read.po_read(ctx.session, service.get_po(ctx, po_no)),
                                 json_out))


@po_app.command("create")
def po_create(
    supplier: Annotated[str, typer.Option(help="supplier code")],
    line: Annotated[list[str], typer.Option("--line", help="SKU=QTY@PRICE; repeat")],
    warehouse: Annotated[str | None, typer.Option()] = None,
    expected: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default: lead time")]
    = None,
    note: Annotated[str | None, typer.Option()] = None,
    user: User = None,
    json_out: Json = False,
) -> None:
    """Create a purchase order by hand."""
    from ordertrail.procurement import read, service
    from ordertrail.procurement.schemas import PoCreate

    lines = _lines(line, price=True)

    def run(ctx: Any) -> None:
        po = service.create_po(ctx, PoCreate(supplier=supplier, warehouse=warehouse,
                                             lines=lines, expected_at=_date(expected),
                                             note=note))
        _created(read.po_read(ctx.session, po), json_out)

    _run(user, run)


def _created(po: Any, json_out: bool) -> None:
    if json_out:
        _base()._print_json(po.model_dump(mode="json"))
        return
    typer.echo(f"created {po.po_no} for {po.supplier.code}, expected {_day(po.expected_at)}"
               + (f", serves {len({o.order_no for o in po.orders})} waiting order(s)"
                  if po.orders else ""))


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _base().fail(f"{value!r} is not a date (use YYYY-MM-DD)")
    return None


@po_app.command("suggest")
def po_suggest(all_: Annotated[bool, typer.Option("--all", help="also covered SKUs")] = False,
               json_out: Json = False) -> None:
    """What to buy for the current shortages."""
    from ordertrail.procurement import suggest

    def run(ctx: Any) -> None:
        found = suggest.suggestions(ctx, include_covered=all_).suggestions
        if json_out:
            _base()._print_json([s.model_dump(mode="json") for s in found])
            return
        for s in found:
            typer.echo(f"{s.sku:<20} short {s.short_qty.normalize():<8} on order "
                       f"{s.on_order_qty.normalize():<8} buy {s.suggested_qty.normalize():<8} "
                       f"supplier {s.supplier or '-':<10} by {_day(s.expected_at)}  "
                       f"orders {', '.join(s.order_nos)}")
        if not found:
            typer.echo("nothing to buy")

    _run(None, run)


@po_app.command("from-shortages")
def po_from_shortages(
    supplier: Annotated[str, typer.Option(help="supplier code")],
    sku: Annotated[list[str] | None, typer.Option("--sku", help="only these; repeat")] = None,
    warehouse: Annotated[str | None, typer.Option()] = None,
    user: User = None,
    json_out: Json = False,
) -> None:
    """Create a purchase order for the shortages."""
    from ordertrail.procurement import read, suggest
    from ordertrail.procurement.schemas import FromShortages

    def run(ctx: Any) -> None:
        po = suggest.from_shortages(ctx, FromShortages(supplier=supplier, skus=sku or None,
                                                       warehouse=warehouse))
        _created(read.po_read(ctx.session, po), json_out)

    _run(user, run)


@po_app.command("link")
def po_link(po_no: str,
            days: Annotated[int | None, typer.Option(min=1, max=365, help="validity")] = None,
            send: Annotated[bool, typer.Option("--send", help="also mark the order sent")]
            = False,
            user: User = None) -> None:
    """Print the supplier's signed link (the URL alone on the last line)."""
    from ordertrail.procurement.endpoints import _link
    from ordertrail.procurement.service import mark_sent

    def run(ctx: Any) -> None:
        if send:
            mark_sent(ctx, po_no)
        link = _link(ctx, po_no, days)
        typer.echo(f"supplier link for {link.po_no}, valid until "
                   f"{link.expires_at.date().isoformat()}:")
        typer.echo(link.url)

    _run(user, run)


@po_app.command("confirm")
def po_confirm(po_no: str,
               date_: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD; default: "
                                                                        "the current date")]
               = None,
               note: Annotated[str | None, typer.Option()] = None, user: User = None) -> None:
    """Record the supplier's confirmation (or a new promised date)."""
    from ordertrail.procurement import service

    def run(ctx: Any) -> None:
        po = service.confirm(ctx, po_no, _date(date_), note)
        typer.echo(f"{po.po_no}: {po.status}, delivery {_day(service.due_of(po))}")

    _run(user, run)


@po_app.command("track")
def po_track(po_no: str, number: Annotated[str, typer.Option("--number")],
             carrier: Annotated[str | None, typer.Option()] = None,
             user: User = None) -> None:
    """Track the inbound parcel of a purchase order."""
    from ordertrail.procurement import receiving

    def run(ctx: Any) -> None:
        s = receiving.staff_tracking(ctx, po_no, carrier, number)
        typer.echo(f"{po_no}: parcel {s.carrier} {s.tracking_number} (shipment {s.id})")

    _run(user, run)


@po_app.command("receive")
def po_receive(po_no: str,
               line: Annotated[list[str], typer.Option("--line", help="SKU=QTY; repeat")],
               warehouse: Annotated[str | None, typer.Option()] = None,
               note: Annotated[str | None, typer.Option()] = None,
               user: User = None, json_out: Json = False) -> None:
    """Receive goods of a purchase order into stock."""
    from ordertrail.procurement import read, receiving
    from ordertrail.procurement.schemas import ReceiptLineIn

    raw = _lines(line, price=False)

    def run(ctx: Any) -> None:
        items = [ReceiptLineIn(**x) for x in raw]
        po = receiving.receive(ctx, po_no, items, warehouse=warehouse, note=note)
        shown = read.po_read(ctx.session, po)
        if json_out:
            _base()._print_json(shown.model_dump(mode="json"))
            return
        typer.echo(f"{po.po_no}: {po.status}; open "
                   + ", ".join(f"{ln.sku} {ln.open_qty.normalize()}" for ln in shown.lines))

    _run(user, run)


@po_app.command("cancel")
def po_cancel(po_no: str, reason: Annotated[str | None, typer.Option()] = None,
              user: User = None) -> None:
    """Cancel what is still open on a purchase order."""
    from ordertrail.procurement import service

    _run(user, lambda ctx: typer.echo(f"{service.cancel(ctx, po_no, reason).po_no}: "
                                      "cancelled"))

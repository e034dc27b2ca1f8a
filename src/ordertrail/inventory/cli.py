"""CLI: `ordertrail inventory …` — products, warehouses, movements, stock, availability,
reservations. Without ``--user`` the command line acts as an administrator ("cli")."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from ordertrail.config import Settings

app = typer.Typer(
    help="Inventory: products, warehouses, stock, movements, availability, reservations.",
    no_args_is_help=True)
product_app = typer.Typer(help="Products: add, list, show.", no_args_is_help=True)
warehouse_app = typer.Typer(help="Warehouses: add, list.", no_args_is_help=True)
app.add_typer(product_app, name="product")
app.add_typer(warehouse_app, name="warehouse")

User = Annotated[str | None, typer.Option("--user", help="act as this user (default: the "
                                                          "command line as admin)")]
Json = Annotated[bool, typer.Option("--json", help="print JSON")]


def _base() -> Any:
    from ordertrail import cli  # the root CLI owns sessions and error handling

    return cli


def _ctx(session: Session, settings: Settings, user: str | None) -> Any:
    return _base()._ctx(session, settings, user)


def _qty(text: str, what: str = "qty") -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{what}: {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{what}: {text!r} is not a number")
    return value


def _bom(items: list[str]) -> list[Any]:
    from ordertrail.inventory.schemas import BomItem

    out = []
    for item in items:
        sku, sep, qty = item.partition("=")
        if not sep or not sku.strip():
            raise ValueError(f"--bom: write SKU=QTY, e.g. BOLT-M8=2, not {item!r}")
        out.append(BomItem(sku=sku.strip(), qty=_qty(qty.strip(), f"--bom {sku.strip()}")))
    return out


def _n(value: Decimal) -> str:
    from ordertrail.inventory.catalog import qty_text

    return qty_text(value)


# -- products -------------------------------------------------------------------------------


@product_app.command("add")
def product_add(
    sku: str, name: Annotated[str, typer.Option(help="product name")],
    unit: Annotated[str, typer.Option(help="unit, e.g. pcs or kg")] = "pcs",
    make_to_order: Annotated[bool, typer.Option("--make-to-order",
                                                help="made for each order")] = False,
    bom: Annotated[list[str] | None, typer.Option("--bom", help="component SKU=QTY; "
                                                                "repeat")] = None,
    user: User = None, json_out: Json = False,
) -> None:
    """Add a product (with its BOM: --bom BOLT-M8=2 --bom PLATE-1=1)."""
    from ordertrail.inventory import service
    from ordertrail.inventory.schemas import ProductCreate

    base = _base()
    with base.friendly_errors():
        data = ProductCreate(sku=sku, name=name, unit=unit, make_to_order=make_to_order,
                             bom=_bom(bom or []))

    def run(session: Session, settings: Settings) -> None:
        p = service.create_product(_ctx(session, settings, user), data)
        if json_out:
            base._print_json(p.model_dump(mode="json"))
            return
        typer.echo(f"product {p.sku} added" + (f" (BOM: {_bom_text(p)})" if p.bom else ""))

    base.with_session(run)


def _bom_text(p: Any) -> str:
    return ", ".join(f"{b.sku}×{_n(b.qty)}" for b in p.bom)


@product_app.command("list")
def product_list(q: Annotated[str | None, typer.Option("--search", help="part of SKU or name")
                              ] = None,
                 limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
                 json_out: Json = False) -> None:
    """Products with their stock totals."""
    from ordertrail.inventory import service

    base = _base()

    def run(session: Session, _s: Settings) -> None:
        page = service.list_products(session, q, limit)
        if json_out:
            base._print_json([p.model_dump(mode="json") for p in page.items])
            return
        for p in page.items:
            mto = "make-to-order" if p.make_to_order else ""
            typer.echo(f"{p.sku:<20} {_n(p.available):>10} free {_n(p.on_hand):>10} on hand "
                       f"{p.unit:<5} {mto:<14} {p.name}")
        if not page.items:
            typer.echo("no products")

    base.with_session(run)


@product_app.command("show")
def product_show(sku: str, json_out: Json = False) -> None:
    """One product, its BOM and its stock per warehouse."""
    from ordertrail.inventory import service

    base = _base()

    def run(session: Session, _s: Settings) -> None:
        p = service.read_product(session, sku)
        stock = service.list_stock(session, sku=sku).items
        if json_out:
            base._print_json({**p.model_dump(mode="json"),
                              "stock": [s.model_dump(mode="json") for s in stock]})
            return
        typer.echo(f"{p.sku}: {p.name} ({p.unit})" + (" — make to order" if p.make_to_order
                                                      else ""))
        if p.bom:
            typer.echo(f"  BOM        {_bom_text(p)}")
        typer.echo(f"  total      on hand {_n(p.on_hand)}, reserved {_n(p.reserved)}, "
                   f"free {_n(p.available)}")
        for s in stock:
            typer.echo(f"  {s.warehouse:<10} on hand {_n(s.on_hand)}, reserved "
                       f"{_n(s.reserved)}, free {_n(s.available)}")

    base.with_session(run)


# -- warehouses -------------------------------------------------------------------------------


@warehouse_app.command("add")
def warehouse_add(code: str, name: Annotated[str, typer.Option(help="warehouse name")],
                  user: User = None) -> None:
    """Add a warehouse."""
    from ordertrail.inventory import service
    from ordertrail.inventory.schemas import WarehouseCreate

    base = _base()
    with base.friendly_errors():
        data = WarehouseCreate(code=code, name=name)

    def run(session: Session, settings: Settings) -> None:
        w = service.create_warehouse(_ctx(session, settings, user), data)
        typer.echo(f"warehouse {w.code} added")

    base.with_session(run)


@warehouse_app.command("list")
def warehouse_list() -> None:
    """Warehouses."""
    from ordertrail.inventory import service

    def run(session: Session, _s: Settings) -> None:
        items = service.list_warehouses(session)
        for w in items:
            typer.echo(f"{w.code:<12} {w.name}")
        if not items:
            typer.echo("no warehouses")

    _base().with_session(run)


# -- movements ----------------------------------------------------------------------------------


def _move(kind: str, sku: str, warehouse: str, qty: str, reason: str, user: str | None,
          to: str | None = None, ref_type: str | None = None, ref_id: str | None = None,
          ) -> None:
    from ordertrail.inventory import service
    from ordertrail.inventory.schemas import MovementIn

    base = _base()
    with base.friendly_errors():
        data = MovementIn(kind=kind, sku=sku, warehouse=warehouse, qty=_qty(qty),
                          reason=reason, to_warehouse=to, ref_type=ref_type, ref_id=ref_id)

    def run(session: Session, settings: Settings) -> None:
        for m in service.move(_ctx(session, settings, user), data):
            typer.echo(f"movement {m.id}: {m.kind} {m.sku} {'+' if m.qty > 0 else ''}"
                       f"{_n(m.qty)} at {m.warehouse}, on hand now {_n(m.balance)}")

    base.with_session(run)


Reason = Annotated[str, typer.Option(help="why the stock moves (required)")]


@app.command("receive")
def receive(sku: str, warehouse: str, qty: str, reason: Reason, user: User = None,
            ref_type: Annotated[str | None, typer.Option(help="e.g. purchase_order")] = None,
            ref_id: Annotated[str | None, typer.Option(help="e.g. PO20261122-0001")] = None,
            ) -> None:
    """Receive QTY of SKU into WAREHOUSE (waiting orders get it)."""
    _move("receipt", sku, warehouse, qty, reason, user, ref_type=ref_type, ref_id=ref_id)


@app.command("issue")
def issue(sku: str, warehouse: str, qty: str, reason: Reason, user: User = None) -> None:
    """Issue QTY of free stock of SKU from WAREHOUSE."""
    _move("issue", sku, warehouse, qty, reason, user)


@app.command("adjust")
def adjust(sku: str, warehouse: str,
           qty: Annotated[str, typer.Argument(help="signed, e.g. -2 or 3")],
           reason: Reason, user: User = None) -> None:
    """Adjust on-hand stock by a signed QTY after a count (write -2 as -- -2)."""
    _move("adjustment", sku, warehouse, qty, reason, user)


@app.command("transfer")
def transfer(sku: str, warehouse: str, to: Annotated[str, typer.Argument(
             metavar="TO_WAREHOUSE")], qty: str, reason: Reason, user: User = None) -> None:
    """Move QTY of free stock of SKU from WAREHOUSE to TO_WAREHOUSE."""
    _move("transfer", sku, warehouse, qty, reason, user, to=to)


@app.command("stock")
def stock(sku: Annotated[str | None, typer.Option(help="only this SKU")] = None,
          warehouse: Annotated[str | None, typer.Option(help="only this warehouse")] = None,
          json_out: Json = False) -> None:
    """Stock levels: on hand, reserved, free per SKU and warehouse."""
    from ordertrail.inventory import service

    base = _base()

    def run(session: Session, _s: Settings) -> None:
        items = service.list_stock(session, sku, warehouse).items
        if json_out:
            base._print_json([s.model_dump(mode="json") for s in items])
            return
        for s in items:
            typer.echo(f"{s.sku:<20} {s.warehouse:<10} on hand {_n(s.on_hand):>10}  reserved "
                       f"{_n(s.reserved):>10}  free {_n(s.available):>10}")
        if not items:
            typer.echo("no stock")

    base.with_session(run)


@app.command("movements")
def movements(sku: Annotated[str | None, typer.Option()] = None,
              warehouse: Annotated[str | None, typer.Option()] = None,
              kind: Annotated[str | None, typer.Option(help="receipt, issue, adjustment, "
                                                            "transfer")] = None,
              order: Annotated[str | None, typer.Option(help="order number")] = None,
              limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
              json_out: Json = False) -> None:
    """The movement ledger, newest first."""
    from ordertrail.inventory import service

    base = _base()

    def run(session: Session, _s: Settings) -> None:
        page = service.list_movements(session, sku=sku, warehouse=warehouse, kind=kind,
                                      order_no=order, limit=limit)
        if json_out:
            base._print_json([m.model_dump(mode="json") for m in page.items])
            return
        for m in page.items:
            typer.echo(f"{m.id:>7}  {m.at:%Y-%m-%d %H:%M}  {m.kind:<10} {m.sku:<16} "
                       f"{m.warehouse:<8} {'+' if m.qty > 0 else ''}{_n(m.qty):<9} "
                       f"= {_n(m.balance):<9} {m.actor}: {m.reason}")
        if not page.items:
            typer.echo("no movements")

    base.with_session(run)


# -- orders ---------------------------------------------------------------------------------------


@app.command("availability")
def availability(order_no: str, json_out: Json = False) -> None:
    """Can the order be served: per need line available, partial or short by N."""
    from ordertrail.inventory import service

    base = _base()

    def run(session: Session, _s: Settings) -> None:
        a = service.availability(session, order_no)
        if json_out:
            base._print_json(a.model_dump(mode="json"))
            return
        typer.echo(f"{a.order_no}: {a.state}")
        for ln in a.lines:
            into = f" (for {ln.component_of})" if ln.component_of else ""
            short = f", short by {_n(ln.short)}" if ln.short else ""
            per = ", ".join(f"{w.warehouse} {_n(w.available)}" for w in ln.warehouses)
            typer.echo(f"  line {ln.line_no} {ln.sku}{into}: need {_n(ln.qty)}, reserved "
                       f"{_n(ln.reserved)}, free {_n(ln.available)} [{per or '-'}] — "
                       f"{ln.state}{short}")
        if a.untracked:
            typer.echo(f"  not tracked: {', '.join(a.untracked)}")

    base.with_session(run)


def _show_reservations(r: Any, json_out: bool) -> None:
    if json_out:
        _base()._print_json(r.model_dump(mode="json"))
        return
    typer.echo(f"{r.order_no}: {r.state}" + (" (fully reserved)" if r.fully_reserved else ""))
    for i in r.items:
        typer.echo(f"  line {i.line_no} {i.sku:<16} {i.warehouse:<8} {i.purpose:<8} held "
                   f"{_n(i.open)} (reserved {_n(i.qty)}, consumed {_n(i.consumed)}, released "
                   f"{_n(i.released)})")
    if r.waiting is not None:
        typer.echo(f"  {r.waiting.reason.en}")


@app.command("reserve")
def reserve(order_no: str, user: User = None, json_out: Json = False) -> None:
    """Reserve the order's needs now (idempotent); what is short waits for stock."""
    from ordertrail.inventory import service
    from ordertrail.inventory.read import order_id_of

    def run(session: Session, settings: Settings) -> None:
        service.reserve_order(_ctx(session, settings, user), order_id_of(session, order_no))
        _show_reservations(service.reservations_read(session, order_no), json_out)

    _base().with_session(run)


@app.command("release")
def release(order_no: str, reason: Annotated[str, typer.Option(help="why")] = "released by "
            "hand", user: User = None, json_out: Json = False) -> None:
    """Release everything held for the order."""
    from ordertrail.inventory import service
    from ordertrail.inventory.read import order_id_of

    def run(session: Session, settings: Settings) -> None:
        service.release_order(_ctx(session, settings, user), order_id_of(session, order_no),
                              reason)
        _show_reservations(service.reservations_read(session, order_no), json_out)

    _base().with_session(run)

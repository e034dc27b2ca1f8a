"""CLI: `ordertrail production …` — work centers, routings, work orders and QC."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from ordertrail.config import Settings

app = typer.Typer(help="Production: work centers, routings, work orders, steps, QC.",
                  no_args_is_help=True)
centers_app = typer.Typer(help="Work centers: add, list.", no_args_is_help=True)
routing_app = typer.Typer(help="Routings per product: set, show.", no_args_is_help=True)
wo_app = typer.Typer(help="Work orders: list, show, plan, create, start, step, complete, qc.",
                     no_args_is_help=True)
app.add_typer(centers_app, name="work-center")
app.add_typer(routing_app, name="routing")
app.add_typer(wo_app, name="wo")

AsUser = Annotated[str | None, typer.Option("--user", "--as", help="acting user name (default: the "
                                                         "local operator, as admin)")]
JsonOut = Annotated[bool, typer.Option("--json", help="print JSON")]


def _base() -> Any:
    from ordertrail import cli  # the root CLI owns sessions and error handling

    return cli


def _ctx(session: Session, settings: Settings, user: str | None) -> Any:
    return _base()._ctx(session, settings, user)


def _wo_ref(ref: str) -> int | str:
    return int(ref) if ref.isdigit() else ref


def _line(w: Any) -> str:
    late = "  LATE" if w.late else ""
    return (f"{w.id:>5}  {w.number:<16} {w.order_no:<18} {w.sku:<16} {w.qty:>10}  "
            f"{w.status:<11} planned {w.planned_start:%Y-%m-%d %H:%M} → "
            f"{w.planned_finish:%Y-%m-%d %H:%M} UTC{late}")


def _show(d: Any) -> None:
    echo = typer.echo
    echo(_line(d))
    for s in d.steps:
        done = (f"done {s.actual_finish:%Y-%m-%d %H:%M} by {s.done_by}" if s.actual_finish
                else ("started" if s.actual_start else "open"))
        echo(f"  step {s.seq}: {s.name:<16} @{s.work_center:<12} {s.planned_minutes:>9} min  "
             f"{s.planned_start:%m-%d %H:%M} → {s.planned_finish:%m-%d %H:%M}  {done}")
    for c in d.components:
        stock = "untracked" if c.available is None else f"available {c.available}"
        used = f", issued {c.consumed_at:%Y-%m-%d %H:%M}" if c.consumed_at else ""
        echo(f"  component {c.sku:<16} {c.qty:>10}  ({stock}{used})")
    for q in d.qc:
        echo(f"  QC {q.result} by {q.by} at {q.at:%Y-%m-%d %H:%M}" + (f": {q.note}"
                                                                       if q.note else ""))
    if d.schedule.late:
        echo(f"  behind plan: {', '.join(d.schedule.late)}")


def _act(user: str | None, json_out: bool, fn: Any) -> None:
    """Run ``fn(ctx) -> WorkOrder`` and print the work order."""
    from ordertrail.production import read

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        ctx = _ctx(session, settings, user)
        d = read.detail(ctx, fn(ctx))
        if json_out:
            base._print_json(d.model_dump(mode="json"))
        else:
            _show(d)

    base.with_session(run)


# work centers --------------------------------------------------------------------------------


@centers_app.command("add")
def center_add(code: str,
               name: Annotated[str | None, typer.Option(help="default: the code")] = None,
               capacity: Annotated[int, typer.Option(help="steps at once")] = 1,
               calendar: Annotated[str, typer.Option(help="business calendar id")] = "cn",
               user: AsUser = None) -> None:
    """Add a work center."""
    from ordertrail.production import read, service
    from ordertrail.production.schemas import WorkCenterCreate

    base = _base()
    with base.friendly_errors():
        body = WorkCenterCreate(code=code, name=name or code, capacity=capacity,
                                calendar=calendar)

    def run(session: Session, settings: Settings) -> None:
        c = read.center_read(service.create_work_center(_ctx(session, settings, user), body))
        typer.echo(f"work center {c.code} ({c.name}): capacity {c.capacity}, calendar "
                   f"{c.calendar}")

    base.with_session(run)


@centers_app.command("list")
def center_list(json_out: JsonOut = False) -> None:
    """Work centers."""
    from ordertrail.production import read

    base = _base()

    def run(session: Session, _s: Settings) -> None:
        items = read.list_centers(session)
        if json_out:
            base._print_json([c.model_dump(mode="json") for c in items])
            return
        for c in items:
            typer.echo(f"{c.code:<16} cap {c.capacity:<4} {c.calendar:<12} {c.name}")
        if not items:
            typer.echo("no work centers")

    base.with_session(run)


# routings ------------------------------------------------------------------------------------


def _parse_step(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) != 4 or not parts[0].strip() or not parts[1].strip():
        raise ValueError(f"--step {text!r}: use NAME:CENTER:SETUP_MIN:MIN_PER_UNIT")
    try:
        setup, per_unit = Decimal(parts[2]), Decimal(parts[3])
    except InvalidOperation:
        raise ValueError(f"--step {text!r}: minutes must be numbers") from None
    return {"name": parts[0].strip(), "work_center": parts[1].strip(),
            "setup_minutes": setup, "minutes_per_unit": per_unit}


def _print_routing(r: Any, json_out: bool) -> None:
    if json_out:
        _base()._print_json(r.model_dump(mode="json"))
        return
    typer.echo(f"routing of {r.sku}" + (" (default)" if r.default else ""))
    for s in r.steps:
        typer.echo(f"  {s.seq}. {s.name:<16} @{s.work_center:<12} setup {s.setup_minutes} min, "
                   f"{s.minutes_per_unit} min/unit")


@routing_app.command("set")
def routing_set(sku: str,
                step: Annotated[list[str], typer.Option(
                    "--step", help="NAME:CENTER:SETUP_MIN:MIN_PER_UNIT; repeat, in order")],
                user: AsUser = None, json_out: JsonOut = False) -> None:
    """Replace the routing of SKU."""
    from ordertrail.production import service
    from ordertrail.production.schemas import RoutingIn

    base = _base()
    with base.friendly_errors():
        body = RoutingIn.model_validate({"steps": [_parse_step(s) for s in step]})

    def run(session: Session, settings: Settings) -> None:
        _print_routing(service.set_routing(_ctx(session, settings, user), sku, body), json_out)

    base.with_session(run)


@routing_app.command("show")
def routing_show(sku: str, json_out: JsonOut = False) -> None:
    """The routing of SKU (or the default one)."""
    from ordertrail.production import service

    _base().with_session(lambda session, _s: _print_routing(service.get_routing(session, sku),
                                                            json_out))


# work orders ---------------------------------------------------------------------------------


@wo_app.command("list")
def wo_list(status: Annotated[str | None, typer.Option()] = None,
            order: Annotated[str | None, typer.Option(help="order number")] = None,
            late: Annotated[bool, typer.Option("--late", help="only those behind plan")] = False,
            limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
            json_out: JsonOut = False) -> None:
    """Work orders, newest first."""
    from ordertrail.production import read

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        page = read.page(_ctx(session, settings, None), status=status, order_no=order,
                         late=True if late else None, limit=limit)
        if json_out:
            base._print_json([w.model_dump(mode="json") for w in page.items])
            return
        for w in page.items:
            typer.echo(_line(w))
        if not page.items:
            typer.echo("no work orders")

    base.with_session(run)


@wo_app.command("show")
def wo_show(work_order: Annotated[str, typer.Argument(help="id or number")],
            json_out: JsonOut = False) -> None:
    """A work order with steps, components, schedule and QC."""
    from ordertrail.production import read

    _act(None, json_out, lambda ctx: read.get_work_order(ctx.session, _wo_ref(work_order)))


@wo_app.command("plan")
def wo_plan(order_no: str, user: AsUser = None, json_out: JsonOut = False) -> None:
    """Plan work orders for the make-to-order lines of ORDER_NO (idempotent)."""
    from ordertrail.production import read, service

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        ctx = _ctx(session, settings, user)
        made = service.plan_for_order_no(ctx, order_no)
        now = ctx.clock.now()
        items = [read.wo_read(w, order_no, now) for w in made]
        if json_out:
            base._print_json([w.model_dump(mode="json") for w in items])
            return
        for w in items:
            typer.echo(_line(w))
        if not items:
            typer.echo(f"order {order_no} has no make-to-order lines")

    base.with_session(run)


@wo_app.command("create")
def wo_create(order_no: str, line: Annotated[int, typer.Option("--line", help="line number")],
              qty: Annotated[str | None, typer.Option(help="default: the line's")] = None,
              user: AsUser = None, json_out: JsonOut = False) -> None:
    """A work order by hand for one order line."""
    from ordertrail.production import service
    from ordertrail.production.schemas import WorkOrderCreate

    with _base().friendly_errors():
        body = WorkOrderCreate(order_no=order_no, line_no=line,
                               qty=qty)  # type: ignore[arg-type]  # validated as Decimal
    _act(user, json_out, lambda ctx: service.create_work_order(ctx, body))


@wo_app.command("start")
def wo_start(work_order: str, user: AsUser = None, json_out: JsonOut = False) -> None:
    """Start a work order (issues its components)."""
    from ordertrail.production import service

    _act(user, json_out, lambda ctx: service.start(ctx, _wo_ref(work_order)))


@wo_app.command("step")
def wo_step(work_order: str, seq: int,
            note: Annotated[str | None, typer.Option()] = None,
            user: AsUser = None, json_out: JsonOut = False) -> None:
    """Mark step SEQ of a work order done."""
    from ordertrail.production import service

    _act(user, json_out, lambda ctx: service.complete_step(ctx, _wo_ref(work_order), seq, note))


@wo_app.command("complete")
def wo_complete(work_order: str, user: AsUser = None, json_out: JsonOut = False) -> None:
    """Production finished: the work order waits for QC."""
    from ordertrail.production import service

    _act(user, json_out, lambda ctx: service.complete(ctx, _wo_ref(work_order)))


@wo_app.command("qc")
def wo_qc(work_order: str,
          result: Annotated[str, typer.Argument(help="pass or fail")],
          note: Annotated[str | None, typer.Option(help="required for fail")] = None,
          user: AsUser = None, json_out: JsonOut = False) -> None:
    """Record QC of a completed work order."""
    from ordertrail.production import service

    _act(user, json_out, lambda ctx: service.record_qc(ctx, _wo_ref(work_order), result, note))

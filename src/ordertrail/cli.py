"""The ordertrail command line (Typer). Errors: one line on stderr and exit status 1."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from typer.exceptions import TyperException

from ordertrail.billing import cli as billing_cli
from ordertrail.calendar import cli as calendar_cli
from ordertrail.carrier import cli as carrier_cli
from ordertrail.config import Settings, get_settings
from ordertrail.inventory import cli as inventory_cli
from ordertrail.jobs import cli as jobs_cli
from ordertrail.notify import cli as notify_cli
from ordertrail.procurement import cli as procurement_cli
from ordertrail.production import cli as production_cli
from ordertrail.shipment import cli as shipment_cli
from ordertrail.sla import cli as sla_cli
from ordertrail.webhooks import cli as webhooks_cli

app = typer.Typer(help="ordertrail: order tracking and shipment tracking, from order to cash.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
flow_app = typer.Typer(help="Flows: validate, list, show, publish.", no_args_is_help=True)
order_app = typer.Typer(help="Orders: create, show, list, advance.", no_args_is_help=True)
user_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(flow_app, name="flow")
app.add_typer(order_app, name="order")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
app.add_typer(carrier_cli.app, name="carriers")
app.add_typer(shipment_cli.app, name="shipment")
app.add_typer(jobs_cli.app, name="jobs")
app.command("worker")(jobs_cli.worker)
app.add_typer(calendar_cli.app, name="calendar")
app.add_typer(sla_cli.app, name="sla")
app.add_typer(sla_cli.alerts_app, name="alerts")
app.add_typer(notify_cli.app, name="notify")
app.add_typer(webhooks_cli.app, name="webhooks")
app.add_typer(inventory_cli.app, name="inventory")
app.add_typer(production_cli.app, name="production")
app.add_typer(procurement_cli.app, name="procurement")
app.add_typer(billing_cli.app, name="billing")

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn known errors into one line and exit 1; never a traceback."""
    from ordertrail.errors import OrdertrailError
    from ordertrail.flow.validate import FlowInvalid

    try:
        yield
    except typer.Exit:
        raise
    except OrdertrailError as exc:
        fail(exc.detail("en"))
    except FlowInvalid as exc:
        fail(str(exc))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        fail(f"{loc or 'input'}: {err.get('msg')}")
    except OperationalError as exc:
        fail(f"database error: {str(exc.orig).strip().splitlines()[0]}")
    except (OSError, ValueError) as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - the promise is one line, never a traceback
        fail(f"unexpected {type(exc).__name__}: {exc}".splitlines()[0])


def _engine(settings: Settings, migrate: bool = True) -> Engine:
    from ordertrail import migrate as migrations
    from ordertrail.db import make_engine, make_sessionmaker, write_session
    from ordertrail.flow.service import ensure_builtin_flows
    from ordertrail.kit.clock import SystemClock

    engine = make_engine(settings.database_url)
    if migrate:
        migrations.upgrade(engine)
        with write_session(make_sessionmaker(engine)) as session:
            ensure_builtin_flows(session, SystemClock())
    return engine


def with_session(fn: Callable[[Session, Settings], T], migrate: bool = True) -> T:
    """Run ``fn`` in one write transaction against the configured database."""
    from ordertrail.db import make_sessionmaker, write_session

    with friendly_errors():
        settings = get_settings()
        engine = _engine(settings, migrate)
        try:
            with write_session(make_sessionmaker(engine)) as session:
                return fn(session, settings)
        finally:
            engine.dispose()


def _ctx(session: Session, settings: Settings, user: str | None) -> Any:
    """A service context acting as ``user`` (``--user``); without one, the command line acts
    as an administrator of its own database."""
    from ordertrail.auth import service as auth
    from ordertrail.calendar.cli import cli_ctx
    from ordertrail.context import Ctx
    from ordertrail.kit.clock import SystemClock

    if not user:
        return cli_ctx(session, settings)
    actor = auth.actor_of(auth.get_user(session, user), source="cli")
    return Ctx(session=session, actor=actor, clock=SystemClock(), settings=settings)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# db ---------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations and install the built-in flows."""
    with friendly_errors():
        settings = get_settings()
        engine = _engine(settings)
        from ordertrail.migrate import current

        typer.echo(f"database at revision {current(engine)} ({engine.url.render_as_string()})")
        engine.dispose()


# flows ------------------------------------------------------------------------------


@flow_app.command("validate")
def flow_validate(file: Annotated[Path, typer.Argument(help="YAML flow file")]) -> None:
    """Check a flow file; every problem names its line and stage. Exit 1 if any."""
    from ordertrail.flow.validate import check_flow

    with friendly_errors():
        text = file.read_text(encoding="utf-8")
    flow, _raw, problems = check_flow(text)
    if problems:
        for p in problems:
            typer.echo(f"{file}:{p}", err=True)
        typer.echo(f"{file}: {len(problems)} problem(s)", err=True)
        raise typer.Exit(1)
    assert flow is not None
    typer.echo(f"{file}: flow {flow.id!r} is valid ({len(flow.stages)} stages, "
               f"{len(flow.transitions)} transitions)")


@flow_app.command("list")
def flow_list() -> None:
    """List flows with their latest version."""
    from ordertrail.flow import repository as repo

    def run(session: Session, _s: Settings) -> None:
        for row in repo.all_latest(session):
            typer.echo(f"{row.flow_id:<20} v{row.version:<4} {row.name_en} / {row.name_zh}")

    with_session(run)


@flow_app.command("show")
def flow_show(flow_id: str, version: Annotated[int | None, typer.Option()] = None) -> None:
    """Print a flow version's YAML source."""
    from ordertrail.flow import service

    def run(session: Session, _s: Settings) -> None:
        row = service.get_version(session, flow_id, version)
        typer.echo(f"# {row.flow_id} version {row.version}", err=True)
        typer.echo(row.source.rstrip())

    with_session(run)


@flow_app.command("publish")
def flow_publish(file: Annotated[Path, typer.Argument(help="YAML flow file")]) -> None:
    """Publish a flow file as its flow's next version."""
    from ordertrail.flow import service
    from ordertrail.kit.clock import SystemClock

    with friendly_errors():
        text = file.read_text(encoding="utf-8")

    def run(session: Session, _s: Settings) -> None:
        row = service.publish(session, text, SystemClock())
        typer.echo(f"published {row.flow_id} version {row.version}")

    with_session(run)


# users and keys ---------------------------------------------------------------------


@user_app.command("create")
def user_create(
    name: str,
    role: Annotated[list[str], typer.Option("--role", help="repeat for several roles")],
    display_name: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a user with one or more roles."""
    from ordertrail.auth import service as auth
    from ordertrail.kit.clock import SystemClock

    def run(session: Session, _s: Settings) -> None:
        user = auth.create_user(session, name, role, SystemClock(), display_name=display_name,
                                email=email)
        typer.echo(f"created user {user.name} with roles {', '.join(user.roles)}")

    with_session(run)


@apikey_app.command("create")
def apikey_create(user: Annotated[str, typer.Option("--user", help="user name")],
                  label: Annotated[str | None, typer.Option()] = None) -> None:
    """Create an API key; the key is printed alone on the last line, once."""
    from ordertrail.auth import service as auth
    from ordertrail.kit.clock import SystemClock

    def run(session: Session, _s: Settings) -> str:
        owner = auth.get_user(session, user)
        _row, key = auth.create_api_key(session, owner, SystemClock(), label)
        return key

    key = with_session(run)
    typer.echo(f"API key for {user} (shown once; store it now):")
    typer.echo(key)


@apikey_app.command("revoke")
def apikey_revoke(key: Annotated[str, typer.Argument(help="the key, or its 12-character prefix")],
                  ) -> None:
    """Revoke an API key (running servers stop accepting it within 10 seconds)."""
    from ordertrail.auth import service as auth
    from ordertrail.kit.clock import SystemClock

    def run(session: Session, _s: Settings) -> None:
        row = auth.revoke_api_key(session, key, SystemClock())
        typer.echo(f"revoked API key ot_{row.prefix}_…")

    with_session(run)


@user_app.command("deactivate")
def user_deactivate(name: str) -> None:
    """Deactivate a user: their API keys stop working; their history stays."""
    from ordertrail.auth import service as auth

    def run(session: Session, _s: Settings) -> None:
        auth.deactivate_user(session, name)
        typer.echo(f"deactivated user {name}")

    with_session(run)


# orders -----------------------------------------------------------------------------


def _parse_line(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) != 4:
        fail(f"--line {text!r}: expected SKU:NAME:QTY:UNIT_PRICE")
    sku, name, qty, price = parts
    try:
        return {"sku": sku, "name": name, "qty": Decimal(qty), "unit_price": Decimal(price)}
    except InvalidOperation:
        fail(f"--line {text!r}: QTY and UNIT_PRICE must be numbers")


@order_app.command("create")
def order_create(
    flow: Annotated[str, typer.Option(help="flow id, e.g. make_to_order")],
    customer: Annotated[str, typer.Option(help="customer name")],
    line: Annotated[list[str], typer.Option(help="SKU:NAME:QTY:UNIT_PRICE; repeat")],
    user: Annotated[str, typer.Option("--as", help="acting user name")],
    phone: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    city: Annotated[str | None, typer.Option()] = None,
    province: Annotated[str | None, typer.Option()] = None,
    promised_at: Annotated[str | None, typer.Option(help="ISO time with offset")] = None,
    external_ref: Annotated[str | None, typer.Option()] = None,
    currency: Annotated[str, typer.Option()] = "CNY",
) -> None:
    """Create an order; prints its order number."""
    from ordertrail.order import service
    from ordertrail.order.schemas import OrderCreate

    lines = [_parse_line(item) for item in line]
    with friendly_errors():
        body = OrderCreate.model_validate({
            "flow": flow, "customer": {"name": customer, "phone": phone, "email": email,
                                       "city": city, "province": province},
            "lines": lines, "promised_at": promised_at, "external_ref": external_ref,
            "currency": currency})

    def run(session: Session, settings: Settings) -> None:
        order = service.create_order(_ctx(session, settings, user), body)
        typer.echo(f"created {order.order_no} ({order.flow_id}, stage {order.stage}, "
                   f"total {order.total} {order.currency})")

    with_session(run)


@order_app.command("show")
def order_show(order_no: str,
               as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
               ) -> None:
    """Show an order and its timeline."""
    from ordertrail.context import SYSTEM_ACTOR, Ctx
    from ordertrail.kit.clock import SystemClock
    from ordertrail.order import read, service

    def run(session: Session, settings: Settings) -> None:
        ctx = Ctx(session=session, actor=SYSTEM_ACTOR, clock=SystemClock(), settings=settings)
        order = read.order_read(ctx, service.get_order(ctx, order_no))
        tl = read.timeline(ctx, order_no)
        if as_json:
            _print_json({"order": order.model_dump(mode="json"),
                         "timeline": tl.model_dump(mode="json")["items"]})
            return
        typer.echo(f"{order.order_no}  {order.flow} v{order.flow_version}  stage "
                   f"{order.stage} ({order.stage_name.en})  {order.status}")
        typer.echo(f"customer {order.customer.name}  total {order.total} {order.currency}  "
                   f"promised {order.promised_at or '-'}")
        for item in tl.items:
            move = f"{item.from_stage or ''} -> {item.to_stage}" if item.to_stage else ""
            typer.echo(f"  {item.at:%Y-%m-%d %H:%M:%S}Z  {item.kind:<10} {item.actor} "
                       f"({item.role or '-'}, {item.source})  {move}  {item.note or ''}".rstrip())

    with_session(run)


@order_app.command("list")
def order_list(
    stage: Annotated[str | None, typer.Option()] = None,
    flow: Annotated[str | None, typer.Option()] = None,
    q: Annotated[str | None, typer.Option(help="search text")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """List orders, newest first."""
    from ordertrail.order import repository as repo

    def run(session: Session, _s: Settings) -> None:
        flt = repo.OrderFilter(stage=[stage] if stage else [], flow=flow, q=q)
        rows, _cursor = repo.list_orders(session, flt, "-created_at", None, limit)
        for o in rows:
            typer.echo(f"{o.order_no:<20} {o.flow_id:<14} {o.stage:<16} {o.status:<10} "
                       f"{o.total:>12} {o.currency}  {o.customer_name}")

    with_session(run)


@order_app.command("advance")
def order_advance(
    order_no: str,
    to: Annotated[str, typer.Option(help="target stage id")],
    user: Annotated[str, typer.Option("--as", help="acting user name")],
    note: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Move an order to another stage, as a given user."""
    from ordertrail.flow.planner import Advance
    from ordertrail.order import service

    def run(session: Session, settings: Settings) -> None:
        order = service.act(_ctx(session, settings, user), order_no, Advance(to, note))
        typer.echo(f"{order.order_no} is now at {order.stage}")

    with_session(run)


# server, demo, bench ----------------------------------------------------------------


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="default ORDERTRAIL_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default ORDERTRAIL_PORT")] = None,
) -> None:
    """Upgrade the database and serve the API (docs at /docs)."""
    import uvicorn

    from ordertrail.app import create_app

    with friendly_errors():
        settings = get_settings()
        _engine(settings).dispose()
        application = create_app(settings, background=True)
    uvicorn.run(application, host=host or settings.host, port=port or settings.port,
                log_level="info", access_log=False)


@app.command("demo")
def demo(
    orders: Annotated[int, typer.Option(help="how many orders to generate")] = 3000,
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="only build the data")] = False,
    seed: Annotated[int, typer.Option()] = 20261121,
    sim_speed: Annotated[float, typer.Option(
        min=0.001, hidden=True, help="simulated carrier: simulated seconds per real second "
        "(tests play journeys in a second with 200000)")] = 3600.0,
) -> None:
    """Build a demo database with realistic orders and parcels, then serve it with a simulated
    carrier and print ready keys and a walkthrough."""
    import signal

    from ordertrail.demo.alerting import demo_settings, start_receiver
    from ordertrail.demo.generate import MANAGERS, build_demo
    from ordertrail.demo.live import SimUnavailable, start_sim

    with friendly_errors():
        settings = demo_settings(get_settings())
        engine = _engine(settings)
        report = build_demo(engine, settings, orders=orders, seed=seed)
        engine.dispose()
    h, p = host or settings.host, port or settings.port
    base = f"http://{h}:{p}"
    if no_serve:
        typer.echo(report.render(base))
        return
    try:
        sim = start_sim(speed=sim_speed)
    except SimUnavailable as exc:
        fail(f"the simulated carrier did not start: {exc}")
    receiver = None
    try:
        import uvicorn

        from ordertrail.app import create_app
        from ordertrail.db import make_engine, make_sessionmaker

        with friendly_errors():
            engine = make_engine(settings.database_url)
            receiver = start_receiver(make_sessionmaker(engine), settings, MANAGERS[0])
            engine.dispose()
        # Where the simulator pushes: this server, reachable locally whatever it listens on.
        local = "127.0.0.1" if h in ("0.0.0.0", "::", "") else h
        live = sim.settings_for(settings, f"http://{local}:{p}")
        typer.echo(f"Simulated carrier: {sim.url} (process {sim.pid}, speed {sim_speed:g}: a "
                   f"simulated day takes {86400 / sim_speed:.3g} s); it stops with the demo.")
        typer.echo(report.render(base, sim_url=sim.url, sim_speed=sim_speed,
                                 receiver=(receiver.url, str(receiver.log))))

        def stop(_signum: int, _frame: object) -> None:
            raise SystemExit(143)

        # uvicorn shuts down on SIGTERM, then raises it again: end through `finally` then.
        previous = signal.signal(signal.SIGTERM, stop)
        try:
            uvicorn.run(create_app(live, background=True), host=h, port=p,
                        log_level="warning", access_log=False)
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        if receiver is not None:
            receiver.stop()
        sim.stop()


@app.command("bench")
def bench(
    orders: Annotated[int, typer.Option(help="orders stored for the read figures")] = 1_000_000,
    quick: Annotated[bool, typer.Option(help="small sizes, for a smoke run or CI")] = False,
    postgres_url: Annotated[str | None, typer.Option(
        envvar="ORDERTRAIL_BENCH_POSTGRES_URL",
        help="also measure on PostgreSQL (scratch schemas, dropped afterwards; the large read "
             "dataset is kept in schema ot_bench_data_<orders>)")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="where the large SQLite read dataset is cached (default bench/.data)")] = None,
    figure: Annotated[list[str] | None, typer.Option(
        help="only these figure groups: create, http, read, shipments, detect, alerts, jobs, "
             "webhooks, inventory; repeat")] = None,
    sqlite: Annotated[bool, typer.Option(help="measure on SQLite")] = True,
) -> None:
    """Measure the speed figures; prints one JSON line per figure (progress on stderr)."""
    from ordertrail.benchmarks.run import FIGURES, run_all

    with friendly_errors():
        run_all(get_settings(), orders=orders, quick=quick, postgres_url=postgres_url,
                data_dir=data_dir, figures=tuple(figure or FIGURES), sqlite=sqlite)


def main() -> None:
    """Entry point: usage mistakes are bad input too, so they exit 1 with one line."""
    try:
        code = app(standalone_mode=False)
    except TyperException as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())
            sys.exit(0)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        typer.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(1)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)

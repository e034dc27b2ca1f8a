"""`ordertrail calendar …`: due times, list, show, set (from YAML), rm."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from ordertrail.config import Settings

app = typer.Typer(help="Business calendars: due, list, show, set, rm.", no_args_is_help=True)


def _base() -> Any:
    from ordertrail import cli  # the root CLI owns sessions and error handling

    return cli


def cli_ctx(session: Session, settings: Settings) -> Any:
    """The command line acts as an administrator of its own database."""
    from ordertrail.context import Ctx
    from ordertrail.flow.plans import ADMIN, Actor
    from ordertrail.kit.clock import SystemClock

    actor = Actor(user_id=None, name="cli", roles=frozenset({ADMIN}), source="cli")
    return Ctx(session=session, actor=actor, clock=SystemClock(), settings=settings)


def _run(calendar_id: str, fn: Any) -> None:
    """Run ``fn(ctx)`` without a database for built-in calendars, else in a session."""
    from ordertrail.calendar.builtin import BUILTINS
    from ordertrail.config import get_settings

    base = _base()
    if calendar_id in BUILTINS:
        with base.friendly_errors():
            fn(cli_ctx(None, get_settings()))  # type: ignore[arg-type]
        return
    base.with_session(lambda session, settings: fn(cli_ctx(session, settings)))


@app.command("due")
def due(
    start: Annotated[str, typer.Option(help="ISO time with offset, e.g. "
                                            "2026-09-30T17:00:00+08:00")],
    duration: Annotated[str, typer.Option(help="e.g. 90s, 30m, 2h, 1.5h, 1d 4h")],
    calendar: Annotated[str, typer.Option(help="calendar id")] = "cn",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print when DURATION of working time after START runs out."""
    from ordertrail.calendar.endpoints import due_read

    def run(ctx: Any) -> None:
        r = due_read(ctx, calendar, start, duration)
        if json_out:
            _base()._print_json(r.model_dump(mode="json"))
            return
        typer.echo(f"{r.due_local.isoformat()}  ({r.due_at.isoformat().replace('+00:00', 'Z')}"
                   f"; {r.duration} = {r.business_seconds:g} s of working time in "
                   f"{r.calendar})")

    _run(calendar, run)


@app.command("list")
def list_() -> None:
    """Built-in and company calendars."""
    from ordertrail.calendar import service

    def run(session: Session, _s: Settings) -> None:
        for c in service.list_calendars(session):
            kind = "built-in" if c.builtin else f"custom{' on ' + c.base if c.base else ''}"
            typer.echo(f"{c.id:<16} {c.timezone:<16} {kind:<16} {c.name}")

    _base().with_session(run)


@app.command("show")
def show(
    calendar_id: Annotated[str, typer.Argument(metavar="ID")],
    first: Annotated[str | None, typer.Option("--from", help="first date, YYYY-MM-DD")] = None,
    last: Annotated[str | None, typer.Option("--to", help="last date, YYYY-MM-DD")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A calendar's hours and, with --from/--to, each day's kind (working, off, holiday,
    makeup)."""
    from ordertrail.calendar import service
    from ordertrail.calendar.endpoints import days_read

    def run(ctx: Any) -> None:
        cal = service.get_calendar(ctx.session, calendar_id)
        info = (service.calendar_read(cal) if ctx.session is None
                else service.read_calendar(ctx.session, calendar_id))
        days = None
        if first or last:
            days = days_read(ctx, calendar_id, _date(first, "--from"), _date(last, "--to"))
        if json_out:
            data = info.model_dump(mode="json")
            if days is not None:
                data["days"] = [d.model_dump(mode="json") for d in days.days]
            _base()._print_json(data)
            return
        typer.echo(f"{info.id}: {info.name}")
        typer.echo(f"  time zone   {info.timezone}")
        typer.echo(f"  working day {info.day_seconds / 3600:g} h")
        for day, hours in info.hours.items():
            typer.echo(f"  {day:<11} {', '.join(hours)}")
        if info.base:
            typer.echo(f"  base        {info.base}")
        if info.source:
            typer.echo(f"  holidays    {info.source}")
        if info.holidays:
            typer.echo(f"  days off    {', '.join(info.holidays)}")
        if info.workdays:
            typer.echo(f"  workdays    {', '.join(info.workdays)}")
        for d in days.days if days else []:
            typer.echo(f"  {d.date} {d.date.strftime('%a')} {d.kind:<8} {' '.join(d.hours)}")

    _run(calendar_id, run)


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option}: bad date {text!r}: use YYYY-MM-DD") from None


@app.command("set")
def set_(file: Annotated[Path, typer.Argument(help="YAML calendar file")]) -> None:
    """Create or replace a company calendar from YAML (id, name, timezone, base, hours,
    holidays, workdays)."""
    import yaml

    from ordertrail.calendar import service
    from ordertrail.calendar.schemas import CalendarIn

    base = _base()
    with base.friendly_errors():
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError(f"{file}: expected a mapping with id, name, hours, ...")
        calendar_id = raw.pop("id", None)
        if not isinstance(calendar_id, str):
            raise ValueError(f"{file}: id: give the calendar id, e.g. id: acme")
        data = CalendarIn.model_validate(raw)

    def run(session: Session, settings: Settings) -> None:
        c = service.put_calendar(cli_ctx(session, settings), calendar_id, data)
        typer.echo(f"calendar {c.id} saved ({c.timezone}, working day "
                   f"{c.day_seconds / 3600:g} h)")

    base.with_session(run)


@app.command("rm")
def rm(calendar_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Remove a company calendar."""
    from ordertrail.calendar import service

    def run(session: Session, settings: Settings) -> None:
        service.delete_calendar(cli_ctx(session, settings), calendar_id)
        typer.echo(f"calendar {calendar_id} removed")

    _base().with_session(run)

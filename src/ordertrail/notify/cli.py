"""CLI: `ordertrail notify …`: channels, the delivery log, recorded messages, tests."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from ordertrail.config import Settings

app = typer.Typer(help="Notification channels and the delivery log.", no_args_is_help=True)
channel_app = typer.Typer(help="Channels of users and roles (Apprise URLs).",
                          no_args_is_help=True)
app.add_typer(channel_app, name="channel")


def _base() -> Any:
    from ordertrail import cli  # the root CLI owns sessions and error handling

    return cli


def _ctx(session: Session, settings: Settings) -> Any:
    from ordertrail.context import Ctx
    from ordertrail.flow.plans import Actor
    from ordertrail.kit.clock import SystemClock

    actor = Actor(user_id=None, name="cli", roles=frozenset({"admin"}), source="cli")
    return Ctx(session=session, actor=actor, clock=SystemClock(), settings=settings)


@channel_app.command("add")
def channel_add(
    url: Annotated[str, typer.Option("--url", help="Apprise URL, e.g. wecombot://KEY")],
    user: Annotated[str | None, typer.Option("--user", help="user name")] = None,
    role: Annotated[str | None, typer.Option("--role", help="role name")] = None,
    kind: Annotated[str | None, typer.Option(help="label; default: from the scheme")] = None,
    locale: Annotated[str | None, typer.Option(help="zh-CN or en")] = None,
    quiet_calendar: Annotated[str | None, typer.Option(
        "--quiet-calendar", help="calendar id (cn, 24x7, …): outside its working time "
        "messages wait")] = None,
    digest: Annotated[str, typer.Option(help="none, hourly or daily")] = "none",
) -> None:
    """Add a channel for a user (--user) or a role (--role)."""
    from ordertrail.notify import service
    from ordertrail.notify.schemas import ChannelCreate

    base = _base()
    if (user is None) == (role is None):
        base.fail("give exactly one of --user NAME or --role ROLE")
    with base.friendly_errors():
        body = ChannelCreate.model_validate({
            "owner_type": "user" if user else "role", "owner": user or role, "url": url,
            "kind": kind, "locale": locale, "quiet_calendar": quiet_calendar,
            "digest": digest})

    def run(session: Session, settings: Settings) -> None:
        row = service.create_channel(_ctx(session, settings), body)
        typer.echo(f"channel {row.id}: {row.owner_type} {row.owner} {row.kind} "
                   f"{_masked(row.url)} ({row.locale})")

    base.with_session(run)


def _masked(url: str) -> str:
    from ordertrail.notify.channels import mask_url

    return mask_url(url)


@channel_app.command("list")
def channel_list(
    user: Annotated[str | None, typer.Option("--user")] = None,
    role: Annotated[str | None, typer.Option("--role")] = None,
) -> None:
    """List channels (URLs masked)."""
    from ordertrail.notify import service

    def run(session: Session, settings: Settings) -> None:
        rows = service.list_channels(_ctx(session, settings),
                                     "user" if user else "role" if role else None, user or role)
        if not rows:
            typer.echo("no channels")
        for r in rows:
            flags = [r.locale, f"digest={r.digest}"]
            if r.quiet_calendar:
                flags.append(f"quiet={r.quiet_calendar}")
            if not r.enabled:
                flags.append("disabled")
            typer.echo(f"{r.id:>4}  {r.owner_type:<4} {r.owner:<16} {r.kind:<9} "
                       f"{_masked(r.url):<32} {' '.join(flags)}")

    _base().with_session(run)


@channel_app.command("rm")
def channel_rm(channel_id: int) -> None:
    """Remove a channel."""
    from ordertrail.notify import service

    def run(session: Session, settings: Settings) -> None:
        service.delete_channel(_ctx(session, settings), channel_id)
        typer.echo(f"removed channel {channel_id}")

    _base().with_session(run)


@app.command("log")
def log_cmd(
    order: Annotated[str | None, typer.Option("--order", help="order number")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="in_app, email, …")] = None,
    state: Annotated[str | None, typer.Option("--state")] = None,
    alert: Annotated[int | None, typer.Option("--alert", help="alert id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """The delivery log, newest first."""
    from ordertrail.notify import service

    def run(session: Session, settings: Settings) -> None:
        rows = service.log(_ctx(session, settings), order_no=order, channel=channel,
                           state=state, alert_id=alert, limit=limit)
        if not rows:
            typer.echo("no notifications")
        for n in rows:
            err = f"  ({n.last_error})" if n.last_error else ""
            typer.echo(f"{n.id:>6}  {n.created_at:%Y-%m-%d %H:%M}Z  {n.state:<9} "
                       f"{n.channel:<8} {n.recipient_type}:{n.recipient:<14} {n.subject}{err}")

    _base().with_session(run)


@app.command("recorded")
def recorded(
    target: Annotated[str | None, typer.Option(help="e.g. record://ops")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """What the recording channel (record://) received."""
    from ordertrail.notify import service

    def run(session: Session, settings: Settings) -> None:
        rows = service.recorded(_ctx(session, settings), target, limit)
        if not rows:
            typer.echo("no recorded messages")
        for m in rows:
            typer.echo(f"{m.id:>6}  {m.at:%Y-%m-%d %H:%M}Z  {m.target}  {m.title}")
            for line in m.body.splitlines():
                typer.echo(f"        {line}")

    _base().with_session(run)


@app.command("test")
def test_cmd(channel_id: int) -> None:
    """Send a test message through a channel now and say whether it went out."""
    from ordertrail.db import make_sessionmaker, write_session
    from ordertrail.kit.clock import SystemClock
    from ordertrail.models.notify import Notification
    from ordertrail.notify import sender, service

    base = _base()
    with base.friendly_errors():
        from ordertrail.config import get_settings

        settings = get_settings()
        engine = base._engine(settings)
        try:
            factory = make_sessionmaker(engine)
            with write_session(factory) as session:
                note_id = service.queue_test(_ctx(session, settings), channel_id).id
            sender.send_due(factory, SystemClock(), settings, "cli-test", 1, [note_id])
            with factory() as session:
                row = session.get(Notification, note_id)
                assert row is not None
                state, error = row.state, row.last_error
        finally:
            engine.dispose()
    if state != "sent":
        base.fail(f"channel {channel_id}: not delivered ({state}): {error}")
    typer.echo(f"channel {channel_id}: test message sent")

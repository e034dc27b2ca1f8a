"""`ordertrail webhooks …`: subscriptions, deliveries, replay, the delivery pump, and a local
receiver."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from ordertrail.config import Settings

app = typer.Typer(help="Outbound webhooks: add, list, show, deliveries, replay, enable, "
                       "disable, rm, deliver, receive.", no_args_is_help=True)
AsUser = Annotated[str | None, typer.Option("--as", help="acting user name (default: the "
                                                         "local operator)")]


def _base() -> Any:
    from ordertrail import cli  # the root CLI owns sessions and error handling

    return cli


def _ctx(session: Session, settings: Settings, user: str | None) -> Any:
    return _base()._ctx(session, settings, user)


def _show(row: Any) -> str:
    state = "enabled" if row.enabled else f"DISABLED ({row.disabled_reason})"
    return (f"{row.id:>4}  {row.url}  [{', '.join(row.events)}]  {state}  "
            f"pending {row.pending}")


@app.command("add")
def add(url: str,
        event: Annotated[list[str], typer.Option("--event", "-e", help="event type, "
                                                 "'prefix.*' or '*'; repeat")],
        description: Annotated[str | None, typer.Option()] = None,
        user: AsUser = None) -> None:
    """Subscribe URL to events; prints the signing secret (shown only now)."""
    from ordertrail.webhooks import service
    from ordertrail.webhooks.schemas import WebhookCreate

    base = _base()
    with base.friendly_errors():
        body = WebhookCreate(url=url, events=event, description=description)

    def run(session: Session, settings: Settings) -> None:
        row, secret = service.create_endpoint(_ctx(session, settings, user), body)
        typer.echo(f"webhook {row.id}: {row.url} [{', '.join(row.events)}]")
        typer.echo(f"secret: {secret}")
        typer.echo("(the secret is shown only now; receivers verify signatures with it)")

    base.with_session(run)


@app.command("list")
def list_(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every subscription."""
    from ordertrail.webhooks import service

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        rows = service.list_endpoints(_ctx(session, settings, None))
        if json_out:
            base._print_json([r.model_dump(mode="json") for r in rows])
            return
        for r in rows:
            typer.echo(_show(r))
        if not rows:
            typer.echo("no webhooks")

    base.with_session(run)


@app.command("show")
def show(webhook_id: int) -> None:
    """One subscription with its message counts (JSON)."""
    from ordertrail.webhooks import service

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        ctx = _ctx(session, settings, None)
        base._print_json({**service.read_one(ctx, webhook_id).model_dump(mode="json"),
                          "messages": service.message_counts(session, webhook_id)})

    base.with_session(run)


@app.command("deliveries")
def deliveries(webhook_id: int,
               state: Annotated[str | None, typer.Option(help="pending, delivered or "
                                                              "failed")] = None,
               event_type: Annotated[str | None, typer.Option("--event")] = None,
               limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
               json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The latest messages of a subscription with their attempts."""
    from ordertrail.webhooks import service

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        page = service.deliveries(_ctx(session, settings, None), webhook_id, state=state,
                                  event_type=event_type, limit=limit)
        if json_out:
            base._print_json(page.model_dump(mode="json"))
            return
        for m in page.items:
            typer.echo(f"{m.msg_id:<24} {m.event_type:<26} {m.state:<9} tries {m.attempts}"
                       f"  {m.last_error or ''}")
            for a in m.tries:
                typer.echo(f"    {a.at:%Y-%m-%d %H:%M:%S}Z  {a.status_code or '-':>3}  "
                           f"{a.latency_ms:>5} ms  {a.trigger:<6} {a.error or ''}")
        if not page.items:
            typer.echo("no messages")

    base.with_session(run)


@app.command("replay")
def replay(webhook_id: int,
           msg_id: Annotated[str | None, typer.Argument(help="message id (msg_…)")] = None,
           since: Annotated[datetime | None, typer.Option(
               help="instead: replay every failed message created since (ISO 8601)")] = None,
           user: AsUser = None) -> None:
    """Send a message again with the same webhook-id (or all failed ones --since)."""
    from ordertrail.kit.clock import ensure_utc
    from ordertrail.webhooks import service

    base = _base()
    if (msg_id is None) == (since is None):
        base.fail("give a MSG_ID or --since, not both")

    def run(session: Session, settings: Settings) -> None:
        ctx = _ctx(session, settings, user)
        if msg_id is not None:
            msg = service.replay(ctx, webhook_id, msg_id)
            typer.echo(f"{msg.msg_id} queued again")
            return
        assert since is not None
        when = ensure_utc(since) if since.tzinfo else since.astimezone()
        msgs = service.replay_since(ctx, webhook_id, when)
        typer.echo(f"{len(msgs)} failed message(s) queued again")

    base.with_session(run)


def _toggle(webhook_id: int, enabled: bool, user: str | None) -> None:
    from ordertrail.webhooks import service
    from ordertrail.webhooks.schemas import WebhookUpdate

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        row = service.update_endpoint(_ctx(session, settings, user), webhook_id,
                                      WebhookUpdate(enabled=enabled), check_address=False)
        typer.echo(f"webhook {row.id} {'enabled' if row.enabled else 'disabled'}")

    base.with_session(run)


@app.command("enable")
def enable(webhook_id: int, user: AsUser = None) -> None:
    """Enable a subscription (resets its failure streak; pending messages go out)."""
    _toggle(webhook_id, True, user)


@app.command("disable")
def disable(webhook_id: int, user: AsUser = None) -> None:
    """Stop deliveries to a subscription: no new events are queued for it, pending ones
    wait until it is enabled again."""
    _toggle(webhook_id, False, user)


@app.command("rm")
def rm(webhook_id: int, user: AsUser = None) -> None:
    """Remove a subscription and its delivery log."""
    from ordertrail.webhooks import service

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        service.delete_endpoint(_ctx(session, settings, user), webhook_id)
        typer.echo(f"webhook {webhook_id} removed")

    base.with_session(run)


@app.command("rotate-secret")
def rotate_secret(webhook_id: int, user: AsUser = None) -> None:
    """A new signing secret (printed once), used from the next delivery on."""
    from ordertrail.webhooks import service

    base = _base()
    base.with_session(lambda session, settings: typer.echo(
        f"secret: {service.rotate_secret(_ctx(session, settings, user), webhook_id)}"))


@app.command("test")
def test(webhook_id: int, user: AsUser = None) -> None:
    """Queue a webhook.test message for a subscription."""
    from ordertrail.webhooks import service

    base = _base()
    base.with_session(lambda session, settings: typer.echo(
        f"{service.send_test(_ctx(session, settings, user), webhook_id).msg_id} queued"))


@app.command("deliver")
def deliver(once: Annotated[bool, typer.Option(help="deliver what is due, then stop")] = False,
            lease: Annotated[float, typer.Option(hidden=True, min=0.1,
                                                 help="lease seconds (tests)")] = 30.0,
            ) -> None:
    """Run the delivery pump in the foreground (`ordertrail worker` also runs it)."""
    import os
    import signal
    import socket
    import threading

    from ordertrail.db import make_sessionmaker
    from ordertrail.kit.clock import SystemClock
    from ordertrail.webhooks.deliver import Deliverer

    base = _base()
    with base.friendly_errors():
        settings = base.get_settings()
        engine = base._engine(settings)
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        deliverer = Deliverer(make_sessionmaker(engine), SystemClock(), settings,
                              f"{socket.gethostname()}:{os.getpid()}:webhooks",
                              lease=timedelta(seconds=lease), stopping=stopping)
        try:
            if once:
                typer.echo(f"{deliverer.run_until_idle()} deliveries tried")
                return
            while not stopping.is_set():
                try:
                    if deliverer.step() == 0:
                        stopping.wait(0.2)
                except KeyboardInterrupt:
                    stopping.set()
        finally:
            deliverer.close()
            engine.dispose()


@app.command("receive")
def receive(
    port: Annotated[int, typer.Option(help="port to listen on (0: any)")] = 8200,
    secret: Annotated[str | None, typer.Option(envvar="ORDERTRAIL_WEBHOOK_RECEIVER_SECRET",
                                               help="whsec_… secret to verify with")] = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    record: Annotated[Path | None, typer.Option(help="append deliveries as JSON lines")]
    = None,
    status: Annotated[int, typer.Option(min=100, max=599, help="answer with this status")]
    = 204,
    fast: Annotated[bool, typer.Option(help="answer 204 without verifying (benchmarks)")]
    = False,
) -> None:
    """A local receiver: verifies each webhook's signature, prints and records it."""
    from ordertrail.webhooks.receiver import Delivery, Receiver, run_fast

    if fast:
        run_fast(host, port, ready=lambda p: typer.echo(f"listening on {host}:{p}"))
        return

    def echo(d: Delivery) -> None:
        mark = {True: "verified", False: f"BAD SIGNATURE ({d.error})", None: "unverified"}
        typer.echo(f"{d.webhook_id}  {mark[d.verified]}  {d.body[:200]}")

    try:
        receiver = Receiver(secret=secret, host=host, port=port, record=record, echo=echo,
                            respond=(lambda d: (status, {}, b"")) if status != 204 else None)
        receiver.start()
    except (OSError, ValueError) as exc:
        _base().fail(f"the receiver did not start: {exc}")
    typer.echo(f"listening on {receiver.url}" + ("" if secret else
                                                  " (no --secret: not verifying)"))
    with contextlib.suppress(KeyboardInterrupt):
        receiver.serve_forever()

"""``ordertrail carriers simulate``: run the simulated carrier as an HTTP service."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from pydantic import ValidationError

from ordertrail.carrier.generic import signing

_RATE = {"min": 0.0, "max": 1.0}


def simulate(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8100,
    secret: Annotated[str | None, typer.Option(
        envvar="ORDERTRAIL_SIM_WEBHOOK_SECRET", show_envvar=True,
        help="Shared secret: clients send it as a Bearer token, pushes are signed with it "
             "(Standard Webhooks; whsec_<base64> or any text).")] = None,
    speed: Annotated[float, typer.Option(
        min=0.001, help="Simulated seconds per real second; 3600 plays a 3-day journey "
                        "in about 72 s.")] = 3600.0,
    seed: Annotated[int, typer.Option(help="Seed for scenarios, routes and misbehaviour.")] = 0,
    delay_rate: Annotated[float, typer.Option(**_RATE, help="Share of delayed parcels.")] = 0.10,
    failed_attempt_rate: Annotated[float, typer.Option(
        **_RATE, help="Share with a failed delivery attempt before delivery.")] = 0.08,
    return_rate: Annotated[float, typer.Option(
        **_RATE, help="Share refused and returned to the sender.")] = 0.03,
    lost_rate: Annotated[float, typer.Option(**_RATE, help="Share lost in transit.")] = 0.01,
    locker_rate: Annotated[float, typer.Option(
        **_RATE, help="Share left in a parcel locker or pickup station.")] = 0.15,
    customs_rate: Annotated[float, typer.Option(
        **_RATE, help="Share of cross-border parcels held in customs for papers.")] = 0.25,
    duplicate_rate: Annotated[float, typer.Option(
        **_RATE, help="Share of pushes sent twice.")] = 0.05,
    reorder_rate: Annotated[float, typer.Option(
        **_RATE, help="Share of events held back and pushed after the next one.")] = 0.05,
) -> None:
    """Run the simulated carrier: registrations, polls and signed pushes, no internet."""
    import uvicorn

    from ordertrail.carrier.sim.server import SimConfig, create_sim_app

    if not secret:
        typer.echo("error: a secret is needed: --secret or ORDERTRAIL_SIM_WEBHOOK_SECRET",
                   err=True)
        raise typer.Exit(1)
    try:
        signing.secret_key(secret)
        config = SimConfig(speed=speed, seed=seed, delay_rate=delay_rate,
                           failed_attempt_rate=failed_attempt_rate, return_rate=return_rate,
                           lost_rate=lost_rate, locker_rate=locker_rate,
                           customs_rate=customs_rate, duplicate_rate=duplicate_rate,
                           reorder_rate=reorder_rate)
    except ValidationError as exc:
        typer.echo(f"error: {exc.errors()[0]['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:
        typer.echo(f"error: secret: {exc}", err=True)
        raise typer.Exit(1) from None
    log = logging.getLogger("ordertrail.sim")
    if not log.handlers:  # push failures and retries, next to uvicorn's lines
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     sim: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    typer.echo(f"simulated carrier on http://{host}:{port} (speed {speed:g}: one simulated "
               f"day takes {86400 / speed:.3g} s); set ORDERTRAIL_SIM_URL=http://{host}:{port}")
    uvicorn.run(create_sim_app(secret, config), host=host, port=port, log_level="info")

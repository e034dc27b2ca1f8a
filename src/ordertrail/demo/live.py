"""The live part of ``ordertrail demo``: a simulated carrier running next to the server.

``start_sim`` runs ``ordertrail carriers simulate`` in a child process on a free port (8100
when it is free) with a fresh secret, waits until it answers, and ``SimCarrier.stop`` ends it.
The child is started through this module (``python -m ordertrail.demo.live``), which runs the
same command and also ends the child as soon as the demo process is gone: it holds the read
end of a pipe whose only writer is the demo process, so even a demo killed without a chance
to clean up (SIGKILL) leaves no simulator behind.

``live_parcels`` picks the demo orders and tracking numbers the printed walkthrough ships.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ordertrail.carrier.sim import journey as jr
from ordertrail.config import Settings
from ordertrail.demo.shipments import recognised
from ordertrail.models import Order, Shipment

HOST = "127.0.0.1"
PORT = 8100
# Simulated seconds per real second: a journey of two or three days plays in about a minute.
SPEED = 3600.0
SEED = 0
# The simulator re-sends this share of its pushes (its default is 0.05): often enough that
# the duplicates counter in /metrics moves while one parcel travels.
DUPLICATE_RATE = 0.25
START_TIMEOUT = 20.0


class SimUnavailable(Exception):
    """The simulated carrier did not start; the message says why, in one line."""


@dataclass
class SimCarrier:
    """A running simulator child process."""

    url: str
    secret: str
    speed: float
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def settings_for(self, settings: Settings, public_url: str) -> Settings:
        """``settings`` tracking new shipments through this simulator, pushing to us."""
        return settings.model_copy(update={
            "tracking_provider": "sim", "sim_url": self.url, "sim_webhook_secret": self.secret,
            "public_url": public_url})

    def stop(self, timeout: float = 5.0) -> None:
        """End the child (closing its pipe is enough; terminate and kill are the fallback)."""
        proc = self.process
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with contextlib.suppress(OSError):
            self.log.unlink()


def free_port(host: str = HOST, preferred: int = PORT) -> int:
    """``preferred`` if nothing listens there, else a port the system hands out."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # As uvicorn binds: connections of a previous run in TIME_WAIT do not count.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise SimUnavailable(f"no free port on {host}")


def start_sim(speed: float = SPEED, host: str = HOST, port: int | None = None,
              timeout: float = START_TIMEOUT) -> SimCarrier:
    """Start the simulator and wait for its /healthz; SimUnavailable if it does not come up."""
    port = port or free_port(host)
    secret = secrets.token_urlsafe(24)
    fd, name = tempfile.mkstemp(prefix="ordertrail-sim-", suffix=".log")
    log = Path(name)
    args = [sys.executable, "-m", "ordertrail.demo.live", "--host", host, "--port", str(port),
            "--speed", f"{speed:g}", "--seed", str(SEED),
            "--duplicate-rate", f"{DUPLICATE_RATE:g}"]
    env = {**os.environ, "ORDERTRAIL_SIM_WEBHOOK_SECRET": secret}
    try:
        # Its own session: Ctrl-C goes to the demo, which stops the simulator after itself.
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=fd, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    except OSError as exc:
        os.close(fd)
        log.unlink(missing_ok=True)
        raise SimUnavailable(f"cannot run {sys.executable}: {exc}") from None
    os.close(fd)
    sim = SimCarrier(f"http://{host}:{port}", secret, speed, proc, log)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as http:
        while True:
            if proc.poll() is not None:
                reason = _last_line(log) or f"exit status {proc.returncode}"
                sim.stop()
                raise SimUnavailable(reason)
            with contextlib.suppress(httpx.HTTPError):
                if http.get(f"{sim.url}/healthz").status_code == 200:
                    return sim
            if time.monotonic() > deadline:
                sim.stop()
                raise SimUnavailable(f"no answer from {sim.url}/healthz after {timeout:g} s")
            time.sleep(0.1)


def _last_line(log: Path) -> str:
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    if not lines:
        return ""
    return re.sub(r" \(see '[^']*--help'\)$", "", lines[-1].removeprefix("error: "))


# The walkthrough's parcels -----------------------------------------------------------------


@dataclass(frozen=True)
class LiveParcel:
    """An order the walkthrough ships, the number it ships with, and what it will show."""

    order_no: str
    stage: str
    number: str
    scenario: str | None  # sent with the request; None: the simulator draws (normal here)
    length: timedelta     # of its journey, in simulated time


def live_parcels(session: Session, now: datetime) -> list[LiveParcel]:
    """Two orders waiting to ship (a retail order packed, a make-to-order order at outbound;
    a B2B order at picking if the demo has too few), with fresh numbers: an SF parcel that
    travels normally (the number is picked so that the simulator's own draw says so) and a
    YTO one asked to get lost."""
    shipped = exists().where(Shipment.order_id == Order.id)
    waiting = []  # per flow, the orders at the stage its shipping step leaves
    for flow, stage in (("retail", "packed"), ("make_to_order", "outbound"),
                        ("b2b_credit", "picking")):
        waiting.append(session.execute(
            select(Order.order_no, Order.stage, Order.customer_city)
            .where(Order.flow_id == flow, Order.stage == stage, Order.status == "active",
                   ~shipped)
            .order_by((Order.customer_country == "CN").desc(), Order.stage_entered_at.desc())
            .limit(2)).all())
    retail, mto, b2b = waiting
    picks = [*retail[:1], *mto[:1], *retail[1:], *mto[1:], *b2b]
    rng = random.Random()  # fresh numbers on every run
    out = []
    for (order_no, stage, city), (carrier, scenario) in zip(
            picks[:2], (("sf", None), ("yto", "lost")), strict=False):
        number, length = _number(session, rng, carrier, scenario, city, now)
        out.append(LiveParcel(order_no, stage, number, scenario, length))
    return out


def _number(session: Session, rng: random.Random, carrier: str, scenario: str | None,
            city: str | None, now: datetime) -> tuple[str, timedelta]:
    """A fresh number whose simulated journey ends as wanted, the quicker of a few."""
    prefix = {"sf": "SF14", "yto": "YT88"}[carrier]
    best: tuple[timedelta, str] | None = None
    for _ in range(200):
        number = prefix + "".join(rng.choices("0123456789", k=15 - len(prefix)))
        if not recognised(number, carrier) or session.scalar(
                select(Shipment.id).where(Shipment.tracking_number == number).limit(1)):
            continue
        j = jr.plan(number, carrier, now, scenario=scenario, seed=SEED, destination_city=city)
        if j.scenario != (scenario or "normal"):
            continue
        length = j.events[-1].offset
        if best is None or length < best[0]:
            best = (length, number)
            if length < timedelta(days=2 if scenario is None else 5):
                break
    if best is None:
        raise RuntimeError(f"no {carrier} number found for the walkthrough")
    return best[1], best[0]


# The child process -----------------------------------------------------------------------------


def _watch_parent() -> None:
    """End this process when the demo that started it is gone (its pipe closes)."""
    try:
        while os.read(0, 1024):  # the raw descriptor: no lock that shutdown would wait for
            pass
    finally:
        _exit(0)


def _exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> None:
    """``ordertrail carriers simulate`` with the given options, ended with the demo."""
    from ordertrail import cli

    threading.Thread(target=_watch_parent, name="demo-watch", daemon=True).start()
    sys.argv = ["ordertrail", "carriers", "simulate", *(sys.argv[1:] if argv is None else argv)]
    try:
        cli.main()
    except SystemExit as exc:  # leave at once: the watcher thread is still reading
        _exit(exc.code if isinstance(exc.code, int) else 1)
    _exit(0)


if __name__ == "__main__":
    main()

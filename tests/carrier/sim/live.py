"""Real HTTP for the simulator tests: servers in threads, a receiver that checks signatures."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from ordertrail.carrier.base import BadSignature, CarrierEvent, InboundRequest, TrackingUpdate
from ordertrail.carrier.sim.plugin import Sim

SECRET = "whsec_" + base64.b64encode(b"ordertrail-sim-test-key-32-bytes").decode()
T = TypeVar("T")

# Fast enough that a multi-day journey plays in well under a second.
FAST = {"speed": 1_000_000.0, "tick_seconds": 0.02, "retry_base_seconds": 0.02,
        "retry_max_seconds": 0.2, "push_timeout_seconds": 2.0,
        "duplicate_rate": 0.0, "reorder_rate": 0.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], T], timeout: float = 5.0, what: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


class Served:
    """A uvicorn server in a background thread."""

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> Served:
        self.thread.start()
        wait_for(lambda: self.server.started, 10, "the server to start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Push:
    msg_id: str
    updates: list[TrackingUpdate]
    received_at: float


@dataclass
class Receiver:
    """Records every push it accepts; refuses bad signatures; can be told to answer 503."""

    secret: str = SECRET
    pushes: list[Push] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)   # ids answered with an error
    status_code: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        app = FastAPI()
        plugin = Sim()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            inbound = InboundRequest(headers={k.lower(): v for k, v in request.headers.items()},
                                     body=await request.body())
            try:
                plugin.verify(inbound, {"webhook_secret": self.secret})
            except BadSignature as exc:
                with self.lock:
                    self.bad.append(exc.reason)
                return Response(status_code=401)
            if self.status_code != 200:
                with self.lock:
                    self.refused.append(inbound.headers["webhook-id"])
                return Response(status_code=self.status_code)
            updates = plugin.parse_push(inbound)
            with self.lock:
                self.pushes.append(Push(inbound.headers["webhook-id"], updates, time.time()))
            return Response(b'{"ok":true}', media_type="application/json")

        return app

    def events(self, number: str) -> list[CarrierEvent]:
        """Every event received for ``number``, in arrival order (duplicates included)."""
        with self.lock:
            return [e for p in self.pushes for u in p.updates if u.tracking_number == number
                    for e in u.events]

    def distinct(self, number: str) -> set[CarrierEvent]:
        return set(self.events(number))


@dataclass
class SimHandle:
    served: Served
    http: httpx.Client

    @property
    def url(self) -> str:
        return self.served.url

    def register(self, callback: str, *items: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post("/v1/register", json={"callback_url": callback,
                                                        "items": list(items)})
        response.raise_for_status()
        return response.json()

    def journey(self, number: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/journeys/{number}")
        response.raise_for_status()
        return response.json()

    def configure(self, **knobs: Any) -> dict[str, Any]:
        response = self.http.post("/v1/config", json=knobs)
        response.raise_for_status()
        return response.json()

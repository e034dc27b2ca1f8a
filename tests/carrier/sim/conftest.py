"""Fixtures that start simulators and receivers as real HTTP servers, stopped after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ordertrail.carrier.sim.server import SimConfig, create_sim_app

from .live import FAST, SECRET, Receiver, Served, SimHandle


@pytest.fixture
def start_sim() -> Iterator[Callable[..., SimHandle]]:
    """Start simulators (``start_sim(**config)``); all are stopped after the test."""
    started: list[SimHandle] = []

    def start(**config: Any) -> SimHandle:
        app = create_sim_app(SECRET, SimConfig(**{**FAST, **config}))
        served = Served(app).start()
        handle = SimHandle(served, httpx.Client(base_url=served.url, timeout=5,
                                                headers={"Authorization": f"Bearer {SECRET}"}))
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.http.close()
        handle.served.stop()


@pytest.fixture
def start_receiver() -> Iterator[Callable[..., tuple[Receiver, str]]]:
    """Start receivers (optionally on a given port); returns (receiver, callback URL)."""
    servers: list[Served] = []

    def start(port: int | None = None, receiver: Receiver | None = None) -> tuple[Receiver, str]:
        receiver = receiver or Receiver()
        served = Served(receiver.app(), port).start()
        servers.append(served)
        return receiver, f"{served.url}/hook"

    yield start
    for served in servers:
        served.stop()

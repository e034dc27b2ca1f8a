"""The ``sim`` provider plugin: the simulated carrier, in the generic format and signature."""

from __future__ import annotations

import time
from typing import ClassVar

import httpx

from ordertrail.carrier.base import (
    Credentials,
    InboundRequest,
    Provider,
    ProviderClient,
    TrackingUpdate,
)
from ordertrail.carrier.generic import parse, signing
from ordertrail.carrier.sim.client import SimClient


class Sim(Provider):
    """``ordertrail carriers simulate``: pushes signed webhooks and answers polls."""

    slug: ClassVar[str] = "sim"
    name: ClassVar[str] = "Simulated carrier"
    name_zh: ClassVar[str] = "模拟快递"
    credential_names: ClassVar[tuple[str, ...]] = ("url", "webhook_secret")
    batch_size: ClassVar[int] = 100
    requests_per_second: ClassVar[float] = 20.0
    can_push: ClassVar[bool] = True
    can_poll: ClassVar[bool] = True

    def verify(self, request: InboundRequest, creds: Credentials) -> None:
        """Raise BadSignature unless the push is signed with the sim secret, and fresh."""
        signing.verify(request.headers, request.body, creds.get("webhook_secret"),
                       now=time.time())

    def parse_push(self, request: InboundRequest) -> list[TrackingUpdate]:
        """The updates of a verified push (generic format)."""
        return parse.parse_body(request.body)

    def client(self, creds: Credentials, http: httpx.Client) -> ProviderClient | None:
        """A SimClient; it raises NotConfigured when the URL or the secret is missing."""
        return SimClient(creds.get("url"), creds.get("webhook_secret"), http)

"""The ``track17`` provider plugin (17TRACK API v2.2)."""

from __future__ import annotations

from typing import ClassVar

import httpx

from ordertrail.carrier.base import (
    Credentials,
    InboundRequest,
    Provider,
    ProviderClient,
    TrackingUpdate,
)
from ordertrail.carrier.track17 import codes, parse
from ordertrail.carrier.track17.client import Track17Client


class Track17(Provider):
    """17TRACK pushes (``sign`` = SHA-256 of body + "/" + key) and polls (gettrackinfo)."""

    slug: ClassVar[str] = "track17"
    name: ClassVar[str] = "17TRACK"
    name_zh: ClassVar[str] = "17TRACK"
    credential_names: ClassVar[tuple[str, ...]] = ("key",)
    timezone: ClassVar[str] = "UTC"
    batch_size: ClassVar[int] = codes.MAX_NUMBERS_PER_CALL
    requests_per_second: ClassVar[float] = codes.MAX_REQUESTS_PER_SECOND
    can_push: ClassVar[bool] = True
    can_poll: ClassVar[bool] = True

    def verify(self, request: InboundRequest, creds: Credentials) -> None:
        """Raise BadSignature unless the ``sign`` header matches the raw body and our key."""
        parse.verify_push(request.headers, request.body, creds.get("key"))

    def parse_push(self, request: InboundRequest) -> list[TrackingUpdate]:
        """The updates of a verified TRACKING_UPDATED or TRACKING_STOPPED push."""
        return parse.parse_push(request.body)

    def client(self, creds: Credentials, http: httpx.Client) -> ProviderClient | None:
        """A register/gettrackinfo client, or None while no key is configured."""
        key = creds.get("key")
        return Track17Client(http, key=key) if key else None

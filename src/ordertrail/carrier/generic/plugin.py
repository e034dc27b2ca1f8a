"""The ``generic`` provider plugin: Standard Webhooks signature, ordertrail JSON body."""

from __future__ import annotations

import time
from typing import ClassVar

from ordertrail.carrier.base import Credentials, InboundRequest, Provider, TrackingUpdate
from ordertrail.carrier.generic import parse, signing


class Generic(Provider):
    """Pushes in ordertrail's own format from in-house fleets, 3PLs and WMS."""

    slug: ClassVar[str] = "generic"
    name: ClassVar[str] = "Generic (ordertrail JSON)"
    name_zh: ClassVar[str] = "通用接口（ordertrail JSON）"
    credential_names: ClassVar[tuple[str, ...]] = ("webhook_secret",)
    can_push: ClassVar[bool] = True
    can_poll: ClassVar[bool] = False

    def verify(self, request: InboundRequest, creds: Credentials) -> None:
        """Raise BadSignature unless the Standard Webhooks signature matches and is fresh."""
        signing.verify(request.headers, request.body, creds.get("webhook_secret"),
                       now=time.time())

    def parse_push(self, request: InboundRequest) -> list[TrackingUpdate]:
        """The updates of a verified push."""
        return parse.parse_body(request.body)

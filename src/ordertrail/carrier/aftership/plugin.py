"""The AfterShip provider: verifies ``aftership-hmac-sha256`` and parses tracking webhooks.

Push only: AfterShip calls ordertrail's hook URL for every tracking it follows. Registering
numbers with AfterShip (and polling it) is not implemented, so ``can_poll`` is False.
"""

from __future__ import annotations

import hmac
from typing import ClassVar

from ordertrail.carrier.aftership import parse
from ordertrail.carrier.base import (
    BadSignature,
    Credentials,
    InboundRequest,
    Provider,
    TrackingUpdate,
)


class AfterShip(Provider):
    """AfterShip Tracking webhooks (``ORDERTRAIL_AFTERSHIP_WEBHOOK_SECRET``)."""

    slug: ClassVar[str] = "aftership"
    name: ClassVar[str] = "AfterShip"
    name_zh: ClassVar[str] = "AfterShip"
    credential_names: ClassVar[tuple[str, ...]] = ("webhook_secret",)
    can_push: ClassVar[bool] = True
    can_poll: ClassVar[bool] = False

    def verify(self, request: InboundRequest, creds: Credentials) -> None:
        """Raise BadSignature unless the body carries AfterShip's HMAC for our secret."""
        secret = creds.get("webhook_secret")
        if not secret:
            raise BadSignature("AfterShip webhook secret is not configured "
                               "(ORDERTRAIL_AFTERSHIP_WEBHOOK_SECRET)")
        given = _header(request, parse.SIGNATURE_HEADER)
        if not given:
            raise BadSignature(f"missing {parse.SIGNATURE_HEADER} header")
        expected = parse.sign(secret, request.body)
        if not hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("ascii")):
            raise BadSignature(f"{parse.SIGNATURE_HEADER} does not match the body")

    def parse_push(self, request: InboundRequest) -> list[TrackingUpdate]:
        """The tracking a verified webhook carries ([] for events that carry none)."""
        return parse.parse_webhook(request.body, fallback_tz=self.timezone)


def _header(request: InboundRequest, name: str) -> str | None:
    # Headers arrive lower-cased (InboundRequest contract); tolerate callers that forget.
    if (value := request.headers.get(name)) is not None:
        return value
    return next((v for k, v in request.headers.items() if k.lower() == name), None)

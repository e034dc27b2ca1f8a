"""The AfterShip provider: verifies ``aftership-hmac-sha256`` and parses tracking webhooks.

Push only: AfterShip calls ordertrail's hook URL for every tracking it follows. Registering
numbers with AfterShip (and polling it) is not implemented, so ``can_poll`` is False.
"""

from __future__ import annotations

from typing import ClassVar

from ordertrail.carrier import signing
from ordertrail.carrier.aftership import parse
from ordertrail.carrier.base import Credentials, InboundRequest, Provider, TrackingUpdate


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
        secret = signing.require_secret(creds.get("webhook_secret"),
                                        "AfterShip webhook secret is not configured "
                                        "(ORDERTRAIL_AFTERSHIP_WEBHOOK_SECRET)")
        given = signing.signed_header(request.headers, parse.SIGNATURE_HEADER)
        signing.check(given.strip(), parse.sign(secret, request.body),
                      f"{parse.SIGNATURE_HEADER} does not match the body")

    def parse_push(self, request: InboundRequest) -> list[TrackingUpdate]:
        """The tracking a verified webhook carries ([] for events that carry none)."""
        return parse.parse_webhook(request.body, fallback_tz=self.timezone)

"""The EasyPost provider: verifies ``X-Hmac-Signature`` and parses tracker webhook Events.

Push only: EasyPost posts an Event for every tracker change to the webhook registered in its
dashboard. Creating trackers (and polling them) is not implemented, so ``can_poll`` is False.
"""

from __future__ import annotations

from typing import ClassVar

from ordertrail.carrier import signing
from ordertrail.carrier.base import Credentials, InboundRequest, Provider, TrackingUpdate
from ordertrail.carrier.easypost import parse


class EasyPost(Provider):
    """EasyPost tracker webhooks (``ORDERTRAIL_EASYPOST_WEBHOOK_SECRET``)."""

    slug: ClassVar[str] = "easypost"
    name: ClassVar[str] = "EasyPost"
    name_zh: ClassVar[str] = "EasyPost"
    credential_names: ClassVar[tuple[str, ...]] = ("webhook_secret",)
    can_push: ClassVar[bool] = True
    can_poll: ClassVar[bool] = False

    def verify(self, request: InboundRequest, creds: Credentials) -> None:
        """Raise BadSignature unless the body carries EasyPost's HMAC for our secret."""
        secret = signing.require_secret(creds.get("webhook_secret"),
                                        "EasyPost webhook secret is not configured "
                                        "(ORDERTRAIL_EASYPOST_WEBHOOK_SECRET)")
        given = signing.signed_header(request.headers, parse.SIGNATURE_HEADER,
                                      "X-Hmac-Signature")
        # Hex case is not significant; everything else must match byte for byte.
        signing.check(given.strip().lower(), parse.sign(secret, request.body),
                      "X-Hmac-Signature does not match the body")

    def parse_push(self, request: InboundRequest) -> list[TrackingUpdate]:
        """The tracker a verified webhook Event carries ([] for other kinds of event)."""
        return parse.parse_webhook(request.body)

"""The EasyPost provider: verifies ``X-Hmac-Signature`` and parses tracker webhook Events.

Push only: EasyPost posts an Event for every tracker change to the webhook registered in its
dashboard. Creating trackers (and polling them) is not implemented, so ``can_poll`` is False.
"""

from __future__ import annotations

import hmac
from typing import ClassVar

from ordertrail.carrier.base import (
    BadSignature,
    Credentials,
    InboundRequest,
    Provider,
    TrackingUpdate,
)
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
        secret = creds.get("webhook_secret")
        if not secret:
            raise BadSignature("EasyPost webhook secret is not configured "
                               "(ORDERTRAIL_EASYPOST_WEBHOOK_SECRET)")
        given = _header(request, parse.SIGNATURE_HEADER)
        if not given:
            raise BadSignature("missing X-Hmac-Signature header")
        expected = parse.sign(secret, request.body)
        # Hex case is not significant; everything else must match byte for byte.
        if not hmac.compare_digest(given.strip().lower().encode("utf-8"),
                                   expected.encode("ascii")):
            raise BadSignature("X-Hmac-Signature does not match the body")

    def parse_push(self, request: InboundRequest) -> list[TrackingUpdate]:
        """The tracker a verified webhook Event carries ([] for other kinds of event)."""
        return parse.parse_webhook(request.body)


def _header(request: InboundRequest, name: str) -> str | None:
    # Headers arrive lower-cased (InboundRequest contract); tolerate callers that forget.
    if (value := request.headers.get(name)) is not None:
        return value
    return next((v for k, v in request.headers.items() if k.lower() == name), None)

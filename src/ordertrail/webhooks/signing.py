"""Standard Webhooks signing for outbound messages (the ``standardwebhooks`` library).

Each try carries ``webhook-id`` (the message's stable id, the same on every retry and
replay), ``webhook-timestamp`` (seconds since the epoch, of this try) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed with
the base64-decoded part of the ``whsec_`` secret).
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime
from functools import lru_cache
from typing import Any

from standardwebhooks.webhooks import Webhook

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks ``whsec_<base64>`` form."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


@lru_cache(maxsize=256)
def _signer(secret: str) -> Webhook:
    return Webhook(secret)


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for a message payload."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def headers_for(secret: str, msg_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """The headers of one try of a message: id, timestamp and signature, plus content type."""
    signature = _signer(secret).sign(msg_id=msg_id, timestamp=at, data=body.decode("utf-8"))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "ordertrail-webhooks/1",
    }


def verify(secret: str, headers: dict[str, str], body: bytes) -> Any:
    """The parsed payload if ``headers`` sign ``body`` with ``secret`` (5-minute tolerance);
    raises ``standardwebhooks.webhooks.WebhookVerificationError`` otherwise."""
    return Webhook(secret).verify(body, headers)

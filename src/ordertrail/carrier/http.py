"""The HTTP side the provider clients share: Retry-After, and HTTP failures as CarrierErrors.

What a failure means to the poller: ProviderUnavailable (try again later, after
``retry_after`` seconds when the provider said so), RateLimited (the same, for 429), and
NotConfigured (a credential is wrong: no use retrying soon).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ordertrail.carrier.base import NotConfigured, ProviderUnavailable, RateLimited


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delay seconds or an HTTP date.

    A negative number or a date in the past is 0; a fraction is kept. Anything else (no
    header, words, ``inf``, ``nan``) is None: the caller's own backoff applies.
    """
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def post_json(http: httpx.Client, url: str, provider: str, *, timeout: float,
              unauthorized: str | None = None, **request: Any) -> Any:
    """POST to ``url`` (``request`` as for ``httpx.Client.post``) and decode the JSON answer.

    Every failure names ``provider``: network errors and timeouts, 5xx (with its
    Retry-After), any other status but 200, and an answer that is not JSON are
    ProviderUnavailable; 429 is RateLimited. A 401 is NotConfigured with the reason
    ``unauthorized`` when one is given, else it fails like any other status.
    """
    try:
        response = http.post(url, timeout=timeout, **request)
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"{provider} unreachable: {type(exc).__name__}") from None
    status = response.status_code
    wait = retry_after(response.headers.get("retry-after"))
    if status == 429:
        raise RateLimited(f"{provider} said 429 Too Many Requests", wait)
    if status == 401 and unauthorized is not None:
        raise NotConfigured(unauthorized)
    if status >= 500:
        raise ProviderUnavailable(f"{provider} answered HTTP {status}", wait)
    if status != 200:
        raise ProviderUnavailable(f"{provider} answered HTTP {status}")
    try:
        return response.json()
    except ValueError:
        raise ProviderUnavailable(f"{provider} answered something that is not JSON") from None

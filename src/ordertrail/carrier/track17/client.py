"""The one HTTP client of 17TRACK v2.2: ``register`` and ``gettrackinfo``, at most 3 req/s.

Every request carries the ``17token`` header and a JSON list of at most 40 numbers. The
webhook URL is set once in the 17TRACK dashboard, not per registration.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from ordertrail.carrier.base import (
    MalformedPayload,
    NotConfigured,
    ProviderUnavailable,
    RegisterResult,
    Registration,
    TrackingUpdate,
)
from ordertrail.carrier.http import post_json
from ordertrail.carrier.track17 import codes, parse

log = logging.getLogger(__name__)

BASE_URL = "https://api.17track.net/track/v2.2"
TIMEOUT = 15.0


class RateLimiter:
    """At most ``count`` acquisitions in any ``period`` seconds, across threads."""

    def __init__(self, count: int, period: float = 1.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if count < 1 or period <= 0:
            raise ValueError("a rate limit needs count >= 1 and period > 0")
        self._count = count
        self._period = period
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until one more request fits in the window, count it, return its start."""
        # Waiting while holding the lock keeps callers in arrival order.
        with self._lock:
            while True:
                now = self._clock()
                while self._starts and now - self._starts[0] >= self._period:
                    self._starts.popleft()
                if len(self._starts) < self._count:
                    self._starts.append(now)
                    return now
                self._sleep(self._period - (now - self._starts[0]))


_shared: dict[str, RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(key: str) -> RateLimiter:
    """The process-wide limiter of one 17TRACK key (3 requests per second)."""
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None:
            limiter = _shared[key] = RateLimiter(int(codes.MAX_REQUESTS_PER_SECOND), 1.0)
        return limiter


def _chunks(items: Sequence[Registration]) -> list[Sequence[Registration]]:
    size = codes.MAX_NUMBERS_PER_CALL
    return [items[i:i + size] for i in range(0, len(items), size)]


def _entry(item: Registration) -> dict[str, Any]:
    entry: dict[str, Any] = {"number": item.tracking_number}
    key = codes.CARRIER.get(item.courier) if item.courier else None
    if key is not None:
        entry["carrier"] = key
    return entry


def _rows(answer: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    data = answer.get("data")
    rows = data.get(name) if isinstance(data, Mapping) else None
    return [row for row in rows or [] if isinstance(row, Mapping)]


def _error(row: Mapping[str, Any]) -> tuple[int | None, str]:
    error = row.get("error")
    if isinstance(error, Mapping):
        code = error.get("code")
        return (code if isinstance(code, int) else None), str(error.get("message", ""))
    return None, ""


class Track17Client:
    """Registers numbers with 17TRACK and fetches their tracking, never above 3 req/s."""

    def __init__(self, http: httpx.Client, *, key: str | None, base_url: str = BASE_URL,
                 limiter: RateLimiter | None = None) -> None:
        if not key:
            raise NotConfigured("17TRACK key is not set (ORDERTRAIL_TRACK17_KEY)")
        self._http = http
        self._key = key
        self._base = base_url.rstrip("/")
        self._limiter = limiter or shared_limiter(key)

    def _post(self, action: str, body: list[dict[str, Any]]) -> Mapping[str, Any]:
        self._limiter.acquire()
        answer = post_json(self._http, f"{self._base}/{action}", "17TRACK", timeout=TIMEOUT,
                           unauthorized="17TRACK refused the key (HTTP 401: wrong key, IP not "
                                        "whitelisted or account disabled)",
                           json=body, headers={"17token": self._key})
        if not isinstance(answer, Mapping):
            raise ProviderUnavailable("17TRACK answered a JSON value that is not an object")
        code = answer.get("code")
        if code in codes.BAD_KEY:
            raise NotConfigured(f"17TRACK refused the key ({code}: {codes.BAD_KEY[code]})")
        if code != 0:
            raise ProviderUnavailable(f"17TRACK {action} failed (code {code})")
        return answer

    def register(self, items: Sequence[Registration], callback_url: str) -> RegisterResult:
        """Register the numbers (40 per request); ``callback_url`` is set in the dashboard."""
        accepted: list[str] = []
        rejected: dict[str, str] = {}
        for chunk in _chunks(items):
            answer = self._post("register", [_entry(i) for i in chunk])
            for row in _rows(answer, "accepted"):
                accepted.append(str(row.get("number")))
            for row in _rows(answer, "rejected"):
                number = str(row.get("number"))
                code, message = _error(row)
                if code == codes.ALREADY_REGISTERED:
                    accepted.append(number)
                else:
                    rejected[number] = f"17TRACK {code}: {message}".strip()
        return RegisterResult(accepted=tuple(accepted), rejected=rejected)

    def fetch(self, items: Sequence[Registration]) -> list[TrackingUpdate]:
        """The tracking of registered numbers (40 per request); rejected ones are left out."""
        updates: list[TrackingUpdate] = []
        for chunk in _chunks(items):
            answer = self._post("gettrackinfo", [_entry(i) for i in chunk])
            try:
                updates += parse.parse_track_response(answer)
            except MalformedPayload as exc:
                raise ProviderUnavailable(f"17TRACK gettrackinfo answer unreadable: "
                                          f"{exc}") from None
            for row in _rows(answer, "rejected"):
                code, message = _error(row)
                log.info("17TRACK gettrackinfo rejected %s: %s %s", row.get("number"), code,
                         message)
        return updates

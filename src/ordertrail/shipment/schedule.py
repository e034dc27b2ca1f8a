"""Pure: when to look at a shipment next.

Polling is adaptive: often when the parcel is about to arrive, rarely after a long silence,
never after a final status or a provider's stop rule (unless the provider asks for the
number to be subscribed again later). When the provider pushes, polling is only a safety net
for pushes that never came. Errors back off exponentially with a cap.
Times are stored on the shipment (``next_check_at``), so a restart resumes where it stopped.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from ordertrail.carrier.status import Status, is_final

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

_NEAR_DELIVERY = frozenset({Status.OUT_FOR_DELIVERY, Status.AVAILABLE_FOR_PICKUP,
                            Status.ATTEMPT_FAIL})


def interval(status: str, last_event_at: datetime | None, now: datetime) -> timedelta:
    """How long to wait before polling a shipment in this state."""
    if status in _NEAR_DELIVERY:
        return HOUR
    silence = now - last_event_at if last_event_at is not None else timedelta(0)
    if status in (Status.PENDING, Status.INFO_RECEIVED):
        return 6 * HOUR if silence < 3 * DAY else DAY
    if silence > 7 * DAY:
        return DAY
    if silence > DAY:
        return 8 * HOUR
    return 4 * HOUR


def _jitter(key: str, span: timedelta) -> timedelta:
    # Deterministic spread (no thundering herd after a bulk import or a restart).
    frac = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=2).digest()) / 65535
    return span * (0.1 * frac)


def next_check(*, key: str, status: str, substatus: str, last_event_at: datetime | None,
               now: datetime, can_poll: bool, pushes: bool, registered: bool,
               stopped: bool = False,
               resubscribe_after: timedelta | None = None) -> datetime | None:
    """The next time the poller should act on a shipment, or None for never.

    ``resubscribe_after``: the provider dropped the (unregistered) number and asked for it
    to be subscribed again after this wait.
    """
    if stopped or is_final(status, substatus):
        return None
    if not registered and (pushes or can_poll):
        # Subscribe (or first poll) as soon as the poller runs, or when the provider asked.
        return now + resubscribe_after if resubscribe_after is not None else now
    if not can_poll:
        return None
    wait = interval(status, last_event_at, now)
    if pushes:
        wait = max(wait * 3, DAY)  # pushes are the news; polls catch a lost push
    return now + wait + _jitter(key, wait)


def backoff(failures: int, now: datetime, retry_after: float | None = None) -> datetime:
    """When to try again after ``failures`` consecutive errors (5 min doubling, 6 h cap)."""
    wait = min(5 * MINUTE * (2 ** max(failures - 1, 0)), 6 * HOUR)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return now + wait

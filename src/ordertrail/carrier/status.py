"""The unified shipment status language every carrier adapter maps into.

Nine statuses (the aggregators' de-facto standard) and, under each, substatuses written
``status.detail``. The vocabulary is the union of what Kuaidi100 (``state`` 0-14 and its
resultv2 sub-codes), 17TRACK, AfterShip and EasyPost express. ``<status>.other`` means "the
carrier said this status without more detail"; ``<status>.unknown`` means "the carrier sent a
code we have no mapping for" and is counted (never silently called "in transit").
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    ATTEMPT_FAIL = "attempt_fail"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    EXPIRED = "expired"


_DETAILS: dict[Status, tuple[str, ...]] = {
    Status.PENDING: ("registered", "not_found", "invalid_number", "other", "unknown"),
    Status.INFO_RECEIVED: ("label_created", "other", "unknown"),
    Status.IN_TRANSIT: (
        "picked_up",           # 揽收 / first carrier scan
        "departed",            # left a facility / 发出
        "arrived",             # arrived at a facility / 到达
        "customs_processing",  # 清关中
        "customs_released",    # 清关完成
        "customs_info_required",
        "forwarded",           # handed to another carrier or re-routed / 转投, 转单
        "delayed",             # carrier says it is late but moving
        "other",
        "unknown",
    ),
    Status.OUT_FOR_DELIVERY: ("out_for_delivery", "contact_customer", "appointment", "other",
                              "unknown"),
    Status.AVAILABLE_FOR_PICKUP: ("locker", "station", "counter", "other", "unknown"),
    Status.ATTEMPT_FAIL: ("no_one_home", "address_issue", "refused", "security",
                          "business_closed", "rescheduled", "other", "unknown"),
    Status.DELIVERED: ("signed", "signed_by_proxy", "locker", "left_at_door", "picked_up",
                       "cod_collected", "other", "unknown"),
    Status.EXCEPTION: (
        "returning",           # 退回中
        "returned",            # 退签 / back with the sender
        "lost",
        "damaged",
        "delayed",
        "refused",             # 拒签
        "customs_held",        # 清关异常
        "address_issue",
        "no_one_home",
        "security",
        "intercepted",         # 拦截 by the sender
        "cancelled",           # 销单 / shipment cancelled
        "destroyed",
        "other",
        "unknown",
    ),
    Status.EXPIRED: ("no_update", "other", "unknown"),
}

SUBSTATUSES: frozenset[str] = frozenset(
    f"{status.value}.{detail}" for status, details in _DETAILS.items() for detail in details
)

# Position along the forward lifecycle. Exception and attempt_fail are "explicit" statuses
# outside this order (they always apply when they are the newest news); expired ranks with
# delivered so that nothing but an explicit event follows it.
RANK: dict[str, int] = {
    Status.PENDING: 0,
    Status.INFO_RECEIVED: 1,
    Status.IN_TRANSIT: 2,
    Status.OUT_FOR_DELIVERY: 3,
    Status.ATTEMPT_FAIL: 3,
    Status.AVAILABLE_FOR_PICKUP: 4,
    Status.DELIVERED: 5,
    Status.EXPIRED: 5,
    Status.EXCEPTION: 2,
}

EXPLICIT: frozenset[str] = frozenset({Status.EXCEPTION, Status.ATTEMPT_FAIL})

# Exceptions that later forward scans do not clear: a parcel on its way back to the sender
# keeps being scanned "in transit", and a destroyed or cancelled one stays that way.
STICKY: frozenset[str] = frozenset({
    "exception.returning", "exception.returned", "exception.destroyed", "exception.cancelled",
})

# No more carrier news is expected: polling stops here.
FINAL: frozenset[str] = frozenset({"exception.returned", "exception.destroyed",
                                   "exception.cancelled"})


def is_final(status: str, substatus: str) -> bool:
    """True when no further carrier update is expected (delivered, expired, returned...)."""
    return status in (Status.DELIVERED, Status.EXPIRED) or substatus in FINAL


def substatus(status: str | Status, detail: str) -> str:
    """``status.detail``, checked against the vocabulary (a typo is a bug, not data)."""
    value = f"{Status(status).value}.{detail}"
    if value not in SUBSTATUSES:
        raise ValueError(f"unknown substatus {value!r}")
    return value


def unknown(status: str | Status) -> str:
    """The substatus for an unmapped code that most safely belongs under ``status``."""
    return f"{Status(status).value}.unknown"


def status_of(sub: str) -> Status:
    """The status a substatus belongs to."""
    return Status(sub.split(".", 1)[0])

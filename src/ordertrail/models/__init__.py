"""ORM tables, one module per aggregate. Importing this package registers them all."""

from ordertrail.models.base import Base
from ordertrail.models.flow import FlowVersion
from ordertrail.models.order import (
    Approval,
    Order,
    OrderLine,
    OrderNumberCounter,
    StageVisit,
    TimelineEntry,
)
from ordertrail.models.outbox import IdempotencyRecord, OutboxEvent
from ordertrail.models.user import ApiKey, User

__all__ = [
    "ApiKey",
    "Approval",
    "Base",
    "FlowVersion",
    "IdempotencyRecord",
    "Order",
    "OrderLine",
    "OrderNumberCounter",
    "OutboxEvent",
    "StageVisit",
    "TimelineEntry",
    "User",
]

"""ORM tables, one module per aggregate. Importing this package registers them all."""

# Later domains import their tables from their own modules (ordertrail.models.jobs, ...);
# importing them here registers the tables with Base.metadata.
from ordertrail.models import (  # noqa: F401
    alert,
    billing,
    calendar,
    inventory,
    jobs,
    notify,
    procurement,
    production,
    webhook,
)
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
from ordertrail.models.shipment import (
    CarrierAccount,
    Shipment,
    ShipmentLine,
    TrackingEvent,
    UnmatchedUpdate,
    WebhookDeadLetter,
)
from ordertrail.models.user import ApiKey, User

__all__ = [
    "ApiKey",
    "Approval",
    "Base",
    "CarrierAccount",
    "FlowVersion",
    "IdempotencyRecord",
    "Order",
    "OrderLine",
    "OrderNumberCounter",
    "OutboxEvent",
    "Shipment",
    "ShipmentLine",
    "StageVisit",
    "TimelineEntry",
    "TrackingEvent",
    "UnmatchedUpdate",
    "User",
    "WebhookDeadLetter",
]

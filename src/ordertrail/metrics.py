"""Prometheus counters, served as text at ``GET /metrics``."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest

WEBHOOKS = Counter(
    "ordertrail_webhooks", "Carrier pushes received, by provider and outcome "
    "(accepted, bad_signature, malformed, unknown_provider).", ["provider", "outcome"])
EVENTS = Counter("ordertrail_tracking_events", "Tracking events stored for the first time, "
                 "by source (push, poll, manual, import).", ["source"])
DUPLICATES = Counter("ordertrail_tracking_duplicates", "Tracking events received again and "
                     "ignored, by source.", ["source"])
UNMAPPED_CODES = Counter("ordertrail_unmapped_carrier_codes", "Carrier status codes with no "
                         "mapping (stored as <status>.unknown), by provider.", ["provider"])
POLLS = Counter("ordertrail_polls", "Provider calls made by the poller, by provider, kind "
                "(register, fetch) and outcome.", ["provider", "kind", "outcome"])


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

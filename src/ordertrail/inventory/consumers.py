"""inventory: outbox consumers and periodic jobs (placeholder until the domain lands)."""

from __future__ import annotations

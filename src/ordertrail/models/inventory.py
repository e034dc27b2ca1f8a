"""inventory: products, warehouses, stock ledger, reservations (tables)."""

from __future__ import annotations

"""procurement: suppliers, purchase orders, supplier updates, receipts (tables)."""

from __future__ import annotations

"""billing: invoices, payments, payment imports (tables)."""

from __future__ import annotations

"""production: work centers, work orders, routing steps, QC (tables)."""

from __future__ import annotations

"""HTTP API: billing (placeholder until the domain lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["billing"])

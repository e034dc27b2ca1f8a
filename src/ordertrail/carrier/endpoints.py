"""HTTP: carrier detection and the list of couriers and providers."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/carriers", tags=["carriers"])

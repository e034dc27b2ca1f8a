"""Calendar tests: caches are per process, so each test starts without them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ordertrail.calendar import service
from ordertrail.sla import policy


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    service.clear_cache()
    policy.clear_cache()
    yield
    service.clear_cache()
    policy.clear_cache()

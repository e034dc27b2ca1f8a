"""procurement: stage actions and trigger state checks (see ordertrail.ops.automation)."""

from __future__ import annotations

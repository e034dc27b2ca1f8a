"""The inventory benchmark runs end to end at a tiny size (no timing is asserted)."""

from __future__ import annotations

from ordertrail.benchmarks.inventory import run_inventory
from tests.conftest import fresh_database


def test_inventory_figures_small(tmp_path):
    with fresh_database(tmp_path, prefix="ot_inv_bench") as url:
        avail, rate = (f.as_json() for f in run_inventory(url, lines=50, orders=40, calls=5))
    assert avail["name"] == "inventory_availability_50_lines_ms" and avail["unit"] == "ms"
    assert avail["value"] > 0 and avail["baseline"] > 0 and avail["detail"]["lines"] == 50
    assert rate["name"] == "inventory_reservations_rate" and rate["baseline"] > 0
    detail = rate["detail"]
    assert detail["completed"] == detail["stocked_units"] == 20 and detail["waiting"] == 20
    assert detail["no_oversell"] and rate["ok"] is None   # judged only at full size

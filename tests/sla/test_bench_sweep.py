"""The sweep benchmark runs end to end at a small size (no timing is asserted)."""

from __future__ import annotations

from ordertrail.benchmarks.sweep import QUICK, run_sweep
from tests.conftest import fresh_database


def test_sweep_figure_small(tmp_path):
    with fresh_database(tmp_path, prefix="ot_sweep") as url:
        (figure,) = run_sweep(url, open_orders=QUICK["open_orders"] // 10, due=100)
    data = figure.as_json()
    assert data["name"] == "sla_sweep_open_alerts" and data["unit"] == "ms"
    assert data["baseline"] > 0 and data["value"] > 0
    assert data["detail"]["opened"] == 100 and data["detail"]["baseline_rows"] == 100
    assert data["detail"]["claim_plan"] and "stage_visits" in data["detail"]["claim_sql"]
    assert data["ok"] is None  # judged only at full size

"""`ordertrail bench --quick` runs end to end and prints one well-formed JSON line per figure.

No timing is asserted here: speed goals are measured as ratios by the benchmark itself.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

from ordertrail.benchmarks.run import expected_names
from tests.conftest import BACKEND

KEYS = {"name", "value", "unit", "baseline", "ratio", "database", "target", "ok", "detail"}


def test_quick_bench_prints_every_figure(tmp_path):
    args = [sys.executable, "-c", "from ordertrail.cli import main; main()", "bench", "--quick"]
    databases = ["sqlite"]
    env = {k: v for k, v in os.environ.items() if k != "ORDERTRAIL_BENCH_POSTGRES_URL"}
    if BACKEND == "postgres":   # the SQLite run of the suite covers the SQLite figures
        args += ["--no-sqlite", "--postgres-url", os.environ["ORDERTRAIL_TEST_POSTGRES_URL"]]
        databases = ["postgresql"]
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]

    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    for line in lines:
        assert line.keys() >= KEYS, line
        for key in ("value", "baseline", "ratio"):
            assert isinstance(line[key], int | float) and math.isfinite(line[key]), line
        assert line["baseline"] > 0, line
        assert line["unit"] and line["target"], line
    for database in databases:
        names = [ln["name"] for ln in lines if ln["database"] == database]
        assert set(expected_names()) <= set(names), (database, names)
        # one worker drains the queue on SQLite, four on PostgreSQL
        workers = 1 if database == "sqlite" else 4
        assert f"jobs_drain_{workers}_workers" in names, names
        assert len(names) == len(set(names)), names

    by_name = {(ln["database"], ln["name"]): ln for ln in lines}
    for database in databases:
        # Each load worker owns its orders, so the rework loop never collides with itself.
        http = by_name[(database, "transition_http_rate")]["detail"]
        assert http["non_2xx"] == 0, http
        for name in ("get_order_p99_server_ms", "list_orders_by_stage_p99_server_ms"):
            detail = by_name[(database, name)]["detail"]
            assert detail["non_2xx"] == 0, detail
            assert detail["plans"] and all(p["plan"] for v in detail["plans"].values()
                                           for p in v), detail["plans"]
    assert ("none", "carrier_detect_rate") in by_name
    # A quick run keeps no data behind in the working directory.
    assert not (tmp_path / "bench").exists()

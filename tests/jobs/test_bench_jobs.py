"""The jobs benchmark runs end to end at its --quick size and checks exactly-once itself.

No timing is asserted: the figure is a ratio measured by the benchmark.
"""

from __future__ import annotations

import math

from ordertrail.benchmarks.jobs import QUICK_JOBS, run_jobs
from tests.conftest import BACKEND, fresh_database


def test_quick_jobs_bench_drains_everything_exactly_once(tmp_path):
    with fresh_database(tmp_path) as url:
        [figure] = run_jobs(url, jobs=QUICK_JOBS, workers=4)
    workers = 4 if BACKEND == "postgres" else 1
    assert figure.name == f"jobs_drain_{workers}_workers"
    assert figure.detail["exactly_once"] is True
    assert figure.detail["states"] == {"done": QUICK_JOBS}
    assert math.isfinite(figure.value) and figure.value > 0 and figure.baseline > 0
    assert figure.as_json()["unit"] == "jobs/s"

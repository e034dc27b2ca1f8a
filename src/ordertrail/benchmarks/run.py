"""``ordertrail bench``: every figure on SQLite, then on PostgreSQL when a URL is given.

Each figure is printed as one JSON line on stdout as soon as it is measured:
``{"name", "database", "value", "unit", "baseline", "ratio", "baseline_of", "target", "ok",
"detail", "host"}``. Progress goes to stderr. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ordertrail.benchmarks import create, detect, hooks, ingest, reads, transitions
from ordertrail.benchmarks import inventory as inventory_bench
from ordertrail.benchmarks import jobs as jobs_bench
from ordertrail.benchmarks import sweep as sweep_bench
from ordertrail.benchmarks import webhooks as webhooks_bench
from ordertrail.benchmarks.common import Figure, host_info, log, prepare, scratch_database
from ordertrail.benchmarks.dataset import dataset
from ordertrail.config import Settings

FIGURES = ("create", "http", "read", "shipments", "detect", "alerts", "jobs", "webhooks",
           "inventory")
DEFAULT_CACHE = Path("bench/.data")


@dataclass
class Sizes:
    create: create.CreateSizes
    http: transitions.HttpSizes
    read: reads.ReadSizes
    stored: int
    ingest: ingest.IngestSizes
    hooks: hooks.HookSizes
    sweep: dict[str, int]  # open orders and how many of them are due, for one sweep
    jobs: int  # queued jobs drained by the worker(s)
    webhooks: dict[str, int]  # messages and endpoints delivered by the webhook pump
    inventory: dict[str, int]  # order lines for availability, orders reserved, calls

    @classmethod
    def quick(cls) -> Sizes:
        return cls(create=create.CreateSizes(per_commit=200, batched=1000, batch=500, rounds=2,
                                                   budget=2.0),
                   http=transitions.HttpSizes(concurrency=8, orders_per_worker=4, warmup=0.3,
                                              duration=1.0, rounds=1),
                   read=reads.ReadSizes(warmup=0.2, duration=0.8, rounds=1, in_process=50),
                   stored=2000, ingest=ingest.IngestSizes.quick(),
                   hooks=hooks.HookSizes.quick(), sweep=dict(sweep_bench.QUICK),
                   jobs=jobs_bench.QUICK_JOBS, webhooks={"messages": 1000, "endpoints": 4},
                   inventory=dict(inventory_bench.QUICK))

    @classmethod
    def full(cls, stored: int) -> Sizes:
        return cls(create=create.CreateSizes(per_commit=3000, batched=10_000, batch=500,
                                                   rounds=3, budget=8.0),
                   http=transitions.HttpSizes(concurrency=16, orders_per_worker=25, warmup=2.0,
                                              duration=10.0, rounds=2),
                   read=reads.ReadSizes(warmup=2.0, duration=8.0, rounds=2, in_process=1000),
                   stored=stored, ingest=ingest.IngestSizes.full(),
                   hooks=hooks.HookSizes.full(),
                   sweep={"open_orders": 1_000_000, "due": 10_000}, jobs=100_000,
                   webhooks={"messages": 20_000, "endpoints": 8},
                   inventory=dict(inventory_bench.FULL))


def expected_names(batch: int = 500) -> list[str]:
    """The figure names one database produces (in output order)."""
    return ["create_order_per_commit", f"create_order_batch_{batch}", "transition_http_rate",
            "get_order_p99_server_ms", "list_orders_by_stage_p99_server_ms",
            "ingest_events_batch", "webhook_push_http_rate", "sla_sweep_open_alerts",
            "webhook_deliveries_rate", "inventory_availability_50_lines_ms",
            "inventory_reservations_rate"]


def _run_database(kind: str, settings: Settings, sizes: Sizes, workdir: Path,
                  pg_url: str | None, cache_dir: Path | None, figures: tuple[str, ...],
                  emit: Callable[[Figure], None]) -> None:
    if "create" in figures:
        with scratch_database(kind, workdir, pg_url, "create") as url:
            engine = prepare(url)
            try:
                for fig in create.measure(engine, kind, settings, sizes.create):
                    emit(fig)
            finally:
                engine.dispose()
    if "http" in figures:
        with scratch_database(kind, workdir, pg_url, "http") as url:
            engine = prepare(url)
            try:
                emit(transitions.measure(engine, url, kind, settings, sizes.http, workdir))
            finally:
                engine.dispose()
    if "shipments" in figures:
        with scratch_database(kind, workdir, pg_url, "ingest") as url:
            engine = prepare(url)
            try:
                emit(ingest.measure(engine, url, kind, settings, sizes.ingest))
            finally:
                engine.dispose()
        with scratch_database(kind, workdir, pg_url, "hooks") as url:
            engine = prepare(url)
            try:
                emit(hooks.measure(engine, url, kind, sizes.hooks, workdir))
            finally:
                engine.dispose()
    if "alerts" in figures:
        with scratch_database(kind, workdir, pg_url, "sweep") as url:
            for fig in sweep_bench.run_sweep(url, **sizes.sweep):
                emit(fig)
    if "jobs" in figures:
        with scratch_database(kind, workdir, pg_url, "jobs") as url:
            for fig in jobs_bench.run_jobs(url, jobs=sizes.jobs, workers=4):
                emit(fig)
    if "webhooks" in figures:
        with scratch_database(kind, workdir, pg_url, "webhooks") as url:
            for fig in webhooks_bench.run_webhooks(url, **sizes.webhooks):
                emit(fig)
    if "inventory" in figures:
        with scratch_database(kind, workdir, pg_url, "inventory") as url:
            for fig in inventory_bench.run_inventory(url, **sizes.inventory):
                emit(fig)
    if "read" in figures:
        with dataset(kind, sizes.stored, settings, workdir, pg_url=pg_url,
                     cache_dir=cache_dir) as (url, info):
            engine = prepare(url)
            try:
                for fig in reads.measure(engine, url, kind, settings, sizes.stored, sizes.read,
                                         workdir, info):
                    emit(fig)
            finally:
                engine.dispose()


def run_all(settings: Settings, *, orders: int = 1_000_000, quick: bool = False,
            postgres_url: str | None = None, data_dir: Path | None = None,
            figures: tuple[str, ...] = FIGURES, sqlite: bool = True,
            out: TextIO = sys.stdout) -> list[dict[str, Any]]:
    """Measure the figures and print one JSON line per figure; returns the lines."""
    unknown = set(figures) - set(FIGURES)
    if unknown:
        raise ValueError(f"unknown figure group {sorted(unknown)}; choose from {FIGURES}")
    sizes = Sizes.quick() if quick else Sizes.full(orders)
    # Quick runs never keep data; full runs cache the large read dataset between runs.
    cache_dir = None if quick else (data_dir or DEFAULT_CACHE)
    host = host_info()
    lines: list[dict[str, Any]] = []

    def emit(fig: Figure) -> None:
        line = {**fig.as_json(), "host": host}
        lines.append(line)
        out.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        out.flush()
        verdict = {True: "met", False: "NOT met", None: "-"}[fig.ok]
        log(f"{fig.database}: {fig.name} = {fig.value:,.3f} {fig.unit} (baseline "
            f"{fig.baseline:,.3f}, ratio {fig.ratio:.3f}; target {fig.target}: {verdict})")

    kinds = (["sqlite"] if sqlite else []) + (["postgresql"] if postgres_url else [])
    with tempfile.TemporaryDirectory(prefix="ordertrail-bench-") as tmp:
        for kind in kinds:
            log(f"{kind}: {'quick' if quick else 'full'} run, {sizes.stored:,} stored orders "
                "for the read figures")
            _run_database(kind, settings, sizes, Path(tmp), postgres_url, cache_dir, figures,
                          emit)
    if "detect" in figures:  # no database: once per run
        emit(detect.run_detect(count=5_000 if quick else 50_000, rounds=2 if quick else 5))
    return lines

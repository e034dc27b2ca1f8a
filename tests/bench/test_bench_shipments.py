"""The shipment figures run end to end and produce well-formed figures.

A quick run of ``ingest_events_batch`` and ``webhook_push_http_rate`` on a scratch database
(SQLite; PostgreSQL too when the suite runs on it). Only the shape and the bookkeeping are
checked, never timing: speed goals are measured as ratios by the benchmark itself.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from ordertrail.benchmarks import hooks, ingest
from ordertrail.benchmarks.common import Figure, prepare, scratch_database
from ordertrail.config import Settings
from tests.conftest import BACKEND

KEYS = {"name", "value", "unit", "baseline", "ratio", "database", "target", "ok", "detail",
        "baseline_of"}
DATABASES = ["sqlite"] + (["postgresql"] if BACKEND == "postgres" else [])


def _pg_url(database: str) -> str | None:
    return os.environ["ORDERTRAIL_TEST_POSTGRES_URL"] if database == "postgresql" else None


def _line(fig: Figure) -> dict[str, object]:
    line: dict[str, object] = json.loads(json.dumps(fig.as_json(), default=str))
    assert line.keys() >= KEYS, line
    for key in ("value", "baseline", "ratio"):
        value = line[key]
        assert isinstance(value, int | float) and math.isfinite(value), line
    assert isinstance(line["baseline"], int | float) and line["baseline"] > 0, line
    assert line["unit"] and line["target"] and isinstance(line["ok"], bool), line
    return line


@pytest.mark.parametrize("database", DATABASES)
def test_ingest_figure(database: str, tmp_path: Path) -> None:
    with scratch_database(database, tmp_path, _pg_url(database), "ingest") as url:
        engine = prepare(url)
        try:
            fig = ingest.measure(engine, url, database, Settings(database_url=url),
                                 ingest.IngestSizes.quick(), progress=lambda _msg: None)
        finally:
            engine.dispose()
    line = _line(fig)
    assert (line["name"], line["database"], line["unit"]) == (
        "ingest_events_batch", database, "events/s")
    detail = fig.detail
    # Every round stored exactly the new events, saw the duplicates and matched every number.
    assert detail["consistent"] is True, detail["rounds"]
    assert len(detail["rounds"]) == ingest.IngestSizes.quick().rounds
    for rnd in detail["rounds"]:
        assert rnd["stored"] == rnd["expected_stored"] > 0 and rnd["duplicates"] > 0, rnd
    assert detail["events_in_table_after"] == 2 * sum(r["stored"] for r in detail["rounds"])


@pytest.mark.parametrize("database", DATABASES)
def test_webhook_figure(database: str, tmp_path: Path) -> None:
    secret_before = os.environ.get(hooks.SECRET_ENV)
    with scratch_database(database, tmp_path, _pg_url(database), "hooks") as url:
        engine = prepare(url)
        try:
            fig = hooks.measure(engine, url, database, hooks.HookSizes.quick(), tmp_path,
                                progress=lambda _msg: None)
        finally:
            engine.dispose()
    line = _line(fig)
    assert (line["name"], line["database"], line["unit"]) == (
        "webhook_push_http_rate", database, "pushes/s")
    detail = fig.detail
    assert detail["non_2xx"] == 0, detail
    # Every accepted push stored exactly the events it carried.
    assert detail["events_stored"] == detail["events_sent_accepted"] > 0, detail
    assert detail["pushes"][0]["statuses"] and detail["healthz"][0]["statuses"] == {
        "200": detail["healthz"][0]["requests"]}
    assert os.environ.get(hooks.SECRET_ENV) == secret_before  # only the server saw it

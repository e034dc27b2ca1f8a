"""`ordertrail calendar …` and the `sla policy` commands, in-process against their own database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ordertrail.calendar.policy_cli import app as policy_app
from ordertrail.cli import app as cli_app
from ordertrail.config import get_settings
from tests.conftest import fresh_database

ACME_YAML = """\
id: acme
name: ACME Shenzhen plant
timezone: Asia/Shanghai
base: cn
hours:
  mon: ["08:30-12:00", "13:00-17:30"]
  tue: ["08:30-12:00", "13:00-17:30"]
  wed: ["08:30-12:00", "13:00-17:30"]
  thu: ["08:30-12:00", "13:00-17:30"]
  fri: ["08:30-12:00", "13:00-17:30"]
holidays:
  - 2026-12-24..2026-12-31
workdays: [2026-12-19]
"""


@dataclass
class Out:
    code: int
    out: str
    err: str


class Run:
    def __init__(self, url: str) -> None:
        self.env = {"ORDERTRAIL_DATABASE_URL": url, "COLUMNS": "200", "NO_COLOR": "1"}

    def __call__(self, *args: str, app: typer.Typer = cli_app) -> Out:
        get_settings.cache_clear()
        try:
            r = CliRunner().invoke(app, list(args), env=self.env, prog_name="ordertrail")
        finally:
            get_settings.cache_clear()
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
        return Out(r.exit_code, r.stdout, r.stderr)

    def ok(self, *args: str, app: typer.Typer = cli_app) -> Out:
        r = self(*args, app=app)
        assert r.code == 0, (args, r.out, r.err)
        return r

    def error(self, *args: str, words: str, app: typer.Typer = cli_app) -> None:
        r = self(*args, app=app)
        assert r.code == 1, (args, r.out, r.err)
        lines = r.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), r.err
        assert words in lines[0], (words, lines[0])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with fresh_database(tmp_path_factory.mktemp("calendar_cli")) as url:
        yield Run(url)


def test_due_prints_the_due_time(run: Run) -> None:
    r = run.ok("calendar", "due", "--calendar", "cn", "--start", "2026-09-30T17:00:00+08:00",
               "--duration", "2h")
    assert r.out.startswith("2026-10-08T10:00:00+08:00  (2026-10-08T02:00:00Z;")
    r = run.ok("calendar", "due", "--calendar", "24x7", "--start", "2026-09-30T17:00:00+08:00",
               "--duration", "90s", "--json")
    assert json.loads(r.out)["due_at"] == "2026-09-30T09:01:30Z"


def test_due_bad_input(run: Run) -> None:
    run.error("calendar", "due", "--start", "yesterday", "--duration", "2h", words="bad time")
    run.error("calendar", "due", "--start", "2026-09-30T17:00:00", "--duration", "2h",
              words="no UTC offset")
    run.error("calendar", "due", "--start", "2026-09-30T17:00:00Z", "--duration", "2 hours",
              words="bad duration")
    run.error("calendar", "due", "--calendar", "nowhere", "--start", "2026-09-30T17:00:00Z",
              "--duration", "2h", words="no calendar 'nowhere'")


def test_custom_calendar_set_show_list_rm(run: Run, tmp_path: Path) -> None:
    file = tmp_path / "acme.yaml"
    file.write_text(ACME_YAML, encoding="utf-8")
    assert "calendar acme saved" in run.ok("calendar", "set", str(file)).out
    assert "acme" in run.ok("calendar", "list").out
    r = run.ok("calendar", "show", "acme", "--from", "2026-12-18", "--to", "2026-12-24")
    assert "2026-12-19 Sat makeup" in r.out and "2026-12-24 Thu holiday" in r.out
    r = run.ok("calendar", "due", "--calendar", "acme", "--start", "2026-12-23T17:00:00+08:00",
               "--duration", "1h")
    assert r.out.startswith("2027-01-04T09:00:00+08:00")  # shutdown, New Year, weekend
    show = json.loads(run.ok("calendar", "show", "cn", "--from", "2026-10-01", "--to",
                             "2026-10-01", "--json").out)
    assert show["days"][0]["kind"] == "holiday"

    bad = tmp_path / "bad.yaml"
    bad.write_text(ACME_YAML.replace("Asia/Shanghai", "Mars/Base"), encoding="utf-8")
    run.error("calendar", "set", str(bad), words="timezone: unknown time zone")
    bad.write_text(ACME_YAML.replace('mon: ["08:30-12:00", "13:00-17:30"]',
                                     'mon: ["08:30-12:00", "11:00-17:30"]'))
    run.error("calendar", "set", str(bad), words="overlap")
    run.error("calendar", "set", str(tmp_path / "missing.yaml"), words="missing.yaml")
    run.error("calendar", "show", "cn", "--from", "01/10/2026", words="--from: bad date")

    r = run.ok("add", "--name", "VIP", "--when", '"vip" in tags', "--factor", "0.5",
               app=policy_app)
    assert "SLA policy 1 (VIP) added" in r.out
    run.ok("add", "--name", "acme review", "--target", "1h", "--flow", "retail", "--stage",
           "review", "--calendar", "acme", app=policy_app)
    listed = run.ok("list", app=policy_app).out
    assert "VIP" in listed and "retail/review" in listed and "× 0.5" in listed
    run.error("add", "--name", "x", "--when", "vip ==", "--factor", "2", words="when:",
              app=policy_app)
    run.error("add", "--name", "x", "--factor", "0", words="factor:", app=policy_app)
    run.error("add", "--name", "x", "--target", "2 days", words="target:", app=policy_app)
    run.error("calendar", "rm", "acme", words="used by SLA policy")
    run.ok("rm", "2", app=policy_app)
    run.error("rm", "2", words="no SLA policy 2", app=policy_app)
    assert "calendar acme removed" in run.ok("calendar", "rm", "acme").out
    run.error("calendar", "rm", "acme", words="no calendar 'acme'")
    run.error("calendar", "rm", "cn", words="built in")

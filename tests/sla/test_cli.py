"""`ordertrail sla sweep` and `ordertrail alerts …` as the command line runs them (in process:
the console script itself is covered by tests/cli)."""

from __future__ import annotations

import re

import pytest

from ordertrail import migrate
from ordertrail.auth import service as auth
from ordertrail.config import Settings
from ordertrail.db import make_engine, make_sessionmaker, write_session
from ordertrail.flow import service as flows
from ordertrail.kit.clock import FrozenClock
from tests.cli.test_cli import InProcessCli as Cli
from tests.cli.test_cli import assert_error
from tests.conftest import START, ctx_for, fresh_database
from tests.sla.conftest import retail_order


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sla_cli")
    with fresh_database(directory) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        clock = FrozenClock(START)  # two days ago: review is long overdue by the wall clock
        with write_session(make_sessionmaker(engine)) as session:
            flows.ensure_builtin_flows(session, clock)
            for name, roles in (("sam", ["service"]), ("grace", ["manager"]),
                                ("wang", ["warehouse"])):
                auth.create_user(session, name, roles, clock)
            retail_order(ctx_for(session, "sam", clock, Settings(database_url=url)))
        engine.dispose()
        flows.clear_cache()
        yield Cli(url, directory)


def test_sweep_list_ack_assign_resolve(cli):
    swept = cli.ok("sla", "sweep")
    assert "at_risk=1" in swept.out and "overdue=1" in swept.out and "opened=2" in swept.out
    assert "opened=0" in cli.ok("sla", "sweep").out  # each cause once
    listed = cli.ok("alerts", "list", "--state", "open").out
    # overdue supersedes at risk: only the overdue alert stays open and climbs
    assert "stage_overdue" in listed and "stage_at_risk" not in listed
    assert "stage_at_risk" in cli.ok("alerts", "list", "--state", "auto_resolved").out
    overdue = int(re.search(r"^\s*(\d+)\s+open\s+stage_overdue", listed, re.M).group(1))
    assert "acknowledged" in cli.ok("alerts", "ack", str(overdue), "--user", "sam").out
    assert "assigned to sam" in cli.ok("alerts", "assign", str(overdue), "--user", "grace",
                                       "--to", "sam").out
    assert "resolved" in cli.ok("alerts", "resolve", str(overdue), "--user", "sam",
                                "--note", "called the customer").out
    assert_error(cli("alerts", "ack", str(overdue), "--user", "sam"), "resolved")
    assert_error(cli("alerts", "ack", "99999", "--user", "sam"), "99999")
    assert_error(cli("alerts", "resolve", str(overdue + 1 if overdue == 1 else 1), "--user",
                     "wang"), "may not")
    assert_error(cli("alerts", "list", "--kind", "nope"), "nope")
    assert "no alerts" in cli.ok("alerts", "list", "--kind", "payment_overdue").out

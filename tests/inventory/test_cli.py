"""`ordertrail inventory …` as the command line runs it (in process)."""

from __future__ import annotations

import json

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
from tests.inventory.conftest import new_order


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    directory = tmp_path_factory.mktemp("inventory_cli")
    with fresh_database(directory) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        clock = FrozenClock(START)
        with write_session(make_sessionmaker(engine)) as session:
            flows.ensure_builtin_flows(session, clock)
            for name, roles in (("alice", ["sales"]), ("wang", ["warehouse"])):
                auth.create_user(session, name, roles, clock)
        engine.dispose()
        flows.clear_cache()
        yield Cli(url, directory)


def _order(cli, lines):
    engine = make_engine(cli.url)
    try:
        with write_session(make_sessionmaker(engine)) as session:
            alice = ctx_for(session, "alice", FrozenClock(START), Settings(database_url=cli.url))
            return new_order(alice, lines).order_no
    finally:
        engine.dispose()
        flows.clear_cache()


def test_catalog_movements_and_orders(cli):
    cli.ok("inventory", "warehouse", "add", "SZ1", "--name", "Shenzhen 1")
    cli.ok("inventory", "warehouse", "add", "SH2", "--name", "Shanghai 2", "--user", "wang")
    assert "SH2" in cli.ok("inventory", "warehouse", "list").out
    cli.ok("inventory", "product", "add", "BOLT-M8", "--name", "Bolt")
    added = cli.ok("inventory", "product", "add", "PUMP-7", "--name", "Pump",
                   "--make-to-order", "--bom", "BOLT-M8=2")
    assert "BOLT-M8×2" in added.out
    listed = cli.ok("inventory", "product", "list", "--search", "bolt").out
    assert "BOLT-M8" in listed and "PUMP-7" not in listed
    got = cli.ok("inventory", "receive", "BOLT-M8", "SZ1", "10", "--reason", "PO-1",
                 "--user", "wang")
    assert "on hand now 10" in got.out
    cli.ok("inventory", "transfer", "BOLT-M8", "SZ1", "SH2", "3", "--reason", "rebalance")
    cli.ok("inventory", "adjust", "BOLT-M8", "SH2", "--reason", "count", "--", "-1")
    cli.ok("inventory", "issue", "BOLT-M8", "SZ1", "1", "--reason", "sample")
    shown = cli.ok("inventory", "product", "show", "BOLT-M8").out
    assert "on hand 8" in shown and "SH2" in shown
    stock = json.loads(cli.ok("inventory", "stock", "--sku", "BOLT-M8", "--json").out)
    assert [(s["warehouse"], s["on_hand"]) for s in stock] == [("SH2", "2.000"),
                                                               ("SZ1", "6.000")]
    ledger = cli.ok("inventory", "movements", "--sku", "BOLT-M8").out
    assert ledger.count("transfer") == 2 and "wang: PO-1" in ledger
    no = _order(cli, [("PUMP-7", 5)])
    avail = cli.ok("inventory", "availability", no).out
    assert "short by 2" in avail and "(for PUMP-7)" in avail
    waiting = cli.ok("inventory", "reserve", no).out
    assert "waiting" in waiting and "BOLT-M8 short by 2" in waiting
    cli.ok("inventory", "receive", "BOLT-M8", "SZ1", "2", "--reason", "PO-2")
    reserved = json.loads(cli.ok("inventory", "reserve", no, "--json").out)
    assert reserved["state"] == "reserved" and reserved["fully_reserved"]
    assert "released" in cli.ok("inventory", "release", no, "--reason", "test").out


def test_bad_input_is_one_error_line(cli):
    cli.ok("inventory", "warehouse", "add", "W9", "--name", "nine")
    cli.ok("inventory", "product", "add", "NUT-1", "--name", "Nut")
    assert_error(cli("inventory", "issue", "NUT-1", "W9", "5", "--reason", "x"),
                 "Not enough stock")
    assert_error(cli("inventory", "receive", "NOPE-1", "W9", "5", "--reason", "x"), "NOPE-1")
    assert_error(cli("inventory", "receive", "NUT-1", "XX", "5", "--reason", "x"), "XX")
    assert_error(cli("inventory", "receive", "NUT-1", "W9", "0", "--reason", "x"),
                 "more than 0")
    assert_error(cli("inventory", "receive", "NUT-1", "W9", "lots", "--reason", "x"), "lots")
    assert_error(cli("inventory", "transfer", "NUT-1", "W9", "W9", "1", "--reason", "x"),
                 "another warehouse")
    assert_error(cli("inventory", "product", "add", "NUT-2", "--name", "n", "--bom",
                     "NUT-2=1"), "itself")
    assert_error(cli("inventory", "product", "add", "NUT-3", "--name", "n", "--bom", "NUT-1"),
                 "SKU=QTY")
    assert_error(cli("inventory", "receive", "NUT-1", "W9", "1", "--reason", "x", "--user",
                     "alice"), "may not")
    assert_error(cli("inventory", "availability", "SO-NONE"), "SO-NONE")

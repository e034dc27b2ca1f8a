"""`ordertrail procurement …` as the command line runs them (in process)."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli.test_cli import InProcessCli as Cli
from tests.cli.test_cli import assert_error
from tests.conftest import ctx_for, seeded_database
from tests.procurement.conftest import add_catalog, waiting_order


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    directory = tmp_path_factory.mktemp("procurement_cli")

    def seed(session, clock, settings):
        add_catalog(session, clock)
        waiting_order(ctx_for(session, "grace", clock, settings), {"BOLT-M8": 4})

    users = {"grace": ["manager"], "wang": ["warehouse"], "alice": ["sales"]}
    with seeded_database(directory, users, seed) as (url, _):
        yield Cli(url, directory)


def test_suppliers_and_purchase_orders_from_the_command_line(cli):
    assert "added supplier ACME" in cli.ok("procurement", "supplier", "add", "ACME", "--name",
                                           "Acme 五金", "--lead-time", "4").out
    assert_error(cli("procurement", "supplier", "add", "ACME", "--name", "x"), "exists")
    assert "ACME" in cli.ok("procurement", "supplier", "list").out

    suggested = json.loads(cli.ok("procurement", "po", "suggest", "--json").out)
    assert [(s["sku"], s["suggested_qty"]) for s in suggested] == [("BOLT-M8", "4.000")]
    made = cli.ok("procurement", "po", "from-shortages", "--supplier", "ACME").out
    assert "serves 1 waiting order" in made
    assert "nothing to buy" in cli.ok("procurement", "po", "suggest").out

    created = json.loads(cli.ok("procurement", "po", "create", "--supplier", "ACME",
                                "--line", "GEAR-40=3@12.50", "--line", "NUT-M8=100@0.2",
                                "--expected", "2026-12-15", "--json").out)
    no = created["po_no"]
    assert re.fullmatch(r"PO\d{8}-\d{4}", no) and created["total"] == "57.50"
    shown = cli.ok("procurement", "po", "show", no).out
    assert "GEAR-40" in shown and "expected 2026-12-15" in shown
    link = cli.ok("procurement", "po", "link", no, "--send").out.strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:8000/supplier/po?t=")
    assert "confirmed, delivery 2026-12-16" in cli.ok("procurement", "po", "confirm", no,
                                                       "--date", "2026-12-16").out
    assert_error(cli("procurement", "po", "receive", no, "--line", "GEAR-40=4",
                     "--user", "wang"), "3", "GEAR-40")
    assert_error(cli("procurement", "po", "receive", no, "--line", "BOLT-M8=1"),
                 "not on purchase order")
    assert_error(cli("procurement", "po", "receive", no, "--line", "GEAR-40"), "SKU=QTY")
    assert_error(cli("procurement", "po", "receive", "PO-NONE", "--line", "GEAR-40=1"),
                 "PO-NONE")
    assert_error(cli("procurement", "po", "create", "--supplier", "ACME", "--line",
                     "GEAR-40=1", "--user", "alice"), "may not")
    assert "partially_received" in cli.ok("procurement", "po", "receive", no, "--line",
                                          "GEAR-40=3", "--user", "wang").out
    assert "cancelled" in cli.ok("procurement", "po", "cancel", no, "--reason", "enough").out
    assert_error(cli("procurement", "po", "receive", no, "--line", "NUT-M8=1"), "cancelled")
    listed = json.loads(cli.ok("procurement", "po", "list", "--json").out)
    assert {p["po_no"]: p["status"] for p in listed}[no] == "cancelled"
    assert_error(cli("procurement", "po", "list", "--status", "nope"), "nope")

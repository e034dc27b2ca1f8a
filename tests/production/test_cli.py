"""`ordertrail production …` as the command line runs it (in process)."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import InProcessCli as Cli
from tests.cli.test_cli import assert_error
from tests.conftest import ctx_for, seeded_database
from tests.production.conftest import mto_order, product


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    directory = tmp_path_factory.mktemp("production_cli")

    def seed(session, clock, settings):
        product(session, "PLAIN", mto=True)
        return mto_order(ctx_for(session, "alice", clock, settings),
                         [{"sku": "PLAIN", "name": "Plain", "qty": 2,
                           "unit_price": "1.00"}]).order_no

    users = {"alice": ["sales"], "pete": ["production"], "vera": ["viewer"]}
    with seeded_database(directory, users, seed) as (url, order_no):
        c = Cli(url, directory)
        c.order_no = order_no  # type: ignore[attr-defined]
        yield c


def test_centers_routing_and_a_work_order_through_qc(cli):
    assert "no work centers" in cli.ok("production", "work-center", "list").out
    assert "capacity 2" in cli.ok("production", "work-center", "add", "CUT", "--name",
                                  "Cutting", "--capacity", "2").out
    assert_error(cli("production", "work-center", "add", "CUT"), "CUT")
    assert_error(cli("production", "work-center", "add", "BAD", "--capacity", "0"))
    assert_error(cli("production", "work-center", "add", "V", "--as", "vera"), "viewer")
    listed = json.loads(cli.ok("production", "work-center", "list", "--json").out)
    assert [(c["code"], c["capacity"]) for c in listed] == [("CUT", 2)]
    shown = cli.ok("production", "routing", "set", "PLAIN", "--step", "Cut:CUT:10:5",
                   "--step", "Finish:CUT:0:2.5").out
    assert "1. Cut" in shown and "2. Finish" in shown
    assert_error(cli("production", "routing", "set", "PLAIN", "--step", "Cut:CUT:10"),
                 "NAME:CENTER:SETUP_MIN:MIN_PER_UNIT")
    assert_error(cli("production", "routing", "set", "PLAIN", "--step", "Cut:NOWHERE:1:1"),
                 "NOWHERE")
    assert_error(cli("production", "routing", "set", "NOPE", "--step", "Cut:CUT:1:1"), "NOPE")
    assert "Finish" in cli.ok("production", "routing", "show", "PLAIN").out

    no = cli.order_no
    planned = json.loads(cli.ok("production", "wo", "plan", no, "--json").out)
    assert [(w["sku"], w["status"]) for w in planned] == [("PLAIN", "planned")]
    again = json.loads(cli.ok("production", "wo", "plan", no, "--json").out)
    assert [w["id"] for w in again] == [w["id"] for w in planned]
    number = planned[0]["number"]
    assert number in cli.ok("production", "wo", "list", "--order", no).out
    assert_error(cli("production", "wo", "plan", "SO-NONE"), "SO-NONE")
    assert_error(cli("production", "wo", "qc", number, "pass"), "planned")
    assert_error(cli("production", "wo", "start", "WO-NOPE"), "WO-NOPE")
    assert "in_progress" in cli.ok("production", "wo", "start", number, "--as", "pete").out
    assert_error(cli("production", "wo", "start", number), "already started")
    assert_error(cli("production", "wo", "complete", number), "open steps")
    cli.ok("production", "wo", "step", number, "1", "--note", "clean cut")
    cli.ok("production", "wo", "step", str(planned[0]["id"]), "2")
    assert "completed" in cli.ok("production", "wo", "complete", number).out
    assert_error(cli("production", "wo", "qc", number, "fail"), "note")
    assert_error(cli("production", "wo", "qc", number, "maybe"), "maybe")
    assert "rework" in cli.ok("production", "wo", "qc", number, "fail", "--note",
                              "scratched").out
    cli.ok("production", "wo", "step", number, "3")
    cli.ok("production", "wo", "complete", number)
    done = json.loads(cli.ok("production", "wo", "qc", number, "pass", "--json").out)
    assert done["status"] == "done" and [q["result"] for q in done["qc"]] == ["fail", "pass"]
    show = cli.ok("production", "wo", "show", number).out
    assert "QC fail by cli" in show and "step 3: Rework 1" in show
    assert_error(cli("production", "wo", "create", no, "--line", "1", "--qty", "0"), "Quantity")
    assert_error(cli("production", "wo", "create", no, "--line", "1"), "already")
    assert_error(cli("production", "wo", "list", "--status", "sleeping"), "sleeping")

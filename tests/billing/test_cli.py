"""`ordertrail billing …` as the command line runs it (in process)."""

from __future__ import annotations

import json
import re

import pytest

from tests.billing.conftest import new_order
from tests.cli.test_cli import InProcessCli as Cli
from tests.cli.test_cli import assert_error
from tests.conftest import ctx_for, seeded_database


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    directory = tmp_path_factory.mktemp("billing_cli")

    def seed(session, clock, settings):
        ctx = ctx_for(session, "alice", clock, settings)
        return [new_order(ctx, total="1000.00"), new_order(ctx, total="300.00")]

    users = {"alice": ["sales"], "fiona": ["finance"], "vera": ["viewer"]}
    with seeded_database(directory, users, seed) as (url, nos):
        yield Cli(url, directory), nos, directory


def test_invoice_pay_import_aging_summary(env):
    cli, (no, other), directory = env
    out = cli.ok("billing", "invoice", "issue", no, "--amount", "600", "--terms", "net 30",
                 "--as", "fiona").out
    number = re.search(r"issued (INV\d{8}-\d{4})", out).group(1)
    assert "600.00 CNY" in out and "(net 30)" in out
    shown = json.loads(cli.ok("billing", "invoice", "show", number, "--json").out)
    assert shown["status"] == "open" and shown["issued_by"] == "fiona"
    paid = cli.ok("billing", "pay", no, "--amount", "¥1,000.00", "--reference", "CLI-1",
                  "--payer", "张伟", "--as", "fiona").out
    assert f"{number} 600.00" in paid and "400.00 unallocated" in paid
    assert "nothing changed" in cli.ok("billing", "pay", no, "--amount", "1000",
                                       "--reference", "CLI-1", "--as", "fiona").out
    csv_file = directory / "bank.csv"
    csv_file.write_text(f"交易日期,收入金额,流水号,摘要,对方户名\n"
                        f"2026-11-19,100.00,CLI-2,货款{other},乙\n"
                        f"2026-11-19,9999.00,CLI-3,货款{other},乙\n", encoding="utf-8")
    dry = cli.ok("billing", "import-payments", str(csv_file), "--dry-run", "--as",
                 "fiona").out
    assert "would_apply" in dry and "dry run: nothing changed" in dry
    assert re.search(r"line\s+3\s+error .*still owes", dry)
    real = cli.ok("billing", "import-payments", str(csv_file), "--as", "fiona").out
    assert "2 rows: 1 applied, 0 duplicate, 0 skipped, 1 failed" in real
    again = cli.ok("billing", "import-payments", str(csv_file), "--json").out
    assert json.loads(again)["duplicates"] == 1
    summary = cli.ok("billing", "summary", no).out
    assert "paid 1000.00" in summary and "FULLY PAID" in summary
    listed = cli.ok("billing", "invoice", "list", "--order", no).out
    assert number in listed and " paid " in listed
    aging = json.loads(cli.ok("billing", "aging", "--as-of", "2026-11-20", "--json").out)
    assert aging["customers"] == []  # the only invoice is paid
    assert "receivables as of " in cli.ok("billing", "aging").out  # today, wall clock


def test_errors_are_one_line(env):
    cli, (no, _other), directory = env
    assert_error(cli("billing", "invoice", "issue", no, "--amount", "5000", "--as", "fiona"),
                 "above its total")
    assert_error(cli("billing", "invoice", "issue", no, "--as", "vera"), "finance")
    assert_error(cli("billing", "pay", no, "--amount", "abc"), "--amount", "not a number")
    assert_error(cli("billing", "pay", no, "--amount", "-3"), "more than zero")
    assert_error(cli("billing", "pay", "SO-NOPE", "--amount", "3"), "No order SO-NOPE")
    assert_error(cli("billing", "invoice", "void", "INV-NOPE"), "No invoice INV-NOPE")
    assert_error(cli("billing", "aging", "--as-of", "tomorrow"), "--as-of")
    bad = directory / "bad.csv"
    bad.write_text("when,how much\n2026-11-19,1\n", encoding="utf-8")
    assert_error(cli("billing", "import-payments", str(bad)), "No header line")
    assert_error(cli("billing", "import-payments", str(directory / "missing.csv")),
                 "missing.csv")

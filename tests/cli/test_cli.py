"""The real `ordertrail` console script, run as a subprocess against its own database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ordertrail.app import create_app
from ordertrail.auth import service as auth
from ordertrail.cli import app as cli_app
from ordertrail.config import Settings
from ordertrail.db import make_engine, make_sessionmaker
from ordertrail.flow.service import builtin_source
from ordertrail.migrate import alembic_config
from tests.conftest import fresh_database

SCRIPT = str(Path(sys.executable).with_name("ordertrail"))
ORDER_NO = re.compile(r"\bSO\d{8}-\d{5}\b")


@dataclass
class Result:
    args: tuple[str, ...]
    code: int
    out: str
    err: str


class Cli:
    """Runs `ordertrail ARGS…` with ORDERTRAIL_DATABASE_URL set to the test database."""

    def __init__(self, url: str, cwd: Path) -> None:
        self.url, self.cwd = url, cwd
        self.env = {**os.environ, "ORDERTRAIL_DATABASE_URL": url, "NO_COLOR": "1",
                    "COLUMNS": "200"}

    def __call__(self, *args: str) -> Result:
        proc = subprocess.run([SCRIPT, *args], env=self.env, cwd=self.cwd, capture_output=True,
                              text=True, timeout=120, check=False)
        return Result(args, proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str) -> Result:
        r = self(*args)
        assert r.code == 0, (args, r.out, r.err)
        assert "Traceback" not in r.err
        return r

    def many(self, *commands: tuple[str, ...]) -> list[Result]:
        """Run independent commands side by side (each is a separate process)."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda args: self(*args), commands))


class InProcessCli(Cli):
    """The same commands through Typer's runner in this process: no interpreter start and
    imports per command (about a second each). For the domains' command tests; this module
    keeps running the real console script. An exception that escapes a command shows as a
    traceback in ``err``, so the tests' "no traceback" checks still catch it."""

    def __call__(self, *args: str) -> Result:
        from ordertrail.config import get_settings

        env = {"ORDERTRAIL_DATABASE_URL": self.url, "NO_COLOR": "1", "COLUMNS": "200"}
        get_settings.cache_clear()
        try:
            r = CliRunner().invoke(cli_app, list(args), env=env)
        finally:
            get_settings.cache_clear()
        err = r.stderr
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            err += "Traceback (in process): " + repr(r.exception)
        return Result(args, r.exit_code, r.stdout, err)


def assert_error(r: Result, *words: str) -> None:
    """Exit 1, one line on stderr that starts with 'error:' and names the problem."""
    assert r.code == 1, (r.args, r.code, r.out, r.err)
    assert "Traceback" not in r.err and "Traceback" not in r.out
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (r.args, r.err)
    for word in words:
        assert word in lines[0], (r.args, word, lines[0])


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli")
    with fresh_database(directory) as url:
        yield Cli(url, directory)


@pytest.fixture(scope="module")
def upgraded(cli):
    """`db upgrade` on the empty database (every later command upgrades again: a no-op)."""
    return cli("db", "upgrade")


@pytest.fixture(scope="module")
def users(cli, upgraded):
    cli.many(("user", "create", "li.lei", "--role", "sales", "--role", "manager"),
             ("user", "create", "wang", "--role", "warehouse"))
    return "li.lei", "wang"


@pytest.fixture(scope="module")
def flow_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("flows")
    good = directory / "make_to_order.yaml"
    good.write_text(builtin_source("make_to_order"), encoding="utf-8")
    stricter = directory / "make_to_order_v2.yaml"
    stricter.write_text(builtin_source("make_to_order").replace(
        "    to: material_check\n    roles: [sales, manager]",
        "    to: material_check\n    roles: [manager]"), encoding="utf-8")
    bad = directory / "broken.yaml"
    bad.write_text(builtin_source("retail").replace(
        "    to: packed\n    roles: [warehouse]", "    to: boxed\n    roles: [warehouse]"),
        encoding="utf-8")
    bad_line = bad.read_text(encoding="utf-8").splitlines().index("    to: boxed") + 1
    return good, stricter, bad, bad_line


def test_db_upgrade_creates_the_schema(upgraded):
    assert upgraded.code == 0, upgraded.err
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"database at revision {head} " in upgraded.out
    assert "Traceback" not in upgraded.err


def test_user_and_api_key(cli, users):
    r = cli.ok("apikey", "create", "--user", "li.lei", "--label", "laptop")
    lines = r.out.strip().splitlines()
    assert "li.lei" in lines[0] and "once" in lines[0]
    key = lines[-1]
    assert re.fullmatch(r"ot_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}", key)

    engine = make_engine(cli.url)
    try:
        with make_sessionmaker(engine)() as session:
            user = auth.authenticate(session, key)
            assert (user.name, user.roles) == ("li.lei", ["sales", "manager"])
    finally:
        engine.dispose()
    app = create_app(Settings(database_url=cli.url))
    with TestClient(app) as http:
        me = http.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200 and me.json() == {"name": "li.lei",
                                                       "roles": ["manager", "sales"]}
        assert http.get("/api/v1/me", headers={
            "Authorization": f"Bearer {key[:-2]}xx"}).status_code == 401
    app.state.ot.engine.dispose()


def test_flow_validate(cli, flow_files):
    good, _stricter, bad, bad_line = flow_files
    ok, broken = cli.many(("flow", "validate", str(good)), ("flow", "validate", str(bad)))
    assert ok.code == 0, ok.err
    assert "flow 'make_to_order' is valid" in ok.out
    assert broken.code == 1
    assert "Traceback" not in broken.err
    assert f"{bad}:line {bad_line}, stage 'picking': " in broken.err
    assert "boxed" in broken.err
    assert "problem(s)" in broken.err.strip().splitlines()[-1]


def test_flow_list_show_and_publish(cli, users, flow_files):
    _good, stricter, bad, _line = flow_files
    listed, shown = cli.many(("flow", "list"), ("flow", "show", "b2b_credit"))
    assert listed.code == 0 and shown.code == 0
    rows = {line.split()[0]: line.split()[1] for line in listed.out.strip().splitlines()}
    assert rows == {"b2b_credit": "v1", "make_to_order": "v1", "retail": "v1"}
    assert "按单生产" in listed.out
    # The YAML alone on stdout (it can be edited and published again), a header on stderr.
    assert shown.out.rstrip() == builtin_source("b2b_credit").rstrip()
    assert shown.err.strip() == "# b2b_credit version 1"

    r = cli.ok("flow", "publish", str(stricter))
    assert r.out.strip() == "published make_to_order version 2"
    listed, old, new, refused = cli.many(
        ("flow", "list"), ("flow", "show", "make_to_order", "--version", "1"),
        ("flow", "show", "make_to_order"), ("flow", "publish", str(bad)))
    assert "make_to_order        v2" in listed.out
    assert "to: material_check\n    roles: [sales, manager]" in old.out
    assert "to: material_check\n    roles: [manager]" in new.out
    assert_error(refused, "problem(s)", "line ")


def test_orders_create_show_list_advance(cli, users):
    r = cli.ok("order", "create", "--flow", "retail", "--customer", "韩梅梅", "--as", "li.lei",
               "--line", "TEA-01:Longjing tea 250g:3:88.50", "--line", "CUP-2:Cup:2:15",
               "--phone", "13800138000", "--city", "杭州", "--external-ref", "JD-778899",
               "--promised-at", "2026-12-01T10:00:00+08:00")
    [order_no] = ORDER_NO.findall(r.out)
    assert "(retail, stage review, total 295.50 CNY)" in r.out

    r = cli.ok("order", "advance", order_no, "--to", "picking", "--as", "li.lei",
               "--note", "paid online")
    assert r.out.strip() == f"{order_no} is now at picking"

    shown, as_json, listed, filtered = cli.many(
        ("order", "show", order_no), ("order", "show", order_no, "--json"),
        ("order", "list"), ("order", "list", "--stage", "review"))
    assert shown.code == 0, shown.err
    assert f"{order_no}  retail v1  stage picking (Picking)  active" in shown.out
    assert "customer 韩梅梅  total 295.50 CNY  promised 2026-12-01 02:00:00+00:00" in shown.out
    assert re.search(r"created\s+li\.lei \(sales, cli\)\s+-> review", shown.out)
    assert re.search(r"transition\s+li\.lei \(sales, cli\)\s+review -> picking\s+paid online",
                     shown.out)

    data = json.loads(as_json.out)
    order = data["order"]
    assert (order["order_no"], order["stage"], order["total"]) == (order_no, "picking",
                                                                  "295.50")
    assert [ln["amount"] for ln in order["lines"]] == ["265.50", "30.00"]
    assert (order["external_ref"], order["customer"]["city"]) == ("JD-778899", "杭州")
    assert [(t["kind"], t["actor"], t["source"]) for t in data["timeline"]] == [
        ("created", "li.lei", "cli"), ("transition", "li.lei", "cli")]

    assert order_no in listed.out and "韩梅梅" in listed.out and "295.50" in listed.out
    assert order_no not in filtered.out


def test_bad_input_is_one_error_line_and_exit_1(cli, users):
    r = cli.ok("order", "create", "--flow", "retail", "--customer", "Acme", "--as", "li.lei",
               "--line", "A:Part A:1:10")
    [order_no] = ORDER_NO.findall(r.out)
    results = cli.many(
        ("user", "create", "bob", "--role", "boss"),
        ("apikey", "create", "--user", "ghost"),
        ("order", "create", "--flow", "make_to_order", "--customer", "X", "--as", "ghost",
         "--line", "A:a:1:1"),
        ("order", "create", "--flow", "nowhere", "--customer", "X", "--as", "li.lei",
         "--line", "A:a:1:1"),
        ("order", "create", "--flow", "retail", "--customer", "X", "--as", "li.lei",
         "--line", "A:a:1"),
        ("order", "create", "--flow", "retail", "--customer", "X", "--as", "li.lei",
         "--line", "A:a:two:1"),
        ("order", "show", "SO20990101-00001"),
        ("order", "advance", order_no, "--to", "picking", "--as", "wang"),
        ("flow", "validate", str(cli.cwd / "missing.yaml")),
    )
    expected = [
        ("unknown role 'boss'", "sales"), ("no user 'ghost'",), ("no user 'ghost'",),
        ("Unknown flow nowhere", "retail"), ("--line", "SKU:NAME:QTY:UNIT_PRICE"),
        ("--line", "number"), ("No order SO20990101-00001",), ("service, sales", "warehouse"),
        ("missing.yaml",),
    ]
    for r, words in zip(results, expected, strict=True):
        assert_error(r, *words)
    # None of it changed the order.
    assert "stage review" in cli.ok("order", "show", order_no).out


def test_help_for_every_command(cli):
    top = cli.ok("--help").out
    assert "Usage: ordertrail" in top
    for command in ("serve", "demo", "bench", "db", "flow", "user", "apikey", "order"):
        assert re.search(rf"│ {command}\b", top), command
    # Every command's own help, in-process (the console script runs this same Typer app).
    runner = CliRunner()
    commands = [("db",), ("flow",), ("user",), ("apikey",), ("order",),
                ("serve",), ("demo",), ("bench",), ("db", "upgrade"), ("flow", "validate"),
                ("flow", "list"), ("flow", "show"), ("flow", "publish"), ("user", "create"),
                ("apikey", "create"), ("order", "create"), ("order", "show"),
                ("order", "list"), ("order", "advance")]
    helps = {}
    for command in commands:
        r = runner.invoke(cli_app, [*command, "--help"], env={"COLUMNS": "200"},
                          prog_name="ordertrail")
        assert r.exit_code == 0, (command, r.output)
        assert f"Usage: ordertrail {' '.join(command)}" in r.output
        helps[command] = r.output
    assert "--role" in helps[("user", "create")]
    assert "SKU:NAME:QTY:UNIT_PRICE" in helps[("order", "create")]
    assert "--json" in helps[("order", "show")]

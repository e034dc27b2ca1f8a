"""`ordertrail notify …`: channels, test sends, the log, recorded messages (in process: the
console script itself is covered by tests/cli)."""

from __future__ import annotations

import pytest

from tests.cli.test_cli import InProcessCli as Cli
from tests.cli.test_cli import assert_error
from tests.conftest import fresh_database


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    directory = tmp_path_factory.mktemp("notify_cli")
    with fresh_database(directory) as url:
        run = Cli(url, directory)
        run.ok("user", "create", "grace", "--role", "manager")
        yield run


def test_channels_test_sends_and_the_log(cli):
    out = cli.ok("notify", "channel", "add", "--role", "sales", "--url", "record://ops",
                 "--quiet-calendar", "cn").out
    assert out.startswith("channel 1: role sales record record://ops (zh-CN)")
    cli.ok("notify", "channel", "add", "--user", "grace", "--url", "json://127.0.0.1:1/",
           "--locale", "en")
    listed = cli.ok("notify", "channel", "list").out
    assert "record://ops" in listed and "quiet=cn" in listed and "127.0.0.1" in listed
    assert "sent" in cli.ok("notify", "test", "1").out
    assert_error(cli("notify", "test", "2"), "not delivered", "Connection")
    recorded = cli.ok("notify", "recorded").out
    assert "record://ops  【测试】ordertrail 通知渠道测试" in recorded
    log = cli.ok("notify", "log").out.splitlines()
    assert "failed" in log[0] and "sent" in log[1]
    assert len(cli.ok("notify", "log", "--channel", "record").out.splitlines()) == 1
    cli.ok("notify", "channel", "rm", "2")


def test_bad_input_is_one_line_and_exit_1(cli):
    assert_error(cli("notify", "channel", "add", "--role", "x", "--url", "nope://x"),
                 "does not support the scheme nope://")
    assert_error(cli("notify", "channel", "add", "--url", "record://x"), "--user", "--role")
    assert_error(cli("notify", "channel", "add", "--user", "ghost", "--url", "record://x"),
                 "ghost")
    assert_error(cli("notify", "channel", "add", "--role", "x", "--url", "record://x",
                     "--quiet-calendar", "mars"), "mars")
    assert_error(cli("notify", "channel", "rm", "99"), "99")
    assert_error(cli("notify", "test", "99"), "99")

"""`ordertrail webhooks …` as a user runs it: subscribe, a local receiver that verifies,
deliver, inspect, replay; bad input is one line and exit 1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from ordertrail.benchmarks.common import free_port

SCRIPT = str(Path(sys.executable).with_name("ordertrail"))


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`ordertrail webhooks ARGS` in this process (the receiver below is a real process)."""
    from typer.testing import CliRunner

    from ordertrail.cli import app
    from ordertrail.config import get_settings

    wanted = {k: v for k, v in env.items() if k.startswith("ORDERTRAIL_")
              or k in ("NO_COLOR", "COLUMNS")}
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["webhooks", *args], env=wanted)
    finally:
        get_settings.cache_clear()
    err = r.stderr
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        err += "Traceback (in process): " + repr(r.exception)
    return subprocess.CompletedProcess(["webhooks", *args], r.exit_code, r.stdout, err)


def test_the_webhooks_cli_end_to_end(committing: sessionmaker[Session], database_url: str,
                                     tmp_path: Path) -> None:
    strict = {**os.environ, "ORDERTRAIL_DATABASE_URL": database_url, "NO_COLOR": "1",
              "COLUMNS": "200", "ORDERTRAIL_WEBHOOKS_ALLOW_PRIVATE": "0"}
    env = {**strict, "ORDERTRAIL_WEBHOOKS_ALLOW_PRIVATE": "1"}
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks"

    refused = _run(strict, "add", url, "--event", "order.created")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("error: ") and "a loopback address" in refused.stderr
    unknown = _run(env, "add", url, "--event", "order.teleported")
    assert unknown.returncode == 1 and "Unknown webhook event types" in unknown.stderr

    added = _run(env, "add", url, "--event", "order.*", "--event", "webhook.test")
    assert added.returncode == 0, added.stderr
    secret = re.search(r"secret: (whsec_\S+)", added.stdout)
    webhook_id = re.search(r"webhook (\d+):", added.stdout)
    assert secret and webhook_id
    wid = webhook_id.group(1)

    record = tmp_path / "deliveries.jsonl"
    receiver = subprocess.Popen(
        [SCRIPT, "webhooks", "receive", "--port", str(port), "--secret", secret.group(1),
         "--record", str(record)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        assert receiver.stdout is not None
        assert "listening on" in receiver.stdout.readline()
        assert _run(env, "test", wid).returncode == 0
        delivered = _run(env, "deliver", "--once")
        assert delivered.returncode == 0 and "1 deliveries tried" in delivered.stdout
        deadline = time.monotonic() + 10
        while not record.exists() or not record.read_text().strip():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        (line,) = record.read_text().splitlines()
        got = json.loads(line)
        assert got["verified"] is True and json.loads(got["body"])["type"] == "webhook.test"
        assert "verified" in receiver.stdout.readline()
    finally:
        receiver.terminate()
        receiver.wait(10)

    listed = _run(env, "list")
    assert listed.returncode == 0 and url in listed.stdout and "enabled" in listed.stdout
    log = _run(env, "deliveries", wid, "--json")
    (msg,) = json.loads(log.stdout)["items"]
    assert msg["state"] == "delivered" and msg["msg_id"] == got["webhook_id"]
    assert msg["tries"][0]["status_code"] == 204
    assert _run(env, "replay", wid, msg["msg_id"]).returncode == 0
    shown = json.loads(_run(env, "show", wid).stdout)
    assert shown["messages"] == {"pending": 1} and "secret" not in shown
    assert "disabled" in _run(env, "disable", wid).stdout
    assert "enabled" in _run(env, "enable", wid).stdout
    missing = _run(env, "replay", wid, "msg_nope")
    assert missing.returncode == 1 and "has no message msg_nope" in missing.stderr
    assert _run(env, "rm", wid).returncode == 0
    gone = _run(env, "show", wid)
    assert gone.returncode == 1 and gone.stderr.strip() == f"error: No webhook {wid}."

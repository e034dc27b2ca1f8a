"""`simulate`: options reach the server; a missing secret or bad rate is one error line."""

from __future__ import annotations

import typer
import uvicorn
from typer.testing import CliRunner

from ordertrail.carrier.sim.cli import simulate

from .live import SECRET

app = typer.Typer()
app.command("simulate")(simulate)     # the registration the carriers CLI group makes
app.command("noop", hidden=True)(lambda: None)   # keeps "simulate" a subcommand


def _run(monkeypatch, *args: str, env: dict[str, str] | None = None):
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    monkeypatch.delenv("ORDERTRAIL_SIM_WEBHOOK_SECRET", raising=False)
    result = CliRunner().invoke(app, ["simulate", *args], env=env)
    return result, served


def test_runs_the_simulator_with_the_options(monkeypatch):
    result, served = _run(monkeypatch, "--secret", SECRET, "--port", "8123", "--speed", "7200",
                          "--lost-rate", "0.2", "--reorder-rate", "0.5")
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    config = served["app"].state.sim.config
    assert (config.speed, config.lost_rate, config.reorder_rate) == (7200, 0.2, 0.5)
    assert "http://127.0.0.1:8123" in result.output


def test_the_secret_can_come_from_the_environment(monkeypatch):
    result, served = _run(monkeypatch, env={"ORDERTRAIL_SIM_WEBHOOK_SECRET": "plain-secret"})
    assert result.exit_code == 0, result.output
    assert served["app"].state.sim.secret == "plain-secret"
    assert served["port"] == 8100


def test_without_a_secret_it_refuses(monkeypatch):
    result, served = _run(monkeypatch)
    assert result.exit_code == 1 and not served
    assert "error: a secret is needed" in result.output


def test_bad_rates_and_secrets_are_one_line(monkeypatch):
    result, _ = _run(monkeypatch, "--secret", "s", "--delay-rate", "0.9", "--locker-rate", "0.9")
    assert result.exit_code == 1
    assert result.output.strip() == "error: the scenario rates add up to more than 1"
    result, _ = _run(monkeypatch, "--secret", "whsec_not base64!")
    assert result.exit_code == 1 and "base64" in result.output

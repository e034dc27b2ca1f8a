"""`ordertrail carriers detect|list` and `GET /api/v1/carriers[/detect]`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from ordertrail.cli import app

SCRIPT = str(Path(sys.executable).with_name("ordertrail"))
runner = CliRunner()


def _run(*args: str, stdin: str | None = None):
    return runner.invoke(app, ["carriers", *args], input=stdin)


def _error_line(result) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_detect_prints_a_readable_table():
    result = _run("detect", "sf 1385 6287 16739", "432542035598773")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "SF1385628716739" in out and "顺丰速运" in out and "97%" in out
    assert "kuaidi100.com/chaxun?com=shunfeng&nu=SF1385628716739" in out
    block = out[out.index("432542035598773"):]
    assert block.index("yunda") < block.index("sto")


def test_detect_json_is_one_line_per_number():
    result = _run("detect", "--json", "1Z5R89390357567127", "ABC123")
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["number"] == "1Z5R89390357567127"
    assert lines[0]["candidates"][0] == {
        "carrier": "ups", "confidence": 0.97, "checksum_valid": True, "format": "ups",
        "tracking_url": "https://wwwapps.ups.com/WebTracking/track?track=yes&trackNums="
                        "1Z5R89390357567127"}
    assert lines[1] == {"number": "ABC123", "candidates": []}


def test_detect_from_a_file_and_stdin(tmp_path):
    path = tmp_path / "numbers.txt"
    path.write_text("\ufeffSF1385628716739\n\n  yt8962646785389 \r\nEA123456785CN\n",
                    encoding="utf-8")
    result = _run("detect", "--file", str(path))
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [ln["candidates"][0]["carrier"] for ln in lines] == ["sf", "yto", "ems"]
    piped = _run("detect", "--file", "-", stdin="JT5261988016578\n")
    assert json.loads(piped.stdout)["candidates"][0]["carrier"] == "jtexpress"


def test_a_bad_line_in_a_file_is_reported_and_the_rest_still_detected(tmp_path):
    path = tmp_path / "numbers.txt"
    path.write_text("SF1385628716739\nnot a number!\nDPK202252612836\n", encoding="utf-8")
    result = _run("detect", "--file", str(path))
    assert "1 of 3 lines" in _error_line(result)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [ln.get("error", "")[:16] for ln in lines] == ["", "'not a number!' ", ""]
    assert lines[2]["candidates"][0]["carrier"] == "deppon"


def test_detect_refuses_empty_and_garbage_input(tmp_path):
    assert "at least one" in _error_line(_run("detect"))
    assert "empty" in _error_line(_run("detect", "  "))
    line = _error_line(_run("detect", "SF1385628716739", "<script>"))
    assert "is not a tracking number" in line
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    assert "no tracking numbers" in _error_line(_run("detect", "--file", str(empty)))
    assert "cannot read" in _error_line(_run("detect", "--file", str(tmp_path / "missing")))


def test_the_console_script_prints_one_error_line():
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run([SCRIPT, "carriers", "detect", "hello"], capture_output=True,
                          text=True, timeout=60, check=False, env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: 'hello' is not a tracking number: it has no digits"
    ok = subprocess.run([SCRIPT, "carriers", "detect", "--json", "YT8962646785389"],
                        capture_output=True, text=True, timeout=60, check=False, env=env)
    assert ok.returncode == 0 and json.loads(ok.stdout)["candidates"][0]["carrier"] == "yto"


def test_list_shows_couriers_and_providers():
    result = _run("list")
    assert result.exit_code == 0, result.stderr
    assert "顺丰速运" in result.stdout and "jtexpress" in result.stdout
    assert "Tracking providers" in result.stdout
    doc = json.loads(_run("list", "--json").stdout)
    slugs = [c["slug"] for c in doc["couriers"]]
    assert slugs[:2] == ["sf", "jd"] and "s10" in slugs
    for provider in doc["providers"]:
        assert isinstance(provider["configured"], bool)
    assert isinstance(doc["broken"], dict)


def test_list_survives_a_broken_provider(monkeypatch):
    from ordertrail.carrier import registry

    monkeypatch.setattr(registry, "providers", lambda: {})
    monkeypatch.setattr(registry, "broken", lambda: {"kuaidi100": "ImportError: gone"})
    result = _run("list")
    assert result.exit_code == 0, result.stderr
    assert "none loaded" in result.stdout and "kuaidi100: ImportError: gone" in result.stdout


# HTTP ------------------------------------------------------------------------------------

def test_api_detect(client, people):
    r = client.get("/api/v1/carriers/detect", params={"number": "yt 8962-6467-85389"},
                   headers=people.headers("sam"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["number"] == "YT8962646785389"
    assert body["candidates"][0]["carrier"] == "yto"
    assert body["candidates"][0]["checksum_valid"] is None
    ambiguous = client.get("/api/v1/carriers/detect", params={"number": "432542035598773"},
                           headers=people.headers("vera")).json()
    assert [c["carrier"] for c in ambiguous["candidates"]] == ["yunda", "sto"]
    unknown = client.get("/api/v1/carriers/detect", params={"number": "ABC123"},
                         headers=people.headers("vera")).json()
    assert unknown == {"number": "ABC123", "candidates": []}


def test_api_detect_needs_an_api_key(client):
    r = client.get("/api/v1/carriers/detect", params={"number": "SF1385628716739"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


def test_api_detect_refuses_what_is_not_a_tracking_number(client, people):
    headers = people.headers("sam")
    for params in ({"number": ""}, {}, {"number": "9" * 201}):
        r = client.get("/api/v1/carriers/detect", params=params, headers=headers)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    for number, words in (("  ", "empty"), ("SF#1", "not a tracking number"),
                          ("9" * 65, "at most 64")):
        r = client.get("/api/v1/carriers/detect", params={"number": number}, headers=headers)
        assert r.status_code == 422, r.text
        problem = r.json()
        assert problem["code"] == "invalid_tracking_number" and words in problem["detail"]


def test_api_lists_couriers_and_providers(client, people):
    for path in ("/api/v1/carriers", "/api/v1/carriers/"):
        r = client.get(path, headers=people.headers("vera"))
        assert r.status_code == 200, (path, r.text)
        body = r.json()
        assert {"slug": "sf", "name": "SF Express", "name_zh": "顺丰速运", "country": "CN",
                "tracking_url": "https://www.kuaidi100.com/chaxun?com=shunfeng&nu=%s"} in (
            body["couriers"])
        assert all(isinstance(p["configured"], bool) for p in body["providers"])
    assert "/api/v1/carriers/detect" in client.get("/openapi.json").json()["paths"]

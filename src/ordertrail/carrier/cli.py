"""`ordertrail carriers …`: couriers and providers, detection, the simulated carrier."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from ordertrail.carrier import detect as detection
from ordertrail.carrier.couriers import courier, couriers
from ordertrail.carrier.sim.cli import simulate

app = typer.Typer(help="Carriers: list, detect, simulate.", no_args_is_help=True)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True))
            .rstrip() for row in rows]


_CHECK = {True: "valid", False: "FAILED", None: "-"}


def _readable(found: detection.Detection) -> list[str]:
    lines = [found.number]
    if not found.candidates:
        return [*lines, "  no known courier number format matches this number"]
    rows = [["#", "carrier", "name", "confidence", "check digit", "tracking"]]
    for i, c in enumerate(found.candidates, 1):
        info = courier(c.carrier)
        name = c.carrier if info is None else (
            info.name if info.name_zh in info.name else f"{info.name} {info.name_zh}")
        rows.append([str(i), c.carrier, name, f"{c.confidence:.0%}", _CHECK[c.checksum_valid],
                     c.tracking_url or "-"])
    return lines + _table(rows)


def _lines(file: Path) -> Iterator[str]:
    try:
        if str(file) == "-":
            yield from sys.stdin
            return
        with file.open(encoding="utf-8-sig") as fh:  # tolerate the BOM of Windows editors
            yield from fh
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {file}: {exc}")


def _json_line(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False))


@app.command("detect")
def detect_numbers(
    numbers: Annotated[list[str] | None, typer.Argument(
        help="tracking numbers; spaces, dashes and case do not matter", show_default=False)]
    = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="one JSON line per number instead of a table")] = False,
    file: Annotated[Path | None, typer.Option(
        "--file", "-f", help="read numbers from FILE, one a line ('-': stdin); prints one "
        "JSON line per number", show_default=False)] = None,
) -> None:
    """Which courier a tracking number belongs to, best candidate first.

    JSON: {"number", "candidates": [{"carrier", "confidence", "checksum_valid",
    "tracking_url", "format"}]}. With --file, a line that is not a tracking number prints
    {"number", "error"} and the command ends with exit status 1 after the other lines.
    """
    if not numbers and file is None:
        _fail("give at least one tracking NUMBER, or --file FILE")
    if numbers:
        parsed = []
        for raw in numbers:  # refuse the whole command before printing anything
            try:
                parsed.append(detection.parse(raw))
            except detection.InvalidNumber as exc:
                _fail(str(exc))
        for value in parsed:
            found = detection.detect(value)
            if as_json or file is not None:
                _json_line(found.as_dict())
            else:
                typer.echo("\n".join(_readable(found)))
    if file is not None:
        total = bad = 0
        for line in _lines(file):
            if not line.strip():
                continue
            total += 1
            try:
                value = detection.parse(line.rstrip("\r\n"))
            except detection.InvalidNumber as exc:
                bad += 1
                _json_line({"number": line.strip(), "error": str(exc)})
                continue
            _json_line(detection.detect(value).as_dict())
        if total == 0:
            _fail(f"{file} holds no tracking numbers")
        if bad:
            _fail(f"{bad} of {total} lines in {file} are not tracking numbers "
                  "(their JSON lines have an \"error\")")


def _providers() -> tuple[list[dict[str, Any]], dict[str, str]]:
    from ordertrail.carrier import registry
    from ordertrail.config import credentials, get_settings

    try:
        settings = get_settings()
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        _fail(f"settings: {str(exc).splitlines()[0]}")
    rows = []
    for slug, provider in sorted(registry.providers().items()):
        creds = credentials(settings, slug, provider.credential_names)
        missing = [name for name, value in creds.items() if not value]
        rows.append({"slug": slug, "name": provider.name, "name_zh": provider.name_zh,
                     "configured": not missing, "missing": missing,
                     "can_push": provider.can_push, "can_poll": provider.can_poll})
    return rows, registry.broken()


@app.command("list")
def list_carriers(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
) -> None:
    """Known couriers, and the tracking providers with whether they are configured."""
    providers, broken = _providers()
    known = [{"slug": c.slug, "name": c.name, "name_zh": c.name_zh, "country": c.country,
              "tracking_url": c.tracking_url} for c in couriers()]
    if as_json:
        _json_line({"couriers": known, "providers": providers, "broken": broken})
        return
    out = [f"Couriers ({len(known)}):"]
    out += _table([["slug", "name", "中文名", "country", "tracking link"]]
                  + [[c["slug"], c["name"], c["name_zh"], c["country"] or "-",
                      c["tracking_url"] or "-"] for c in known])
    out.append("")
    out.append(f"Tracking providers ({len(providers)}):")
    if providers:
        out += _table([["slug", "name", "中文名", "configured", "push", "poll"]] + [
            [p["slug"], p["name"], p["name_zh"],
             "yes" if p["configured"] else "no (set " + ", ".join(
                 f"ORDERTRAIL_{p['slug']}_{m}".upper() for m in p["missing"]) + ")",
             "yes" if p["can_push"] else "no", "yes" if p["can_poll"] else "no"]
            for p in providers])
    else:
        out.append("  none loaded")
    if broken:
        out.append("")
        out.append(f"Providers that could not be loaded ({len(broken)}):")
        out += [f"  {slug}: {reason}" for slug, reason in sorted(broken.items())]
    typer.echo("\n".join(out))

app.command("simulate")(simulate)


@app.command("account")
def account(
    provider: str,
    values: Annotated[list[str] | None, typer.Argument(
        help="NAME=VALUE credentials to store, e.g. key=... customer=... salt=...")] = None,
) -> None:
    """Store a provider's credentials in the database (they override settings), or show
    which are set."""
    from ordertrail import cli as base
    from ordertrail.carrier import registry
    from ordertrail.kit.clock import SystemClock
    from ordertrail.shipment.accounts import creds_for, set_account

    plugin = registry.get(provider)
    if plugin is None:
        known = ", ".join(sorted(registry.providers()))
        _fail(f"no tracking provider {provider!r}; known: {known}")
    pairs: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            _fail(f"{item!r}: write NAME=VALUE, e.g. key=abc")
        pairs[name] = value

    def run(session: Any, settings: Any) -> None:
        if pairs:
            set_account(session, plugin, pairs, SystemClock().now())
        creds = creds_for(session, settings, plugin)
        for name in plugin.credential_names:
            typer.echo(f"{name}: {'set' if creds.get(name) else 'not set'}")

    base.with_session(run)

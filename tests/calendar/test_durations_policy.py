"""Durations as flows write them, and SLA policy resolution (pure)."""

from __future__ import annotations

import pytest

from ordertrail.calendar.builtin import BUILTINS, CN
from ordertrail.calendar.durations import parse_duration
from ordertrail.calendar.schemas import PolicyIn
from ordertrail.errors import Invalid
from ordertrail.kit.expr import compile_expr
from ordertrail.sla.policy import Policy, Target, resolve, validate

H = 3600


@pytest.mark.parametrize(("text", "cn_seconds", "always_seconds"), [
    ("90s", 90, 90), ("30m", 1800, 1800), ("30min", 1800, 1800), ("4h", 4 * H, 4 * H),
    ("1.5h", 1.5 * H, 1.5 * H), ("2d", 16 * H, 48 * H), ("1d 4h", 12 * H, 28 * H),
    ("1d4h", 12 * H, 28 * H), ("0s", 0, 0),
])
def test_durations(text: str, cn_seconds: float, always_seconds: float) -> None:
    d = parse_duration(text)
    assert d.seconds_in(CN) == cn_seconds
    assert d.seconds_in(BUILTINS["24x7"]) == always_seconds


def test_mapping_form() -> None:
    d = parse_duration({"target": "90s", "calendar": "24x7"})
    assert (d.calendar, d.seconds, d.text) == ("24x7", 90, "90s")


@pytest.mark.parametrize(("value", "words"), [
    ("2 days", "bad duration"), ("4 hours", "bad duration"), ("3600", "bad duration"),
    ("", "bad duration"), ("-1h", "bad duration"), (None, "bad duration"),
    ({"target": "2h", "calender": "cn"}, "unknown key 'calender'"),
    ({"target": "2h", "calendar": "Bad Cal"}, "bad calendar id"),
    ("99999999d", "longer than 100 years"),
])
def test_bad_durations(value: object, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_duration(value)  # type: ignore[arg-type]


FACTS = {"priority": "urgent", "tags": ["vip"], "channel": "tmall", "flow": "retail",
         "stage": "review", "total": 100}


def policy(pid: int, name: str, when: str | None = None, **kw: object) -> Policy:
    return Policy(id=pid, name=name, when=compile_expr(when) if when else None,
                  **kw)  # type: ignore[arg-type]


def test_stage_sla_in_the_flow_calendar() -> None:
    assert resolve("2h", None, FACTS, []) == Target(2 * H, "cn", "2h", None)
    assert resolve("1d", "24x7", FACTS, []) == Target(86400, "24x7", "1d", None)
    assert resolve({"target": "90s", "calendar": "24x7"}, "cn", FACTS, []) == \
        Target(90, "24x7", "90s", None)
    assert resolve(None, "cn", FACTS, [policy(1, "VIP", '"vip" in tags', factor=0.5)]) is None


def test_vip_halves_and_precedence() -> None:
    vip = policy(1, "VIP", '"vip" in tags', factor=0.5)
    assert resolve("2h", "cn", FACTS, [vip]) == Target(H, "cn", "2h", "VIP")
    assert resolve("1d", "cn", {**FACTS, "tags": []}, [vip]).seconds == 8 * H
    urgent_review = policy(2, "urgent review", 'priority == "urgent"', flow_id="retail",
                           stage="review", target=parse_duration("30m"))
    retail = policy(3, "tmall", 'channel == "tmall"', flow_id="retail", factor=2.0,
                    position=0)
    # flow+stage beats flow beats global, whatever the positions
    got = resolve("2h", "cn", FACTS, [vip, retail, urgent_review])
    assert (got.seconds, got.policy) == (1800, "urgent review")
    got = resolve("2h", "cn", {**FACTS, "stage": "pack"}, [vip, retail, urgent_review])
    assert (got.seconds, got.policy) == (4 * H, "tmall")
    got = resolve("2h", "cn", {**FACTS, "flow": "b2b"}, [vip, retail, urgent_review])
    assert got.policy == "VIP"
    # explicit flow and stage win over the facts
    got = resolve("2h", "cn", FACTS, [urgent_review], flow_id="retail", stage="pack")
    assert got.policy is None
    # same specificity: lower position first
    a = policy(4, "a", factor=0.25, position=20)
    b = policy(5, "b", factor=0.75, position=10)
    assert resolve("4h", "cn", FACTS, [a, b]).policy == "b"


def test_policy_calendar_override_recounts_days() -> None:
    rush = policy(1, "rush", 'priority == "urgent"', factor=0.5, calendar_id="24x7")
    assert resolve("2d", "cn", FACTS, [rush]) == Target(86400, "24x7", "2d", "rush")


def test_a_condition_failing_on_this_order_is_skipped() -> None:
    odd = policy(1, "odd", "total > 10", factor=0.5)
    assert resolve("2h", "cn", {**FACTS, "total": None}, [odd]).policy is None


def _valid(**kw: object) -> dict[str, object]:
    return validate(PolicyIn(**{"name": "p", **kw}), lambda cid: cid in BUILTINS)


def test_policy_validation_names_the_field() -> None:
    assert _valid(when='"vip" in tags', factor=0.5)["condition"] == '"vip" in tags'
    assert _valid(target="1d 4h", calendar="24x7")["target"] == "1d 4h"
    cases = [
        ({"when": "vip ==", "factor": 0.5}, "when: syntax error"),
        ({"when": "colour == 'red'", "factor": 0.5}, "when: unknown name 'colour'"),
        ({"when": "__import__('os')", "factor": 0.5}, "when:"),
        ({"factor": 0}, "factor: must be above 0"),
        ({"factor": -1}, "factor: must be above 0"),
        ({}, "factor: give either"),
        ({"factor": 0.5, "target": "1h"}, "factor: give either"),
        ({"target": "2 days"}, "target: bad duration"),
        ({"factor": 0.5, "calendar": "nowhere"}, "calendar: unknown calendar 'nowhere'"),
        ({"factor": 0.5, "flow": "Retail Flow"}, "flow: bad id"),
    ]
    for kw, words in cases:
        with pytest.raises(Invalid) as err:
            _valid(**kw)
        assert words in str(err.value), (kw, str(err.value))

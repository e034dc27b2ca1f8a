"""Figure: courier detection from tracking numbers, numbers per second on one core.

``carrier.detect.detect(number)`` over a realistic mixed list of distinct numbers, as typed
or pasted by people (some spaced, dashed or lower-case): mostly Chinese domestic couriers,
some cross-border (Cainiao, S10 ``…CN``, YunExpress), the tracking_number_data test numbers
for the international couriers, and noise (bare legacy digit strings, order and phone
numbers, words). One thread, in process; no database. Rates are per second of the thread's CPU time
(wall-clock rates are in the detail), so a busy shared machine does not halve the figure.

Baseline, same run, same list: ``normalise(number)`` plus one precompiled ``re.fullmatch``
per number, the floor of any regex-based detector in Python. The ratio shows how much of
that floor the full detection (all formats, check digits, ranking, result objects) keeps.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from typing import Any

from ordertrail.benchmarks.common import Figure, log, median
from ordertrail.carrier import detect as detection

TARGET = 100_000.0
BASELINE_OF = "normalise() + one precompiled re.fullmatch per number (regex floor)"

# (share of the list, generator name): the mix a Chinese merchant's shipments look like.
MIX: tuple[tuple[float, str], ...] = (
    (0.15, "sf"), (0.12, "zto"), (0.10, "yto"), (0.10, "yunda"), (0.07, "sto"),
    (0.06, "jd"), (0.06, "jtexpress"), (0.02, "ems"), (0.02, "deppon"),
    (0.04, "cainiao"), (0.04, "s10_cn"), (0.02, "yunexpress"),
    (0.10, "international"), (0.10, "noise"),
)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choices("0123456789", k=n))


def _s10_cn(rng: random.Random) -> str:
    serial = _digits(rng, 8)
    rest = sum(int(c) * w for c, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)) % 11
    check = 5 if rest == 0 else 0 if rest == 1 else 11 - rest
    return f"{rng.choice(['EA', 'EE', 'LP', 'RR', 'UA', 'CP'])}{serial}{check}CN"


def _noise(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return _digits(rng, rng.choice((12, 13)))  # legacy bare numbers: ambiguous
    if kind == 1:
        return f"SO{rng.randrange(20250101, 20271231)}-{rng.randrange(100000):05d}"
    if kind == 2:
        return "1" + rng.choice("3589") + _digits(rng, 9)  # a mobile phone number
    return rng.choice(["unknown", "N/A", "pending", "TBD-ask-warehouse"])


def _generators(rng: random.Random) -> dict[str, Callable[[], str]]:
    intl = [n for s in detection.specs() for n in s.valid]
    return {
        "sf": lambda: "SF" + _digits(rng, 13),
        "zto": lambda: "7" + rng.choice("3568") + _digits(rng, 12),
        "yto": lambda: "YT" + _digits(rng, 13),
        "yunda": lambda: rng.choice("34") + _digits(rng, 14),
        "sto": lambda: "77" + _digits(rng, 13),
        "jd": lambda: rng.choice(["JDVA", "JDVB", "JDAZ"]) + _digits(rng, 11)
        if rng.random() < 0.6 else "JDX" + _digits(rng, 12),
        "jtexpress": lambda: "JT" + _digits(rng, 13),
        "ems": lambda: rng.choice("19") + _digits(rng, 12),
        "deppon": lambda: "DPK" + _digits(rng, 12),
        "cainiao": lambda: "LP00" + _digits(rng, 12),
        "s10_cn": lambda: _s10_cn(rng),
        "yunexpress": lambda: "YT" + _digits(rng, 16),
        "international": lambda: rng.choice(intl),
        "noise": lambda: _noise(rng),
    }


def _as_typed(rng: random.Random, number: str) -> str:
    """One in ten as people paste them: spaced in fours, dashed, or lower-case."""
    roll = rng.random()
    if roll < 0.04:
        return " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    if roll < 0.07:
        return "-".join(number[i:i + 5] for i in range(0, len(number), 5))
    if roll < 0.10:
        return number.lower()
    return number


def numbers(count: int, seed: int = 20261121) -> list[str]:
    """A reproducible mixed list of ``count`` tracking numbers (see MIX)."""
    rng = random.Random(seed)
    make = _generators(rng)
    names = [name for _, name in MIX]
    weights = [share for share, _ in MIX]
    out = [_as_typed(rng, make[name]()) for name in rng.choices(names, weights, k=count)]
    rng.shuffle(out)
    return out


def _rate(fn: Callable[[str], object], items: list[str]) -> tuple[float, float]:
    """Calls per second of this thread's CPU time (what "one core" means on a shared
    machine, where other processes take turns), and per second of wall-clock time."""
    c0, t0 = time.thread_time(), time.perf_counter()
    for item in items:
        fn(item)
    cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
    return len(items) / max(cpu, 1e-9), len(items) / max(wall, 1e-9)


def run_detect(count: int = 50_000, rounds: int = 5, seed: int = 20261121,
               progress: Callable[[str], None] = log) -> Figure:
    """Measure detections per second over ``count`` mixed numbers; the median of ``rounds``."""
    items = numbers(count, seed)
    detection.load()  # compiling the formats is a one-off, not part of the rate
    floor = re.compile(r"[A-Z]{2}\d{13}")
    normalise = detection.normalise

    def baseline(number: str) -> object:
        return floor.fullmatch(normalise(number))

    results = [detection.detect(n) for n in items]  # warm-up, and what the list looks like
    found = [len(r.candidates) for r in results]
    rates: list[float] = []
    floors: list[float] = []
    walls: list[float] = []
    for r in range(rounds):
        # Alternate which runs first, so that a noisy neighbour hurts both alike.
        if r % 2:
            rate, wall = _rate(detection.detect, items)
            floor_rate = _rate(baseline, items)[0]
        else:
            floor_rate = _rate(baseline, items)[0]
            rate, wall = _rate(detection.detect, items)
        rates.append(rate)
        floors.append(floor_rate)
        walls.append(wall)
        progress(f"detect round {r + 1}: {rate:,.0f} numbers/s of CPU time, {wall:,.0f}/s "
                 f"wall-clock (floor {floor_rate:,.0f}/s)")
    value = median(rates)
    best = [r.best.carrier for r in results if r.best]
    detail: dict[str, Any] = {
        "numbers": count, "distinct": len(set(items)), "rounds": rounds, "seed": seed,
        "rounds_detect": [round(v) for v in rates], "rounds_baseline": [round(v) for v in floors],
        "best_round": round(max(rates)), "clock": "thread CPU time",
        "rounds_detect_wall_clock": [round(v) for v in walls],
        "mix": {name: share for share, name in MIX},
        "no_candidate": round(found.count(0) / count, 4),
        "several_candidates": round(sum(1 for n in found if n > 1) / count, 4),
        "top_carriers": {c: best.count(c) for c in sorted(set(best), key=best.count,
                                                           reverse=True)[:10]},
        "single_thread": True,
    }
    return Figure(name="carrier_detect_rate", database="none", value=value,
                  unit="numbers/s", baseline=median(floors), baseline_of=BASELINE_OF,
                  target=f">= {TARGET:,.0f} numbers/s on one core", ok=value >= TARGET,
                  detail=detail)

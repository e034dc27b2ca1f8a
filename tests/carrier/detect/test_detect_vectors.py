"""Every test number of the packaged tracking_number_data, valid and invalid.

What passing means:
- a *valid* number of spec S (courier C): S is among the formats the number matches, with a
  holding check digit when S has one (``checksum_valid`` true, else null), and ``detect``
  lists C as a candidate whose check digit does not fail; C is the best candidate except for
  the few numbers that are genuinely ambiguous (KNOWN_AMBIGUOUS, where C ties or trails);
- an *invalid* number of spec S: S does not match it with a holding or absent check digit
  (it may still match S as a likely typo, ``checksum_valid`` false, or match another spec,
  even one of the same courier: Purolator's alpha spec lists a valid Purolator (12) number
  as invalid). Checked on the raw matches, before ranking, and on ``detect``'s candidates.
"""

from __future__ import annotations

from importlib.resources import files

import pytest

from ordertrail.carrier import detect as detection
from ordertrail.carrier.couriers import courier

SPECS = detection.specs()
VALID = [(s, n) for s in SPECS for n in s.valid]
INVALID = [(s, n) for s in SPECS for n in s.invalid]

# Numbers that honestly belong to two formats: both candidates are listed, the spec's courier
# is not (or not alone) first. 12 digits passing both FedEx's and Purolator's check digits tie;
# J + 2 letters + 9 digits is also DHL's piece-ID shape.
KNOWN_AMBIGUOUS = {"287809468872", "320610804900", "JFV247545960"}


def _ids(cases):
    return [f"{s.id}:{n.strip()}" for s, n in cases]


def test_the_packaged_data_is_complete():
    assert len(VALID) == 192 and len(INVALID) == 88
    assert len(SPECS) == 39
    assert len({s.carrier for s in SPECS}) == 18
    assert len({s.id for s in SPECS}) == len(SPECS)
    root = files("ordertrail.carrier").joinpath("data", "tracking_number_data")
    assert "MIT License" in root.joinpath("LICENSE").read_text(encoding="utf-8")
    assert "jkeen/tracking_number_data" in root.joinpath("SOURCE.txt").read_text(encoding="utf-8")
    assert root.joinpath("glossary.json").is_file()


def test_every_courier_of_the_data_is_in_the_courier_table():
    for spec in SPECS:
        assert courier(spec.carrier) is not None, spec.carrier


@pytest.mark.parametrize(("spec", "number"), VALID, ids=_ids(VALID))
def test_valid_number_matches_its_spec(spec, number):
    expected = True if spec.checksum else None
    found = [m for m in detection.matches(number) if m.format == spec.id]
    assert [m.checksum_valid for m in found] == [expected], detection.matches(number)

    result = detection.detect(number)
    mine = [c for c in result.candidates if c.carrier == spec.carrier]
    assert mine and mine[0].checksum_valid is not False, result
    assert 0 < mine[0].confidence <= 1
    if result.number in KNOWN_AMBIGUOUS:
        assert len(result.candidates) > 1
    else:
        assert result.best is not None and result.best.carrier == spec.carrier, result


@pytest.mark.parametrize(("spec", "number"), INVALID, ids=_ids(INVALID))
def test_invalid_number_is_not_accepted_by_its_spec(spec, number):
    raw = [m for m in detection.matches(number)
           if m.format == spec.id and m.checksum_valid is not False]
    assert raw == [], raw
    result = detection.detect(number)
    accepted = [c for c in result.candidates
                if c.format == spec.id and c.checksum_valid is not False]
    assert accepted == [], result


def test_invalid_numbers_with_a_strong_shape_are_kept_as_typos():
    # A 1Z number with a wrong check digit is still most likely UPS, mistyped.
    result = detection.detect("1Z5R89390357567128")
    assert [(c.carrier, c.checksum_valid) for c in result.candidates] == [("ups", False)]
    assert result.candidates[0].confidence <= 0.2
    # S10 with a wrong check digit, and with an unknown country (XX): no valid s10 candidate.
    assert [(c.carrier, c.checksum_valid) for c in detection.detect("RB123456786US")
            .candidates] == [("s10", False)]
    assert detection.detect("RB123456785XX").candidates == ()


def test_a_failed_check_digit_on_a_bare_digit_string_is_no_candidate():
    assert "fedex" in [c.carrier for c in detection.detect("986578788855").candidates]
    assert "fedex" not in [c.carrier for c in detection.detect("986578788856").candidates]


@pytest.mark.parametrize(("spec", "number"), VALID[::7], ids=_ids(VALID[::7]))
def test_spacing_dashes_and_case_do_not_change_the_answer(spec, number):
    plain = detection.detect(number)
    for variant in (" ".join(plain.number), "-".join(plain.number[i:i + 4]
                    for i in range(0, len(plain.number), 4)),
                    f"\t{plain.number.lower()}\n"):
        assert detection.detect(variant) == plain, variant


def test_prepend_if_is_applied_before_the_check_digit():
    # OnTrac C numbers are checked as "4" + serial; USPS legacy numbers without 91 as "91" + …
    assert detection.detect("C11031500001879").best.checksum_valid is True
    assert [m.checksum_valid for m in detection.matches("7196 9010 7560 0307 7385")
            if m.format == "usps_legacy"] == [True]


def test_every_format_of_the_data_has_a_considered_prior():
    # A newer data file with a new format falls back to DEFAULT_PRIOR; this makes it a choice.
    assert {s.id for s in SPECS} == set(detection._PRIORS)


def test_the_cli_passes_every_vector_from_a_file(tmp_path):
    """`ordertrail carriers detect --file` (the real console script) over all 280 numbers."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    cases = [(s, n, True) for s, n in VALID] + [(s, n, False) for s, n in INVALID]
    path = tmp_path / "vectors.txt"
    path.write_text("\n".join(n for _s, n, _ok in cases) + "\n", encoding="utf-8")
    script = str(Path(sys.executable).with_name("ordertrail"))
    proc = subprocess.run([script, "carriers", "detect", "--file", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == len(cases) == 280
    # A line that is not a tracking number at all (some invalid vectors) gets an "error" and
    # the command exits 1; that is a pass for an invalid vector, never for a valid one.
    refused = [n for (_s, n, _v), line in zip(cases, lines, strict=True) if "error" in line]
    assert proc.returncode == (1 if refused else 0), proc.stderr
    assert not [n for (_s, n, v) in cases if v and n in refused]
    for (spec, number, valid), line in zip(cases, lines, strict=True):
        if "error" in line:
            continue
        ok = [c for c in line["candidates"]
              if c["format"] == spec.id and c["checksum_valid"] is not False]
        if valid:
            assert any(c["carrier"] == spec.carrier and c["checksum_valid"] is not False
                       for c in line["candidates"]), (number, line)
        else:
            assert ok == [], (number, line)

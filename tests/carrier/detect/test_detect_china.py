"""Chinese couriers: the common formats, where they overlap, and honest confidence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordertrail.carrier import detect as detection
from ordertrail.carrier.couriers import courier, couriers

# Real-looking numbers as they appear in public examples (see docs/carriers-detection.md).
CLEAR = [
    ("SF1385628716739", "sf"),
    ("JDVA11408814483", "jd"),
    ("JDX024407261700", "jd"),
    ("YT8962646785389", "yto"),
    ("73610555582883", "zto"),
    ("773277027280336", "sto"),
    ("463431409940372", "yunda"),
    ("JT5261988016578", "jtexpress"),
    ("DPK202252612836", "deppon"),
    ("LP00123456789012", "cainiao"),
    ("YT2229521272164446", "yunexpress"),
    ("EA123456785CN", "ems"),
]


@pytest.mark.parametrize(("number", "carrier"), CLEAR)
def test_common_formats_are_recognised(number, carrier):
    result = detection.detect(number)
    assert result.best is not None and result.best.carrier == carrier, result
    assert result.best.confidence >= 0.7
    assert result.best.tracking_url and result.number in result.best.tracking_url


@pytest.mark.parametrize("number", ["SF1385628716739", "YT8962646785389", "JT5261988016578",
                                    "DPK202252612836", "JDX024407261700"])
def test_a_letter_prefix_is_one_confident_answer(number):
    result = detection.detect(number)
    assert len(result.candidates) == 1 and result.best.confidence >= 0.9


def test_yto_and_yunexpress_share_yt_and_differ_by_length():
    assert [c.carrier for c in detection.detect("YT1234567890123").candidates] == ["yto"]
    assert [c.carrier for c in detection.detect("YT1234567890123456").candidates] == [
        "yunexpress"]
    assert detection.detect("YT12345678901234").candidates == ()  # 14 digits: neither


def test_sto_and_yunda_15_digit_numbers():
    starts_43 = detection.detect("432542035598773")
    assert [c.carrier for c in starts_43.candidates] == ["yunda", "sto"]
    assert all(c.confidence < 0.8 for c in starts_43.candidates)
    starts_77 = detection.detect("773277027280336").best
    assert starts_77.carrier == "sto" and starts_77.confidence < 0.9  # FedEx Ground shape too
    assert detection.detect("462598779470531").best.carrier == "yunda"


def test_bare_digit_strings_get_several_modest_candidates():
    twelve = detection.detect("202197601431")
    assert {"sf", "zto"} <= {c.carrier for c in twelve.candidates}
    assert all(c.confidence <= 0.5 for c in twelve.candidates)
    thirteen = detection.detect("5012345678901")
    assert [c.carrier for c in thirteen.candidates] == ["yunda", "ems"]
    assert thirteen.best.confidence < 0.5
    ems = detection.detect("1207119765021").best
    assert ems.carrier == "ems" and 0.3 < ems.confidence < 0.7


def test_a_number_passing_two_check_digits_is_a_tie_not_a_guess():
    result = detection.detect("000000000000")
    top = result.candidates[:2]
    assert {c.carrier for c in top} == {"fedex", "purolator"}
    assert top[0].confidence == top[1].confidence < 0.5
    assert all(c.checksum_valid for c in top)


def test_ems_international_items_are_s10_items():
    result = detection.detect("EA123456785CN")
    assert [(c.carrier, c.checksum_valid) for c in result.candidates] == [
        ("ems", True), ("s10", True)]
    typo = detection.detect("EA123456786CN")
    assert [(c.carrier, c.checksum_valid) for c in typo.candidates] == [
        ("ems", False), ("s10", False)]
    assert all(c.confidence <= 0.2 for c in typo.candidates)
    # Registered mail from China Post: the S10 standard only, no EMS.
    assert [c.carrier for c in detection.detect("RB123456785CN").candidates] == ["s10"]


def test_cainiao_and_dhl_ecommerce_share_the_cn_prefix():
    result = detection.detect("CN123456789012")
    assert [c.carrier for c in result.candidates] == ["cainiao", "dhl"]
    assert sum(c.confidence for c in result.candidates) <= 1


@pytest.mark.parametrize(("raw", "normalised"), [
    ("sf 1385-6287-16739", "SF1385628716739"),
    ("ＳＦ１３８５６２８７１６７３９", "SF1385628716739"),  # full-width, as Chinese IMEs type
    ("\tyt 896\u3000264 678 5389\n", "YT8962646785389"),
    ("1LS7119013618127-1", "1LS71190136181271"),
    ("jd–x024407261700", "JDX024407261700"),  # en dash
])
def test_normalise(raw, normalised):
    assert detection.normalise(raw) == normalised
    assert detection.detect(raw).number == normalised
    assert detection.parse(raw) == normalised


@pytest.mark.parametrize(("raw", "words"), [
    ("", "empty"), ("  - ", "empty"), ("SF#123", "'#'"), ("hello", "no digits"),
    ("1" * 65, "at most 64"), ("1 " * 101, "at most 200"),
])
def test_parse_refuses_what_cannot_be_a_tracking_number(raw, words):
    with pytest.raises(detection.InvalidNumber) as err:
        detection.parse(raw)
    assert words in str(err.value)


def test_unknown_and_overlong_numbers_have_no_candidates():
    assert detection.detect("ABC123").candidates == ()
    assert detection.detect("9" * 80).candidates == ()
    assert detection.detect("").candidates == ()


def test_courier_table():
    slugs = [c.slug for c in couriers()]
    assert len(slugs) == len(set(slugs))
    for slug in ("sf", "jd", "yto", "zto", "sto", "yunda", "ems", "jtexpress", "deppon",
                 "cainiao", "yunexpress", "s10", "ups", "usps", "fedex", "dhl"):
        assert courier(slug) is not None, slug
    assert courier("SF").name_zh == "顺丰速运"
    assert courier("nope") is None
    assert courier("sf").url_for("SF1") == "https://www.kuaidi100.com/chaxun?com=shunfeng&nu=SF1"
    assert courier("s10").url_for("RB1") is None


PREFIXES = ["", "SF", "YT", "JD", "JDX", "JT", "DPK", "LP00", "CN", "1Z", "EA", "RB", "GM",
            "TBA", "C", "9", "77", "43", "46", "73", "420"]
numbers = st.builds(lambda p, d, s: p + d + s, st.sampled_from(PREFIXES),
                    st.text("0123456789", min_size=0, max_size=36),
                    st.sampled_from(["", "CN", "US", "A", "N1"]))


@settings(max_examples=400, deadline=None)
@given(numbers)
def test_confidence_is_honest_for_any_number(number):
    result = detection.detect(number)
    carriers = [c.carrier for c in result.candidates]
    assert len(carriers) == len(set(carriers))
    confidences = [c.confidence for c in result.candidates]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 < c <= 1 for c in confidences)
    competing = sum(c.confidence for c in result.candidates if c.carrier != "s10")
    assert competing <= 1.0 + 1e-6, result
    for c in result.candidates:
        assert courier(c.carrier) is not None
        assert c.tracking_url is None or result.number in c.tracking_url
    # The same answer as a person would type it, in pieces and lower case.
    assert detection.detect(" ".join(number.lower())) == result


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_answered_without_error(text):
    result = detection.detect(text)
    assert isinstance(result.candidates, tuple)
    try:
        value = detection.parse(text)
    except detection.InvalidNumber:
        return
    assert value == result.number

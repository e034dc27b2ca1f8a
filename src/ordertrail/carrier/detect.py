"""Which courier a tracking number belongs to: ranked candidates with honest confidence.

Pure: no I/O but reading the packaged data once. Two sources of number formats:

* the tracking_number_data specs (``data/tracking_number_data``, MIT, see its SOURCE.txt):
  their regexes, check-digit rules (mod10, luhn, mod7, weighted sums, S10, ISO 7064 MOD 37,36),
  ``serial_number_format.prepend_if`` and ``additional.exists`` lookups (the S10 country);
* ``_CHINA``: rules for Chinese couriers, whose numbers carry no public check digit.

``normalise`` removes whitespace and dashes and upper-cases (full-width input from Chinese
input methods is folded to ASCII first), so the upstream regexes are compiled with their
``\\s*`` and literal dashes removed and matched whole against the normalised number.

Confidence: each format has a prior weight, "how often a number of this shape belongs to this
courier" (a letter prefix scores high, a bare digit string low; see docs/carriers-detection.md).
A failed check digit drops the format unless its shape alone is strong (weight >= 0.8), then it
stays as a likely typo with ``checksum_valid: false`` and low confidence. One candidate per
courier (its best format). When the weights of competing couriers add up to more than 1 they
are scaled to sum to 1; ``s10`` (the UPU numbering standard, not a competitor of the post that
issued the number) is left out of that sum.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from itertools import compress
from operator import mul
from typing import Any

from ordertrail.carrier.couriers import courier

MAX_INPUT = 200  # raw characters; a spaced-out 34-digit number is about 70
MAX_LENGTH = 64  # characters once normalised; the longest known format has 41
TYPO_MIN_WEIGHT = 0.8  # a failed check digit keeps a format this strong as a likely typo
TYPO_WEIGHT = 0.2
UMBRELLA = frozenset({"s10"})

# Whitespace (incl. the ideographic space) and dash-like separators people type or paste.
_DROP = {ord(c): None for c in " \t\r\n\v\f\u00a0\u3000-\u2010\u2011\u2012\u2013\u2014\u2212"}
_NUMBER_CHARS = re.compile(r"[0-9A-Z]+")


class InvalidNumber(ValueError):
    """The input cannot be a tracking number (empty, too long, or stray characters).

    ``template`` and ``params`` give the message unformatted, for translation.
    """

    def __init__(self, template: str, **params: Any) -> None:
        super().__init__(template.format(**params))
        self.template, self.params = template, params


@dataclass(frozen=True, slots=True)
class Candidate:
    """One courier the number may belong to; ``format`` names the number format that matched."""

    carrier: str
    confidence: float
    checksum_valid: bool | None
    tracking_url: str | None
    format: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape used by the CLI and the API."""
        return {"carrier": self.carrier, "confidence": self.confidence,
                "checksum_valid": self.checksum_valid, "tracking_url": self.tracking_url,
                "format": self.format}


@dataclass(frozen=True, slots=True)
class Detection:
    """The normalised number and its candidates, best first (empty: no known format)."""

    number: str
    candidates: tuple[Candidate, ...]

    @property
    def best(self) -> Candidate | None:
        """The most likely candidate, or None."""
        return self.candidates[0] if self.candidates else None

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape used by the CLI and the API."""
        return {"number": self.number, "candidates": [c.as_dict() for c in self.candidates]}


@dataclass(frozen=True, slots=True)
class FormatMatch:
    """A format whose pattern matched, before ranking (see ``matches``)."""

    format: str
    carrier: str
    checksum_valid: bool | None
    weight: float


@dataclass(frozen=True, slots=True)
class Spec:
    """A tracking_number_data definition with its test numbers."""

    id: str
    carrier: str
    name: str
    checksum: str | None
    valid: tuple[str, ...]
    invalid: tuple[str, ...]


# Formats -------------------------------------------------------------------------------

Check = Callable[[re.Match[str]], bool]


@dataclass(frozen=True, slots=True)
class _Format:
    id: str
    carrier: str
    regex: re.Pattern[str]
    weight: float
    check: Check | None = None
    refine: tuple[tuple[re.Pattern[str], float], ...] = ()  # first match overrides weight
    exists: tuple[tuple[str, frozenset[str], re.Pattern[str] | None], ...] = ()
    url: str | None = None

    @property
    def typo_weight(self) -> float:
        return TYPO_WEIGHT if self.weight >= TYPO_MIN_WEIGHT else 0.0


# Chinese couriers: (format id, courier, regex on the normalised number, weight).
# Weights are judgement, written down so they can be argued with: see
# docs/carriers-detection.md for the sources and the reasoning behind each.
_CHINA: tuple[tuple[str, str, str, float], ...] = (
    ("sf", "sf", r"SF[0-9A-Z]\d{12}", 0.97),
    ("sf_12", "sf", r"\d{12}", 0.15),                       # pre-2019 all-digit waybills
    ("jd", "jd", r"JD(?:[A-Z]{2}\d{11}|[A-Z]\d{12}|\d{13})", 0.95),  # JDVA…, JDX…, JD…
    ("yto", "yto", r"YT\d{13}", 0.95),                      # YunExpress is YT + 16 digits
    ("zto_14", "zto", r"7[3-68]\d{12}", 0.8),
    ("zto_12", "zto", r"\d{12}", 0.15),
    ("sto_15", "sto", r"77\d{13}", 0.85),
    ("sto_15_other", "sto", r"(?:88|99)\d{13}", 0.3),
    ("sto_15_43", "sto", r"43\d{13}", 0.2),                 # shares 43… with Yunda
    ("sto_14", "sto", r"77\d{12}", 0.4),
    ("sto_13", "sto", r"(?:4\d|55|66)\d{11}", 0.25),
    ("yunda_15", "yunda", r"[34]\d{14}", 0.7),
    ("yunda_13", "yunda", r"[35]\d{12}", 0.35),
    ("ems_s10", "ems", r"E[A-Z](?P<SerialNumber>\d{8})(?P<CheckDigit>\d)CN", 0.95),
    ("ems_13", "ems", r"1\d{12}", 0.55),
    ("ems_13_9", "ems", r"9\d{12}", 0.45),                  # China Post domestic parcels
    ("ems_13_5", "ems", r"5[0-2]\d{11}", 0.2),
    ("jtexpress", "jtexpress", r"JT\d{13}", 0.95),
    ("jtexpress_12", "jtexpress", r"JT\d{12}", 0.5),
    ("deppon", "deppon", r"DPK\d{12}", 0.95),
    ("deppon_digits", "deppon", r"\d{8,10}", 0.1),
    ("cainiao_lp", "cainiao", r"LP\d{14}", 0.9),            # LP00…, AliExpress first mile
    ("cainiao_lp_short", "cainiao", r"LP\d{12,13}", 0.6),
    ("cainiao_cn", "cainiao", r"CN\d{12,15}", 0.55),
    ("cainiao_621", "cainiao", r"621\d{12}", 0.35),
)
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)

# Priors of the tracking_number_data formats. Letter prefixes and long fixed structures are
# strong; bare digit strings of common lengths are weak even with a valid check digit (one
# random number in 7-10 passes one). Formats missing here (a newer data file) get DEFAULT.
DEFAULT_PRIOR = 0.5
_PRIORS: dict[str, float] = {
    "amazon_logistics": 0.9, "amazon_international": 0.3, "canada_post": 0.5,
    "canpar_22": 0.6, "dhl_express": 0.45, "dhl_express_piece_id": 0.6,
    "dhl_ecommerce": 0.3, "dhl_ecommerce_14": 0.2, "dpd": 0.8, "dpd_14": 0.25,
    "fedex_12": 0.45, "fedex_34": 0.6, "fedex_astra_32": 0.6, "fedex_ground": 0.3,
    "fedex_ground_sscc_18": 0.45, "fedex_ground_96": 0.8, "fedex_ground_gsn": 0.8,
    "gofo_us": 0.9, "landmark_global": 0.9, "lasership_lx": 0.8, "lasership_1ls7": 0.9,
    "lasership_1ls7_18": 0.9, "lasership_1lscx": 0.9, "old_dominion": 0.5,
    "old_dominion_guaranteed_shipment": 0.5, "ontrac_c": 0.85, "ontrac_d": 0.85,
    "purolator_numeric": 0.45, "purolator_alpha": 0.3, "s10": 0.9, "speedee": 0.9,
    "ups": 0.97, "ups_waybill": 0.6, "usps_20": 0.5, "usps_impb_n": 0.85,
    "usps_legacy": 0.85, "usps_impb_c": 0.85, "yodel": 0.9, "yunexpress": 0.9,
}
# Shape details that change a prior: DHL Global Mail's GM prefix is DHL's alone (the other
# prefixes of that format are country codes); a DPD 14 ending in a letter is clearly DPD.
_REFINE: dict[str, tuple[tuple[str, float], ...]] = {
    "dhl_ecommerce": (("GM", 0.85),),
    "dpd_14": (("[0-9]{14}[A-Z]", 0.6),),
}


# Check digits (written from the algorithms' descriptions; the test numbers pin them) -------

# Character values: digits as themselves; letters as (code point - 3) mod 10, the UPS rule
# (A=2 … I=0, J=1 …). Lookups through dicts and ``map`` keep the loops in C.
_VALUE: dict[str, int] = {c: (ord(c) - 48 if c <= "9" else (ord(c) - 3) % 10)
                          for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_DIGIT: dict[str, int] = {str(d): d for d in range(10)}
_LUHN_DOUBLE: dict[str, int] = {str(d): d * 2 - 9 if d > 4 else d * 2 for d in range(10)}


def _mod10(p: dict[str, Any]) -> Callable[[str, str], bool]:
    # Weights by 0-based position in the serial: odd positions odds_multiplier, even ones
    # evens_multiplier; ``reverse`` counts positions from the right.
    evens, odds = int(p.get("evens_multiplier", 1)), int(p.get("odds_multiplier", 1))
    modulo, reverse = int(p.get("modulo", 10)), bool(p.get("reverse"))
    value = _VALUE.__getitem__

    def check(serial: str, digit: str) -> bool:
        if reverse:
            serial = serial[::-1]
        total = sum(map(value, serial[::2])) * evens + sum(map(value, serial[1::2])) * odds
        return digit in _DIGIT and (modulo - total % modulo) % modulo == _DIGIT[digit]

    return check


def _luhn(p: dict[str, Any]) -> Callable[[str, str], bool]:
    double, digit_of = _LUHN_DOUBLE.__getitem__, _DIGIT.__getitem__

    def check(serial: str, digit: str) -> bool:
        rev = serial[::-1]  # the rightmost serial digit is doubled
        total = sum(map(double, rev[::2])) + sum(map(digit_of, rev[1::2]))
        return (10 - total % 10) % 10 == _DIGIT[digit]

    return check


def _mod7(p: dict[str, Any]) -> Callable[[str, str], bool]:
    return lambda serial, digit: int(serial) % 7 == _DIGIT[digit]


def _weighted(p: dict[str, Any]) -> Callable[[str, str], bool]:
    weights = tuple(int(w) for w in p["weightings"])
    m1, m2 = int(p["modulo1"]), int(p["modulo2"])
    digit_of = _DIGIT.__getitem__

    def check(serial: str, digit: str) -> bool:
        total = sum(map(mul, map(digit_of, serial), weights))
        return total % m1 % m2 == _DIGIT[digit]

    return check


def _s10(p: dict[str, Any]) -> Callable[[str, str], bool]:
    weights = tuple(int(w) for w in p.get("weightings", _S10_WEIGHTS))
    digit_of = _DIGIT.__getitem__

    def check(serial: str, digit: str) -> bool:
        rest = sum(map(mul, map(digit_of, serial), weights)) % 11
        return (5 if rest == 0 else 0 if rest == 1 else 11 - rest) == _DIGIT[digit]

    return check


def _mod_37_36(p: dict[str, Any]) -> Callable[[str, str], bool]:
    # ISO/IEC 7064 MOD 37,36 (hybrid system) over the alphabet 0-9A-Z.
    alphabet = p.get("alphabet", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    index = {c: i for i, c in enumerate(alphabet)}
    m = int(p.get("modulo", 36))

    def check(serial: str, digit: str) -> bool:
        acc = m
        for ch in serial:
            acc = (acc + index[ch]) % m or m
            acc = acc * 2 % (m + 1)
        return alphabet[(m + 1 - acc) % m] == digit

    return check


_ALGORITHMS: dict[str, Callable[[dict[str, Any]], Callable[[str, str], bool]]] = {
    "mod10": _mod10, "luhn": _luhn, "mod7": _mod7, "s10": _s10, "mod_37_36": _mod_37_36,
    "sum_product_with_weightings_and_modulo": _weighted,
}


def _checker(validation: dict[str, Any]) -> Check | None:
    spec = validation.get("checksum")
    if not spec:
        return None
    algorithm = _ALGORITHMS[spec["name"]](spec)
    prepend = (validation.get("serial_number_format") or {}).get("prepend_if") or {}
    when = re.compile(_python_regex(prepend["matches_regex"])) if prepend else None
    content = prepend.get("content", "")

    def check(m: re.Match[str]) -> bool:
        serial = m["SerialNumber"]
        if when is not None and when.match(serial):
            serial = content + serial
        try:
            return algorithm(serial, m["CheckDigit"])
        except (KeyError, ValueError):  # a character the algorithm has no value for
            return False

    return check


# Loading ---------------------------------------------------------------------------------

def _python_regex(pattern: str, *, capture: bool = True) -> str:
    """A tracking_number_data (Ruby) regex for Python's ``re`` on normalised numbers.

    ``\\s`` and literal dashes go (normalising removed them), ``(?<Name>`` becomes
    ``(?P<Name>``; with ``capture=False`` every group becomes non-capturing.
    """
    out: list[str] = []
    i, in_class = 0, False
    text = pattern.replace("\\s*", "")
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if text[i + 1] != "s":  # \s inside a class: spaces are gone after normalising
                out.append(text[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "-":  # a literal dash outside a class
            i += 1
            continue
        elif ch == "(" and not text.startswith("(?", i) and not capture:
            out.append("(?:")
            i += 1
            continue
        elif ch == "(" and text[i + 1:i + 3] in ("?<", "?P") and text[i + 3] not in "=!":
            end = text.index(">", i)
            out.append("(?:" if not capture else "(?P<" + text[i + 3:end].lstrip("<") + ">")
            i = end + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@cache
def _data() -> tuple[dict[str, Any], ...]:
    folder = files("ordertrail.carrier").joinpath("data", "tracking_number_data", "couriers")
    entries = sorted((e for e in folder.iterdir() if e.name.endswith(".json")),
                     key=lambda e: e.name)
    return tuple(json.loads(e.read_text(encoding="utf-8")) for e in entries)


@cache
def specs() -> tuple[Spec, ...]:
    """The tracking_number_data definitions and their test numbers, as packaged."""
    out = []
    for doc in _data():
        for tn in doc["tracking_numbers"]:
            tests = tn.get("test_numbers") or {}
            checksum = ((tn.get("validation") or {}).get("checksum") or {}).get("name")
            out.append(Spec(id=tn.get("id") or _slug(tn["name"]), carrier=doc["courier_code"],
                            name=tn["name"], checksum=checksum,
                            valid=tuple(tests.get("valid", ())),
                            invalid=tuple(tests.get("invalid", ()))))
    return tuple(out)


def _exists(tn: dict[str, Any]) -> tuple[tuple[str, frozenset[str], re.Pattern[str] | None],
                                            ...]:
    names = ((tn.get("validation") or {}).get("additional") or {}).get("exists") or ()
    tables = {t["name"]: t for t in tn.get("additional") or ()}
    out = []
    for name in names:
        table = tables[name]
        exact = frozenset(e["matches"] for e in table["lookup"] if "matches" in e)
        patterns = [_python_regex(e["matches_regex"]) for e in table["lookup"]
                    if "matches_regex" in e]
        rx = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
        out.append((table["regex_group_name"], exact, rx))
    return tuple(out)


def _upstream_formats() -> list[_Format]:
    out = []
    for doc in _data():
        for tn in doc["tracking_numbers"]:
            fid = tn.get("id") or _slug(tn["name"])
            regex = tn["regex"] if isinstance(tn["regex"], str) else "".join(tn["regex"])
            refine = tuple((re.compile(p), w) for p, w in _REFINE.get(fid, ()))
            out.append(_Format(
                id=fid, carrier=doc["courier_code"], regex=re.compile(_python_regex(regex)),
                weight=_PRIORS.get(fid, DEFAULT_PRIOR),
                check=_checker(tn.get("validation") or {}), refine=refine,
                exists=_exists(tn), url=tn.get("tracking_url")))
    return out


def _china_formats() -> list[_Format]:
    s10 = _checker({"checksum": {"name": "s10"}})  # EMS international items are S10 items
    return [_Format(id=fid, carrier=carrier, regex=re.compile(pattern), weight=weight,
                    check=s10 if fid == "ems_s10" else None)
            for fid, carrier, pattern, weight in _CHINA]


def _widths(fmt: _Format) -> range:
    try:  # the lengths a pattern can match, to file it under them; fallback: every length
        from re import _parser  # type: ignore[attr-defined]

        low, high = _parser.parse(fmt.regex.pattern).getwidth()
        return range(low, min(high, MAX_LENGTH) + 1)
    except Exception:  # noqa: BLE001 - a private API; only speed depends on it
        return range(1, MAX_LENGTH + 1)


@dataclass(frozen=True, slots=True)
class _Bucket:
    """The formats that can match numbers of one length, and one regex that tells which do.

    The combined regex is a row of optional lookaheads, one capturing group per format, so a
    single call in C replaces a Python loop of ``fullmatch`` calls (most fail on the first
    character); only the formats that matched are looked at again.
    """

    formats: tuple[_Format, ...]
    which: Callable[[str], re.Match[str] | None]


@dataclass(frozen=True, slots=True)
class _Tables:
    by_length: tuple[_Bucket | None, ...]  # index: normalised length
    order: dict[str, int]  # carrier -> rank among formats, for stable tie-breaks


@cache
def _tables() -> _Tables:
    formats = _china_formats() + _upstream_formats()
    ids = [f.id for f in formats]
    if len(ids) != len(set(ids)):
        raise RuntimeError(f"duplicate format ids in carrier detection: {sorted(ids)}")
    buckets: list[list[_Format]] = [[] for _ in range(MAX_LENGTH + 1)]
    for fmt in formats:
        if courier(fmt.carrier) is None:
            raise RuntimeError(f"format {fmt.id} names unknown courier {fmt.carrier!r}")
        for n in _widths(fmt):
            buckets[n].append(fmt)
    by_length: list[_Bucket | None] = []
    for bucket in buckets:
        if not bucket:
            by_length.append(None)
            continue
        combined = "".join(f"(?:(?=({_python_regex(f.regex.pattern, capture=False)})\\Z))?"
                           for f in bucket)
        by_length.append(_Bucket(tuple(bucket), re.compile(combined).match))
    order: dict[str, int] = {}
    for fmt in formats:
        order.setdefault(fmt.carrier, len(order))
    return _Tables(tuple(by_length), order)


def load() -> None:
    """Read and compile every format now (otherwise done on the first detection)."""
    _tables()


# Detection ---------------------------------------------------------------------------------

def normalise(number: str) -> str:
    """Upper-case without whitespace and dashes (full-width characters folded to ASCII)."""
    if not number.isascii():
        number = unicodedata.normalize("NFKC", number)
    return number.translate(_DROP).upper()


def parse(number: str) -> str:
    """The normalised number, or InvalidNumber when it cannot be a tracking number."""
    if len(number) > MAX_INPUT:
        raise InvalidNumber("a tracking number has at most {limit} characters (got {count})",
                            limit=MAX_INPUT, count=len(number))
    value = normalise(number)
    if not value:
        raise InvalidNumber("the tracking number is empty")
    if len(value) > MAX_LENGTH:
        raise InvalidNumber("a tracking number has at most {limit} letters and digits "
                            "(got {count})", limit=MAX_LENGTH, count=len(value))
    if not _NUMBER_CHARS.fullmatch(value):
        stray = "".join(sorted({c for c in value if not ("0" <= c <= "9" or "A" <= c <= "Z")}))
        raise InvalidNumber("{number} is not a tracking number: only letters, digits, spaces "
                            "and dashes are allowed (found {stray})",
                            number=repr(number.strip()), stray=repr(stray))
    if not any(c in _DIGIT for c in value):
        raise InvalidNumber("{number} is not a tracking number: it has no digits",
                            number=repr(number.strip()))
    return value


def _judge(fmt: _Format, value: str) -> tuple[bool | None, float] | None:
    """(checksum_valid, weight) of a format whose pattern matched, or None when a lookup
    required by the format (the S10 country) fails."""
    if fmt.check is None and not fmt.exists and not fmt.refine:
        return None, fmt.weight
    m = fmt.regex.fullmatch(value)
    if m is None:  # the prefilter said it matches; only a mismatch of the two would get here
        return None
    for group, exact, rx in fmt.exists:
        found = m[group]
        if found not in exact and not (rx is not None and rx.fullmatch(found)):
            return None
    weight = fmt.weight
    for rx_refine, w in fmt.refine:
        if rx_refine.match(value):
            weight = w
            break
    if fmt.check is None:
        return None, weight
    if fmt.check(m):
        return True, weight
    return False, fmt.typo_weight


def _hits(value: str) -> list[_Format]:
    bucket = _tables().by_length[len(value)] if len(value) <= MAX_LENGTH else None
    if bucket is None:
        return []
    m = bucket.which(value)
    if m is None:
        return []
    return list(compress(bucket.formats, m.groups()))  # a group is set: it matched


def matches(number: str) -> list[FormatMatch]:
    """Every format the (normalised) number matches, checksum state included, unranked."""
    value = normalise(number)
    out = []
    for fmt in _hits(value):
        judged = _judge(fmt, value)
        if judged is not None:
            out.append(FormatMatch(fmt.id, fmt.carrier, judged[0],
                                   judged[1] if judged[0] is not False else fmt.typo_weight))
    return out


def detect(number: str) -> Detection:
    """The couriers this tracking number may belong to, best first."""
    value = normalise(number)
    hits = _hits(value)
    if not hits:
        return Detection(value, ())
    if len(hits) == 1:  # the common case: one format, nothing to share confidence with
        fmt = hits[0]
        judged = _judge(fmt, value)
        if judged is None or judged[1] <= 0.0:
            return Detection(value, ())
        return Detection(value, (_candidate(fmt, value, judged[0], judged[1]),))
    best: dict[str, tuple[float, bool | None, _Format]] = {}
    for fmt in hits:
        judged = _judge(fmt, value)
        if judged is None or judged[1] <= 0.0:
            continue
        held = best.get(fmt.carrier)
        if held is None or judged[1] > held[0]:
            best[fmt.carrier] = (judged[1], judged[0], fmt)
    total = sum(w for carrier, (w, _, _) in best.items() if carrier not in UMBRELLA)
    scale = 1.0 / total if total > 1.0 else 1.0
    order = _tables().order
    ranked = [_candidate(fmt, value, valid, weight if carrier in UMBRELLA else weight * scale)
              for carrier, (weight, valid, fmt) in best.items()]
    ranked.sort(key=lambda c: (-c.confidence, order[c.carrier]))
    return Detection(value, tuple(ranked))


def _candidate(fmt: _Format, value: str, valid: bool | None, confidence: float) -> Candidate:
    template = fmt.url or _courier_url(fmt.carrier)
    url = template.replace("%s", value) if template else None
    return Candidate(fmt.carrier, round(confidence, 3), valid, url, fmt.id)


@cache
def _courier_url(slug: str) -> str | None:
    c = courier(slug)
    return c.tracking_url if c else None

"""Pure parsing and mapping of Kuaidi100 pushes and query results, and its signatures.

A push is a form POST of ``param`` (JSON) and ``sign`` = upper-case MD5(param + salt). Its
``lastResult`` (and ``destResult`` for international numbers) carries the checkpoints, newest
first, with times in China time and, with ``resultv2=4``, a ``statusCode`` per checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from ordertrail.carrier import signing
from ordertrail.carrier.base import (
    BadSignature,
    CarrierEvent,
    MalformedPayload,
    TrackingUpdate,
)
from ordertrail.carrier.kuaidi100 import codes
from ordertrail.carrier.payload import as_object as _object
from ordertrail.carrier.status import RANK, Status, status_of, substatus, unknown

CHINA = ZoneInfo("Asia/Shanghai")
RESUBSCRIBE_AFTER = timedelta(minutes=codes.RESUBSCRIBE_AFTER_MINUTES)
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def md5_upper(text: str) -> str:
    """Upper-case hex MD5 of the UTF-8 text, Kuaidi100's one signing primitive."""
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def push_sign(param: str, salt: str) -> str:
    """The ``sign`` of a push: MD5(param + salt), upper-case."""
    return md5_upper(param + salt)


def query_sign(param: str, key: str, customer: str) -> str:
    """The ``sign`` of a real-time query: MD5(param + key + customer), upper-case."""
    return md5_upper(param + key + customer)


def read_form(body: bytes) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body (first value of each)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    return {name: values[0] for name, values in parse_qs(text, keep_blank_values=True).items()}


def verify_push(body: bytes, salt: str | None) -> None:
    """Raise BadSignature unless the form's ``sign`` is MD5(param + salt) for our salt."""
    salt = signing.require_secret(salt, "no kuaidi100 salt is configured "
                                        "(ORDERTRAIL_KUAIDI100_SALT)")
    form = read_form(body)
    offered = form.get("sign", "").strip()
    if not offered:
        raise BadSignature("the push has no sign field")
    if "param" not in form:
        raise BadSignature("the push has no param field to check the sign against")
    signing.check(offered.upper(), push_sign(form["param"], salt),
                  "sign does not match MD5(param + salt)")


def parse_time(value: object, where: str, tz: tzinfo = CHINA) -> datetime:
    """A Kuaidi100 local time ("2026-11-20 10:00:00", China time) as aware UTC."""
    if isinstance(value, str):
        text = value.strip()
        for fmt in _TIME_FORMATS:
            try:
                return datetime.strptime(text, fmt).replace(tzinfo=tz).astimezone(UTC)
            except ValueError:
                continue
    raise MalformedPayload(f"{where}: {value!r} is not a time like 2026-11-20 10:00:00")


def map_code(code: str) -> tuple[str, bool]:
    """The substatus of a Kuaidi100 code and whether it was mapped (else ``<family>.unknown``)."""
    known = codes.STATES.get(code)
    if known is not None:
        return known[1], True
    return unknown(codes.family_of(code)), False


def _text(obj: Mapping[str, Any], name: str, where: str, required: bool = False) -> str | None:
    value = obj.get(name)
    if value is None or value == "":
        if required:
            raise MalformedPayload(f"{where}{name}: missing")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise MalformedPayload(f"{where}{name}: expected a string, got {type(value).__name__}")
    text = value.strip()
    if not text and required:
        raise MalformedPayload(f"{where}{name}: missing")
    return text or None


def _item_time(item: Mapping[str, Any], where: str, tz: tzinfo) -> datetime:
    if item.get("ftime"):
        return parse_time(item["ftime"], f"{where}.ftime", tz)
    return parse_time(item.get("time"), f"{where}.time", tz)


def _older_fallback(top: str) -> str:
    """For checkpoints without their own status, older than the newest one."""
    status = status_of(top)
    if RANK[status] >= RANK[Status.IN_TRANSIT]:
        return substatus(Status.IN_TRANSIT, "other")
    return top


def parse_result(result: object, where: str, tz: tzinfo = CHINA,
                 events_only: bool = False) -> tuple[str, list[CarrierEvent], list[str]]:
    """(number, events oldest first, unmapped codes) of one ``lastResult``-shaped object."""
    obj = _object(result, where)
    number = _text(obj, "nu", f"{where}.", required=not events_only) or ""
    unmapped: list[str] = []
    state = _text(obj, "state", f"{where}.")
    top: str | None = None
    if state is not None:
        top, ok = map_code(state)
        if not ok:
            unmapped.append(state)
    data = obj.get("data")
    if data is None:
        data = []
    if not isinstance(data, list):
        raise MalformedPayload(f"{where}.data: expected a list of checkpoints")
    items = [_object(raw, f"{where}.data[{i}]") for i, raw in enumerate(data)]
    times = [_item_time(item, f"{where}.data[{i}]", tz) for i, item in enumerate(items)]
    newest = times.index(max(times)) if times else -1
    events: list[CarrierEvent] = []
    for index, item in enumerate(items):
        at = f"{where}.data[{index}]"
        code = _text(item, "statusCode", f"{at}.")
        name = _text(item, "status", f"{at}.")
        raw_code = code or name
        if code is None and name is not None:
            code = codes.NAMES.get(name)
        if code is not None:
            sub, ok = map_code(code)
            if not ok:
                unmapped.append(code)
        elif name is not None:  # a status name we have never seen: keep it, count it
            sub = unknown(Status.PENDING)
            unmapped.append(name)
        elif top is not None:
            sub = top if index == newest else _older_fallback(top)
        else:
            raise MalformedPayload(f"{at}: no statusCode or status, and {where}.state is "
                                   "missing")
        events.append(CarrierEvent(
            occurred_at=times[index], status=status_of(sub).value, substatus=sub,
            description=_text(item, "context", f"{at}.") or "", code=raw_code,
            location=_text(item, "areaName", f"{at}.")))
    # Kuaidi100 sends newest first; sort (stably, so same-time checkpoints keep their order).
    events.reverse()
    events.sort(key=lambda e: e.occurred_at)
    return number, events, unmapped


def _stop(status: str, message: str, corrected: bool) -> tuple[bool, str | None]:
    """Kuaidi100's stop rules: shutdown = signed and finished, abort = stopped early."""
    if status == codes.SHUTDOWN:
        return True, "kuaidi100 finished tracking (shutdown: signed for)" + (
            f": {message}" if message else "")
    if status != codes.ABORT or corrected:
        # An abort that names a corrected company (comNew) is not an end: Kuaidi100 has
        # resubscribed the number under that company and keeps pushing.
        return False, None
    if "3天" in message:
        return True, (f"{codes.RESUBSCRIBE} kuaidi100 stopped (abort: {message}), no record "
                      "for 3 days; check the company and number, then subscribe again after "
                      f"{codes.RESUBSCRIBE_AFTER_MINUTES} minutes")
    if "60天" in message:
        return True, f"kuaidi100 stopped (abort: {message}), no change for 60 days"
    return True, "kuaidi100 stopped (abort)" + (f": {message}" if message else "")


def parse_push_param(param: str, tz: tzinfo = CHINA) -> TrackingUpdate:
    """The update one push ``param`` carries, with Kuaidi100's stop rules applied."""
    try:
        payload = json.loads(param)
    except ValueError as exc:
        raise MalformedPayload(f"param: not JSON ({exc.msg} at {exc.pos})") from None
    obj = _object(payload, "param")
    status = _text(obj, "status", "", required=True) or ""
    if status not in codes.PUSH_STATUSES:
        raise MalformedPayload(f"status: unknown monitoring status {status!r}")
    message = _text(obj, "message", "") or ""
    if "lastResult" not in obj:
        raise MalformedPayload("lastResult: missing")
    number, events, unmapped = parse_result(obj["lastResult"], "lastResult", tz)
    if obj.get("destResult"):
        _, more, more_unmapped = parse_result(obj["destResult"], "destResult", tz,
                                              events_only=True)
        events = sorted(events + more, key=lambda e: e.occurred_at)
        unmapped += more_unmapped
    last = _object(obj["lastResult"], "lastResult")
    com_new = _text(obj, "comNew", "")
    company = com_new or _text(last, "com", "lastResult.")
    stopped, reason = _stop(status, message, corrected=com_new is not None)
    again = reason is not None and reason.startswith(codes.RESUBSCRIBE)
    return TrackingUpdate(
        tracking_number=number, events=tuple(events),
        courier=codes.COURIER.get(company) if company else None,
        stopped=stopped, stop_reason=reason, unmapped=tuple(dict.fromkeys(unmapped)),
        resubscribe_after=RESUBSCRIBE_AFTER if again else None)


def parse_push_body(body: bytes, tz: tzinfo = CHINA) -> TrackingUpdate:
    """The update of a verified push body (the form with ``param`` and ``sign``)."""
    form = read_form(body)
    if "param" not in form:
        raise MalformedPayload("param: missing from the form body")
    return parse_push_param(form["param"], tz)


def parse_query(payload: object, tz: tzinfo = CHINA) -> TrackingUpdate:
    """The update a successful real-time query (``poll/query.do``) answered."""
    obj = _object(payload, "response")
    number, events, unmapped = parse_result(obj, "response", tz)
    company = _text(obj, "com", "response.")
    return TrackingUpdate(tracking_number=number, events=tuple(events),
                          courier=codes.COURIER.get(company) if company else None,
                          unmapped=tuple(dict.fromkeys(unmapped)))


def phone_tail(phone: str | None) -> str | None:
    """The last four digits of a phone number, all Kuaidi100 needs (and all we send)."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-4:] if len(digits) >= 4 else None


def subscribe_param(*, company: str | None, number: str, key: str, callback_url: str,
                    salt: str, phone: str | None = None, to: str | None = None,
                    resultv2: str = "4") -> dict[str, Any]:
    """The ``param`` object of a subscription request."""
    parameters: dict[str, Any] = {"callbackurl": callback_url, "salt": salt,
                                  "resultv2": resultv2}
    if company is None:
        parameters["autoCom"] = "1"
    if phone:
        parameters["phone"] = phone
    param: dict[str, Any] = {"company": company or "", "number": number, "key": key,
                             "parameters": parameters}
    if to:
        param["to"] = to
    return param


def query_param(*, company: str, number: str, phone: str | None = None,
                resultv2: str = "4") -> dict[str, Any]:
    """The ``param`` object of a real-time query."""
    param: dict[str, Any] = {"com": company, "num": number, "resultv2": resultv2,
                             "show": "0", "order": "desc"}
    if phone:
        param["phone"] = phone
    return param


def dumps(obj: Mapping[str, Any] | Sequence[Any]) -> str:
    """Compact JSON, UTF-8 characters kept: the exact text that gets signed and sent."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))

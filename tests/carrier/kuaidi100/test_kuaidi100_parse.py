"""Kuaidi100 states, checkpoints, China time, stop rules and courier codes, from recorded pushes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest

from ordertrail.carrier.base import InboundRequest, MalformedPayload
from ordertrail.carrier.kuaidi100 import codes, parse
from ordertrail.carrier.kuaidi100.plugin import Kuaidi100
from ordertrail.carrier.status import SUBSTATUSES

DATA = Path(__file__).parent / "data"
plugin = Kuaidi100()


def load(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def push(name: str):
    body = urlencode({"param": load(name), "sign": "not checked here"}).encode()
    [update] = plugin.parse_push(InboundRequest(headers={}, body=body))
    return update


# Every documented Kuaidi100 state and resultv2=4 sub-code, written out independently of
# codes.STATES so that a change there has to be made on purpose here too.
EXPECTED = {
    "0": "in_transit.other", "1": "in_transit.picked_up", "2": "exception.other",
    "3": "delivered.other", "4": "exception.returned", "5": "out_for_delivery.out_for_delivery",
    "6": "exception.returning", "7": "in_transit.forwarded",
    "8": "in_transit.customs_processing", "10": "in_transit.customs_processing",
    "11": "in_transit.customs_processing", "12": "in_transit.customs_released",
    "13": "exception.customs_held", "14": "exception.refused",
    "101": "info_received.label_created", "102": "info_received.other",
    "103": "in_transit.picked_up",
    "1001": "in_transit.arrived", "1002": "in_transit.other", "1003": "in_transit.forwarded",
    "201": "exception.delayed", "202": "exception.delayed", "203": "exception.refused",
    "204": "attempt_fail.other", "205": "exception.other", "206": "exception.no_one_home",
    "207": "exception.address_issue", "208": "exception.delayed", "209": "exception.damaged",
    "210": "exception.cancelled",
    "301": "delivered.signed", "302": "delivered.signed", "303": "delivered.signed_by_proxy",
    "304": "delivered.picked_up",
    "401": "exception.cancelled", "501": "available_for_pickup.other",
}


@pytest.mark.parametrize(("code", "expected"), sorted(EXPECTED.items()))
def test_every_documented_code_maps_to_the_unified_vocabulary(code, expected):
    assert parse.map_code(code) == (expected, True)
    assert expected in SUBSTATUSES


def test_the_code_table_has_no_code_the_test_does_not_know():
    assert set(codes.STATES) == set(EXPECTED)


@pytest.mark.parametrize(("code", "expected"), [
    ("211", "exception.unknown"), ("105", "info_received.unknown"),
    ("305", "delivered.unknown"), ("402", "exception.unknown"),
    ("502", "out_for_delivery.unknown"), ("601", "exception.unknown"),
    ("701", "in_transit.unknown"), ("801", "in_transit.unknown"),
    ("1004", "in_transit.unknown"), ("1401", "exception.unknown"),
    ("9", "pending.unknown"), ("15", "pending.unknown"), ("abc", "pending.unknown"),
])
def test_an_unmapped_code_falls_back_to_its_familys_unknown(code, expected):
    assert parse.map_code(code) == (expected, False)


def test_china_time_is_resolved_to_aware_utc():
    at = parse.parse_time("2026-11-20 10:00:00", "x")
    assert at == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert parse.parse_time("2026-11-20 00:30", "x") == datetime(2026, 11, 19, 16, 30,
                                                                  tzinfo=UTC)


def test_transit_push_events_oldest_first_in_utc_with_codes_and_places():
    update = push("push_polling_transit.json")
    assert update.tracking_number == "78901234567890"
    assert update.courier == "zto"
    assert not update.stopped and update.stop_reason is None
    assert update.unmapped == ()
    assert [(e.code, e.substatus) for e in update.events] == [
        ("101", "info_received.label_created"), ("103", "in_transit.picked_up"),
        ("1002", "in_transit.other"), ("1002", "in_transit.other"),
        ("1001", "in_transit.arrived")]
    picked = update.events[1]
    assert picked.occurred_at == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert picked.status == "in_transit"
    assert picked.location == "浙江,杭州市,西湖区"
    assert picked.description.endswith("已揽收")
    assert update.events[0].location is None


def test_signed_by_proxy_push_is_delivered_and_finished():
    update = push("push_shutdown_proxy.json")
    assert update.courier == "sf"
    last = update.events[-1]
    assert (last.status, last.substatus, last.code) == ("delivered", "delivered.signed_by_proxy",
                                                        "303")
    assert last.occurred_at == datetime(2026, 11, 22, 7, 40, 5, tzinfo=UTC)
    assert update.stopped
    assert "shutdown" in update.stop_reason


def test_exception_push_keeps_the_2xx_detail():
    update = push("push_exception_2xx.json")
    assert update.courier == "yto"
    assert [e.substatus for e in update.events[-2:]] == ["attempt_fail.other",
                                                        "exception.no_one_home"]
    assert update.events[-1].code == "206"
    assert not update.stopped


def test_abort_after_three_days_without_records_asks_for_a_later_resubscription():
    update = push("push_abort_3days.json")
    assert update.tracking_number == "4300000000001"
    assert update.events == ()
    assert update.stopped
    assert update.stop_reason.startswith(codes.RESUBSCRIBE)
    assert "3天查询无记录" in update.stop_reason
    assert "30 minutes" in update.stop_reason
    assert len(update.stop_reason) <= 200  # ingestion keeps 200 characters


def test_abort_after_sixty_days_without_change_is_a_plain_stop():
    update = push("push_abort_60days.json")
    assert update.stopped
    assert "60天无变化" in update.stop_reason
    assert not update.stop_reason.startswith(codes.RESUBSCRIBE)
    assert update.courier == "sto"


def test_abort_naming_a_corrected_company_is_not_a_stop_and_switches_the_courier():
    update = push("push_abort_corrected.json")
    assert not update.stopped
    assert update.courier == "yto"


def test_updateall_is_a_full_repush_not_a_stop():
    param = json.loads(load("push_polling_transit.json"))
    param["status"] = "updateall"
    update = parse.parse_push_param(json.dumps(param, ensure_ascii=False))
    assert not update.stopped
    assert len(update.events) == 5


def test_unmapped_codes_are_kept_on_the_event_and_listed():
    update = push("push_unmapped.json")
    by_code = {e.code: e.substatus for e in update.events}
    assert by_code == {"103": "in_transit.picked_up", "9": "pending.unknown",
                       "1004": "in_transit.unknown", "211": "exception.unknown"}
    assert update.unmapped == ("211", "1004", "9")


def test_checkpoints_with_only_a_status_name_map_by_name():
    update = push("push_names_only.json")
    assert [e.substatus for e in update.events] == [
        "in_transit.picked_up", "in_transit.other", "out_for_delivery.out_for_delivery",
        "delivered.other"]
    assert [e.code for e in update.events] == ["揽收", "在途", "派件", "签收"]
    assert update.courier == "ems"


def test_an_unknown_status_name_is_counted_as_unmapped():
    param = json.loads(load("push_names_only.json"))
    param["lastResult"]["data"][0]["status"] = "外星签收"
    update = parse.parse_push_param(json.dumps(param, ensure_ascii=False))
    assert update.events[-1].substatus == "pending.unknown"
    assert update.events[-1].code == "外星签收"
    assert update.unmapped == ("外星签收",)


def test_checkpoints_without_status_take_the_state_newest_first():
    update = push("push_no_status.json")
    assert [e.substatus for e in update.events] == [
        "in_transit.other", "in_transit.other", "out_for_delivery.out_for_delivery"]
    assert all(e.code is None for e in update.events)
    assert update.courier == "jtexpress"


def test_destination_country_results_are_merged_in_time_order():
    update = push("push_customs_intl.json")
    assert [e.substatus for e in update.events] == [
        "in_transit.customs_processing", "in_transit.customs_processing",
        "in_transit.customs_processing", "in_transit.customs_released"]
    assert update.events[-1].description == "Released from customs, Los Angeles CA"


def test_real_time_query_answer_parses_like_a_push():
    update = parse.parse_query(json.loads(load("query_ok.json")))
    assert update.tracking_number == "SF1234567890123"
    assert update.courier == "sf"
    assert update.events[-1].substatus == "delivered.signed"
    assert update.events[0].occurred_at == datetime(2026, 11, 21, 9, 45, tzinfo=UTC)
    assert not update.stopped


def _mutate(change) -> str:
    param = json.loads(load("push_polling_transit.json"))
    change(param)
    return json.dumps(param, ensure_ascii=False)


@pytest.mark.parametrize(("change", "reason"), [
    (lambda p: p.pop("lastResult"), "^lastResult: missing"),
    (lambda p: p.__setitem__("lastResult", []), "^lastResult: expected a JSON object"),
    (lambda p: p.pop("status"), "^status: missing"),
    (lambda p: p.__setitem__("status", "paused"), "^status: unknown monitoring status"),
    (lambda p: p["lastResult"].pop("nu"), r"^lastResult\.nu: missing"),
    (lambda p: p["lastResult"].__setitem__("data", "none"), r"^lastResult\.data: expected a list"),
    (lambda p: p["lastResult"]["data"][1].update(ftime="yesterday", time="yesterday"),
     r"^lastResult\.data\[1\]\.ftime: 'yesterday' is not a time"),
    (lambda p: p["lastResult"]["data"][2].__setitem__("context", ["快件"]),
     r"^lastResult\.data\[2\]\.context: expected a string"),
    (lambda p: p["lastResult"]["data"].__setitem__(0, "checkpoint"),
     r"^lastResult\.data\[0\]: expected a JSON object"),
])
def test_malformed_pushes_name_the_field(change, reason):
    with pytest.raises(MalformedPayload, match=reason):
        parse.parse_push_param(_mutate(change))


def test_a_param_that_is_not_an_object_is_malformed():
    with pytest.raises(MalformedPayload, match=r"^param: expected a JSON object"):
        parse.parse_push_param("[1, 2, 3]")


def test_checkpoint_without_any_status_and_no_state_is_malformed():
    def change(p):
        p["lastResult"].pop("state")
        del p["lastResult"]["data"][0]["status"], p["lastResult"]["data"][0]["statusCode"]
    with pytest.raises(MalformedPayload, match=r"^lastResult\.data\[0\]: no statusCode"):
        parse.parse_push_param(_mutate(change))


def test_form_without_param_is_malformed():
    with pytest.raises(MalformedPayload, match=r"^param: missing"):
        parse.parse_push_body(b"sign=ABC")


def test_ack_bodies_are_the_documented_json():
    ok = plugin.ack(True)
    assert ok.status_code == 200
    assert json.loads(ok.body) == {"result": True, "returnCode": "200", "message": "成功"}
    refused = plugin.ack(False, "签名错误")
    assert refused.status_code == 500
    assert json.loads(refused.body) == {"result": False, "returnCode": "500",
                                        "message": "签名错误"}
    assert json.loads(plugin.ack(False).body)["message"] == "失败"
    assert ok.media_type == "application/json"


@pytest.mark.parametrize(("slug", "company"), [
    ("sf", "shunfeng"), ("jd", "jd"), ("yto", "yuantong"), ("zto", "zhongtong"),
    ("sto", "shentong"), ("yunda", "yunda"), ("ems", "ems"), ("jtexpress", "jtexpress"),
    ("deppon", "debangkuaidi"), ("cainiao", "danniao"), ("chinapost", "youzhengguonei"),
    ("ups", "ups"), ("usps", "usps"), ("fedex", "fedex"), ("dhl", "dhlen"),
])
def test_courier_slugs_map_to_company_codes_and_back(slug, company):
    assert codes.COMPANY[slug] == company
    assert codes.COURIER[company] == slug


@pytest.mark.parametrize(("company", "slug"), [
    ("debangwuliu", "deppon"), ("shunfengkuaiyun", "sf"), ("dhl", "dhl"),
    ("lianbangkuaidi", "fedex"), ("youzhengbk", "chinapost"),
])
def test_sibling_company_codes_map_to_the_same_courier(company, slug):
    assert codes.COURIER[company] == slug


def test_phone_tail_keeps_only_the_last_four_digits():
    assert parse.phone_tail("+86 138-0013-8000") == "8000"
    assert parse.phone_tail("12") is None
    assert parse.phone_tail(None) is None

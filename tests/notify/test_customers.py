"""Customers hear about their order: shipped (with a signed tracking link), out for
delivery, delivered, delayed (an apology), per the flow's config, in quiet-hour limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from ordertrail.config import Settings
from ordertrail.jobs.registry import Event
from ordertrail.jobs.worker import drain
from ordertrail.notify import consumers, events, links, sender
from tests.notify.conftest import recorded, rows, system_ctx
from tests.shipment.test_api import manual, packed, ship


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, public_url="https://track.example.cn",
                    secret_key="test-secret",
                    customer_email_url="record://customer-mail?to={email}",
                    customer_sms_url="record://customer-sms/{phone}")


def _shipped_order(client, people) -> tuple[str, int]:
    no = packed(client, people)
    r = ship(client, people, no, carrier="sf", tracking_number="SF1234567890123")
    assert r.status_code == 201, r.text
    return no, r.json()["id"]


def test_shipping_delivering_tell_the_customer_once(client, people, db, factory, clock,
                                                    settings):
    no, sid = _shipped_order(client, people)
    for status, text in (("out_for_delivery", "快递员正在派送"), ("delivered", "已签收")):
        r = manual(client, people, sid, clock.now().isoformat(), status, text)
        assert r.status_code == 201, r.text
    drain(factory, clock, settings)
    drain(factory, clock, settings)  # nothing new the second time
    # (The SLA sweep may also find the order late meanwhile: only these kinds matter here.)
    log = [n for n in rows(db, order_no=no, recipient_type="customer")
           if n.kind in ("shipped", "out_for_delivery", "delivered")]
    assert sorted((n.kind, n.channel, n.state) for n in log) == [
        ("delivered", "email", "sent"), ("delivered", "sms", "sent"),
        ("out_for_delivery", "email", "sent"), ("out_for_delivery", "sms", "sent"),
        ("shipped", "email", "sent"), ("shipped", "sms", "sent")]
    shipped = next(n for n in log if n.kind == "shipped" and n.channel == "email")
    assert shipped.subject == f"您的订单 {no} 已发货"
    assert shipped.recipient == "张伟" and shipped.address == "z***@example.cn"
    assert "SF1234567890123" in shipped.body
    link = next(w for w in shipped.body.split() if "/track?" in w).split("：")[-1]
    assert link.startswith("https://track.example.cn/track?")
    q = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert q["o"] == no
    assert links.verify(db, settings, q["o"], q["e"], q["s"], clock.now())
    assert not links.verify(db, settings, "SO-OTHER", q["e"], q["s"], clock.now())
    sms = recorded(db, "record://customer-sms/13800138000")
    assert sorted(m.title for m in sms if "致歉" not in m.title) == sorted(
        n.subject for n in log if n.channel == "sms")


def test_a_delay_sends_an_apology_with_the_new_expected_time(db, factory, clock, settings,
                                                             client, people):
    no, sid = _shipped_order(client, people)
    ctx = system_ctx(db, clock, settings)
    payload = {"order_no": no, "reason": "shipment_exception", "shipment_id": sid,
               "tracking_number": "SF1234567890123", "promised_at": None,
               "expected_at": "2026-11-25T10:00:00+00:00", "at": clock.now().isoformat()}
    event = Event(id=1, name="order.delayed", aggregate="order", aggregate_id=no,
                  payload=payload, created_at=clock.now())
    consumers.customers(ctx, event)
    consumers.customers(ctx, event)  # at-least-once delivery of the event: still one each
    delayed = rows(db, order_no=no, kind="delayed")
    assert [n.channel for n in delayed] == ["email", "sms"]
    assert delayed[0].subject == f"关于订单 {no} 延迟的致歉"
    assert "非常抱歉" in delayed[0].body and "在运输途中出现异常" in delayed[0].body
    assert "预计新的送达时间为 2026-11-25 18:00" in delayed[0].body
    sender.send_due(factory, clock, settings)
    assert any("致歉" in m.title for m in recorded(db, "record://customer-mail"))


def test_one_apology_a_day_for_the_order_and_one_for_each_parcel_gone_wrong(
        db, clock, settings, client, people):
    no, sid = _shipped_order(client, people)
    ctx = system_ctx(db, clock, settings)

    def delayed(reason, shipment_id=None, n=1):
        consumers.customers(ctx, Event(
            id=n, name="order.delayed", aggregate="order", aggregate_id=no,
            payload={"order_no": no, "reason": reason, "shipment_id": shipment_id,
                     "expected_at": None}, created_at=clock.now()))

    delayed("stage_overdue")
    delayed("late_risk", n=2)  # the same sweep: the same delay to the customer
    assert len(rows(db, order_no=no, kind="delayed")) == 2  # e-mail and SMS
    delayed("shipment_exception", sid, n=3)  # the parcel is lost: news of its own
    assert len(rows(db, order_no=no, kind="delayed")) == 4
    clock.advance(timedelta(days=1))
    delayed("late_risk", n=4)  # still late the next day: one more apology
    assert len(rows(db, order_no=no, kind="delayed")) == 6


def test_english_customers_get_english(db, clock, client, people, database_url):
    no, _sid = _shipped_order(client, people)
    en = Settings(database_url=database_url, default_locale="en",
                  customer_email_url="record://mail?to={email}")
    consumers.customers(system_ctx(db, clock, en), Event(
        id=1, name="order.delayed", aggregate="order", aggregate_id=no,
        payload={"order_no": no, "reason": "late_risk", "expected_at": None},
        created_at=clock.now()))
    [email, sms] = rows(db, order_no=no, kind="delayed")
    assert email.subject == f"We are sorry: your order {no} is delayed"
    assert "is taking longer than planned" in email.body
    assert (sms.state, sms.last_error) == ("skipped", "skipped: not configured")


def test_the_flow_decides_which_events_and_channels(db, clock, settings, client, people):
    from ordertrail.flow import service as flows

    source = flows.builtin_source("retail").replace(
        "\nstages:", "\nnotify:\n  customer:\n    events: [delivered]\n"
        "    channels: [sms]\nstages:", 1)
    assert "notify:" in source
    flows.publish(db, source, clock)
    db.commit()  # (a savepoint of the test transaction: the API sees the new version)
    no, sid = _shipped_order(client, people)
    ctx = system_ctx(db, clock, settings)
    base = {"shipment_id": sid, "order_no": no, "tracking_number": "SF1234567890123",
            "carrier": "sf"}
    for name, extra in (("shipment.created", {}), ("shipment.status_changed",
                                                   {"to": "out_for_delivery"}),
                        ("shipment.delivered", {"to": "delivered"})):
        consumers.customers(ctx, Event(id=1, name=name, aggregate="shipment",
                                       aggregate_id=str(sid), payload={**base, **extra},
                                       created_at=clock.now()))
    assert [(n.kind, n.channel) for n in rows(db, order_no=no)] == [("delivered", "sms")]


def test_flow_config_defaults_to_all_events_on_email_and_sms():
    assert events.customer_config(None) == (set(events.CUSTOMER_EVENTS), ["email", "sms"])
    assert events.customer_config(SimpleNamespace(notify=None))[1] == ["email", "sms"]
    assert events.customer_config(SimpleNamespace()) == (set(events.CUSTOMER_EVENTS),
                                                         ["email", "sms"])
    assert events.customer_config(SimpleNamespace(notify={"customer": {"events": []}})) == (
        set(), ["email", "sms"])


def test_customer_messages_wait_out_the_night(db, factory, clock, settings, client, people):
    no, sid = _shipped_order(client, people)
    clock.set(datetime(2026, 11, 20, 14, 30, tzinfo=UTC))  # 22:30 in Shanghai
    ctx = system_ctx(db, clock, settings)
    consumers.customers(ctx, Event(id=1, name="shipment.delivered", aggregate="shipment",
                                   aggregate_id=str(sid),
                                   payload={"shipment_id": sid, "order_no": no,
                                            "to": "delivered"}, created_at=clock.now()))
    morning = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert {(n.state, n.send_after) for n in rows(db, kind="delivered")} == {
        ("deferred", morning)}
    assert sender.send_due(factory, clock, settings, ids=[n.id for n in rows(
        db, kind="delivered")]) == 0
    clock.set(morning)
    assert sender.send_due(factory, clock, settings, ids=[n.id for n in rows(
        db, kind="delivered")]) == 2


def test_unconfigured_customer_channels_are_logged_as_skipped(db, clock, client, people,
                                                              database_url):
    no, sid = _shipped_order(client, people)
    bare = Settings(database_url=database_url)
    consumers.customers(system_ctx(db, clock, bare), Event(
        id=1, name="shipment.created", aggregate="shipment", aggregate_id=str(sid),
        payload={"shipment_id": sid, "order_no": no}, created_at=clock.now()))
    assert {(n.state, n.last_error) for n in rows(db, order_no=no)} == {
        ("skipped", "skipped: not configured")}


def test_the_customer_quiet_window_is_a_checked_setting(database_url):
    from pydantic import ValidationError

    from ordertrail.notify.quiet import window_end

    with pytest.raises(ValidationError, match="HH:MM-HH:MM"):
        Settings(database_url=database_url, customer_quiet_hours="9pm")
    assert Settings(database_url=database_url, customer_quiet_hours="").customer_quiet_hours \
        is None
    noon = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    assert window_end(noon, "12:00-13:30", "Asia/Shanghai") == datetime(2026, 11, 20, 5, 30,
                                                                        tzinfo=UTC)
    assert window_end(noon, "21:00-08:00", "Asia/Shanghai") == noon
    assert window_end(noon, None, "Asia/Shanghai") == noon

"""The issue's story, end to end through the worker: an order sits in review past its
target in the Chinese working calendar; the responsible role gets a zh-CN alert in the
recording channel; left unacknowledged it escalates to the manager; a lost parcel opens a
shipment_exception alert and sends the customer an apology."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ordertrail.config import Settings
from ordertrail.db import write_session
from ordertrail.jobs.worker import drain
from ordertrail.notify.service import ensure_recording_channels
from ordertrail.sla.sweep import sweep
from tests.conftest import order_body
from tests.notify.conftest import recorded, rows
from tests.shipment.test_api import manual, packed, ship


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, public_url="https://track.example.cn",
                    customer_email_url="record://customer-mail?to={email}",
                    customer_sms_url="record://customer-sms/{phone}")


def test_overdue_review_alerts_the_role_then_the_manager(client, people, db, factory, clock,
                                                         settings):
    with write_session(factory) as session:
        ensure_recording_channels(session, clock, settings, roles=["sales"], users=["grace"])
    r = client.post("/api/v1/orders", json=order_body("make_to_order",
                                                     promised_at="2027-03-01T10:00:00+08:00"),
                    headers=people.headers("alice"))
    assert r.status_code == 201, r.text
    no = r.json()["order_no"]
    drain(factory, clock, settings)
    assert not [m for m in recorded(db) if no in m.title]  # on time: nothing yet

    clock.set(datetime(2026, 11, 20, 7, 30, tzinfo=UTC))  # Friday 15:30 in Shanghai
    sweep(factory, clock, settings)
    drain(factory, clock, settings)
    sales = [m for m in recorded(db, "record://sales") if no in m.title]
    assert f"【预警】订单 {no} 在「订单评审」已超时" in [m.title for m in sales]
    assert [n.state for n in rows(db, order_no=no, channel="in_app",
                                  recipient="sales")] != []

    clock.set(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # Monday 10:00, unacknowledged
    sweep(factory, clock, settings)
    drain(factory, clock, settings)
    manager = [m.title for m in recorded(db, "record://grace") if no in m.title]
    assert any(t.startswith("【升级·第2级】") for t in manager), manager


def test_a_lost_parcel_alerts_service_and_apologises_to_the_customer(client, people, db,
                                                                     factory, clock, settings):
    with write_session(factory) as session:
        ensure_recording_channels(session, clock, settings, roles=["service"])
    no = packed(client, people, promised_at="2027-03-01T10:00:00+08:00")
    sid = ship(client, people, no, carrier="sf", tracking_number="SF1234567890123").json()["id"]
    r = manual(client, people, sid, clock.now().isoformat(), "exception", "包裹丢失",
               substatus="exception.lost")
    assert r.status_code == 201, r.text
    drain(factory, clock, settings)
    alert_titles = [m.title for m in recorded(db) if m.target != "record://customer-mail"
                    and no in m.title]
    assert any("物流异常" in t for t in alert_titles), alert_titles
    apology = [m for m in recorded(db, "record://customer-mail") if "致歉" in m.title]
    assert [m.title for m in apology] == [f"关于订单 {no} 延迟的致歉"]
    assert "非常抱歉" in apology[0].body

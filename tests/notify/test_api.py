"""The notification API: channels (masked, validated), tests, templates, the log."""

from __future__ import annotations

from ordertrail.notify import consumers, render
from tests.notify.conftest import alert_event, system_ctx


def test_channels_are_validated_and_shown_masked(client, people):
    h = people.headers("grace")
    r = client.post("/api/v1/notification-channels", headers=h, json={
        "owner_type": "role", "owner": "sales", "url": "wecombot://0a1b2c3d-4e5f-secret",
        "quiet_calendar": "cn"})
    assert r.status_code == 201, r.text
    ch = r.json()
    assert (ch["kind"], ch["locale"], ch["digest"], ch["enabled"]) == ("wecom", "zh-CN", "none",
                                                                      True)
    assert "secret" not in ch["url"]
    r = client.post("/api/v1/notification-channels", headers=h, json={
        "owner_type": "role", "owner": "sales", "url": "nope://x"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "does not support the scheme nope://" in r.json()["detail"]
    r = client.post("/api/v1/notification-channels", headers=h, json={
        "owner_type": "role", "owner": "sales", "url": "record://x", "quiet_calendar": "mars"})
    assert r.status_code == 422 and "mars" in r.json()["detail"]
    listed = client.get("/api/v1/notification-channels", headers=h).json()["channels"]
    assert [c["id"] for c in listed] == [ch["id"]]
    r = client.patch(f"/api/v1/notification-channels/{ch['id']}", headers=h,
                     json={"enabled": False, "digest": "daily"})
    assert (r.json()["enabled"], r.json()["digest"]) == (False, "daily")
    assert client.delete(f"/api/v1/notification-channels/{ch['id']}",
                         headers=h).status_code == 200
    assert client.get(f"/api/v1/notification-channels/{ch['id']}",
                      headers=h).status_code == 404


def test_people_manage_their_own_channels_only(client, people):
    own = client.post("/api/v1/notification-channels", headers=people.headers("alice"),
                      json={"owner_type": "user", "owner": "alice", "url": "record://alice"})
    assert own.status_code == 201
    for body in ({"owner_type": "user", "owner": "sam", "url": "record://sam"},
                 {"owner_type": "role", "owner": "sales", "url": "record://sales"}):
        r = client.post("/api/v1/notification-channels", headers=people.headers("alice"),
                        json=body)
        assert r.status_code == 403, r.text
    r = client.post("/api/v1/notification-channels", headers=people.headers("grace"),
                    json={"owner_type": "user", "owner": "nobody", "url": "record://n"})
    assert r.status_code == 422 and "nobody" in r.json()["detail"]
    assert client.get(f"/api/v1/notification-channels/{own.json()['id']}",
                      headers=people.headers("sam")).status_code == 404


def test_the_test_button_sends_through_the_channel(client, people):
    h = people.headers("grace")
    good = client.post("/api/v1/notification-channels", headers=h, json={
        "owner_type": "role", "owner": "ops", "url": "record://ops-test"}).json()
    bad = client.post("/api/v1/notification-channels", headers=h, json={
        "owner_type": "role", "owner": "ops", "url": "json://127.0.0.1:1/"}).json()
    r = client.post(f"/api/v1/notification-channels/{good['id']}/test", headers=h)
    assert (r.status_code, r.json()["state"]) == (200, "sent"), r.text
    r = client.post(f"/api/v1/notification-channels/{bad['id']}/test", headers=h)
    assert r.json()["state"] == "failed" and "127.0.0.1" in r.json()["last_error"]
    msgs = client.get("/api/v1/recorded-messages?target=record://ops-test",
                      headers=h).json()["messages"]
    assert [m["title"] for m in msgs] == ["【测试】ordertrail 通知渠道测试"]
    assert client.get("/api/v1/recorded-messages",
                      headers=people.headers("alice")).status_code == 403


def test_templates_are_validated_overridden_and_reset(client, people, db, clock, settings):
    h = people.headers("grace")
    url = "/api/v1/notification-templates/stage_overdue/zh-CN"
    r = client.get(url, headers=h)
    assert r.status_code == 200 and not r.json()["overridden"]
    assert r.json()["preview_subject"] == "【预警】订单 SO20261121-00042 在「订单审核」已超时"
    broken = client.put(url, headers=h, json={"source": "{% block subject %}{{ order_no "
                                              "{% endblock %}{% block body %}x{% endblock %}"})
    assert broken.status_code == 422 and "syntax error" in broken.json()["detail"]
    unknown = client.put(url, headers=h, json={"source": "{% block subject %}{{ ordr_no }}"
                                               "{% endblock %}{% block body %}x{% endblock %}"})
    assert unknown.status_code == 422 and "'ordr_no' is undefined" in unknown.json()["detail"]
    no_body = client.put(url, headers=h, json={"source": "{% block subject %}x{% endblock %}"})
    assert no_body.status_code == 422 and "body" in no_body.json()["detail"]
    evil = client.put(url, headers=h, json={"source": "{% block subject %}{{ order_no."
                                            "__class__.__mro__ }}{% endblock %}"
                                            "{% block body %}x{% endblock %}"})
    assert evil.status_code == 422
    assert client.put("/api/v1/notification-templates/nope/zh-CN", headers=h,
                      json={"source": "x"}).status_code == 422
    assert client.put(url, headers=people.headers("alice"), json={
        "source": "{% block subject %}x{% endblock %}{% block body %}x{% endblock %}"},
    ).status_code == 403
    good = client.put(url, headers=h, json={
        "source": "{% block subject %}超时：{{ order_no }}{% endblock %}"
                  "{% block body %}请处理 {{ stage }}{% endblock %}"})
    assert good.status_code == 200 and good.json()["overridden"], good.text
    consumers.alerts(system_ctx(db, clock, settings), alert_event(roles=["sales"]))
    log = client.get("/api/v1/notifications?alert_id=7", headers=h).json()["notifications"]
    assert [n["subject"] for n in log] == ["超时：SO20261121-00042"]
    assert client.delete(url, headers=h).json()["overridden"] is False
    assert client.delete(url, headers=h).status_code == 404
    assert len(client.get("/api/v1/notification-templates",
                          headers=h).json()["templates"]) == len(render.KINDS) * 2 == 32


def test_the_delivery_log_filters(client, people, db, clock, settings):
    ctx = system_ctx(db, clock, settings)
    consumers.alerts(ctx, alert_event(alert_id=1, roles=["sales"]))
    consumers.alerts(ctx, alert_event(alert_id=2, roles=["finance"], order_no="SO-2"))
    h = people.headers("grace")
    every = client.get("/api/v1/notifications", headers=h).json()["notifications"]
    assert [(n["alert_id"], n["channel"], n["state"]) for n in every] == [
        (2, "in_app", "sent"), (1, "in_app", "sent")]
    one = client.get("/api/v1/notifications?order_no=SO-2&channel=in_app&state=sent",
                     headers=h).json()["notifications"]
    assert [n["recipient"] for n in one] == ["finance"]
    mine = client.get("/api/v1/notifications", headers=people.headers("alice")).json()
    assert [n["recipient"] for n in mine["notifications"]] == ["sales"]
    assert client.get("/api/v1/notifications?limit=0", headers=h).status_code == 422

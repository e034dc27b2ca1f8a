"""The simulator as a real HTTP service, pushing to a real receiver that checks signatures."""

from __future__ import annotations

import time
from datetime import datetime
from itertools import pairwise

import httpx

from ordertrail.carrier.generic import parse

from .live import SECRET, Receiver, free_port, wait_for


def _complete(receiver: Receiver, sim, number: str) -> bool:
    plan = sim.journey(number)["events"]
    return len(receiver.distinct(number)) == len(plan)


def test_journeys_play_out_as_signed_pushes(start_sim, start_receiver):
    sim = start_sim()
    receiver, callback = start_receiver()
    items = [{"tracking_number": "SF1400000001", "courier": "sf", "scenario": "normal"},
             {"tracking_number": "JD0000000002", "courier": "jd", "scenario": "locker"},
             {"tracking_number": "1Z0000000003", "courier": "ups", "scenario": "customs"}]
    started = time.monotonic()
    assert sim.register(callback, *items) == {
        "accepted": [i["tracking_number"] for i in items], "rejected": {}}

    for item in items:
        number = item["tracking_number"]
        wait_for(lambda n=number: _complete(receiver, sim, n), 5, f"{number} to complete")
    assert time.monotonic() - started < 4  # days of journey in about a second
    assert receiver.bad == []

    for item in items:
        number = item["tracking_number"]
        plan = sim.journey(number)
        events = receiver.events(number)
        assert [e.substatus for e in events] == [e["substatus"] for e in plan["events"]]
        # Stamped with the real moment of emission, in order, never ahead of the push.
        assert [e.occurred_at for e in events] == [
            datetime.fromisoformat(e["due_at"]) for e in plan["events"]]
        times = [e.occurred_at for e in events]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert events[-1].status == "delivered"
        mine = [(p, u) for p in receiver.pushes for u in p.updates if u.tracking_number == number]
        assert [u.stopped for _, u in mine] == [False] * (len(mine) - 1) + [True]
        assert events[-1].occurred_at.timestamp() <= mine[-1][0].received_at


def test_poll_answers_with_the_events_due_so_far(start_sim, start_receiver):
    sim = start_sim(speed=3600)   # slow: only the first events are due during the test
    _, callback = start_receiver()
    sim.register(callback, {"tracking_number": "YT0000000001", "courier": "yto"})
    wait_for(lambda: sim.http.post("/v1/track", json={"numbers": ["YT0000000001"]})
             .json()["updates"][0]["events"], 5, "the first event")
    answer = sim.http.post("/v1/track", json={"numbers": ["YT0000000001", "NOPE"]})
    updates = parse.parse_body(answer.content)     # the generic format, as pushes are
    assert [u.tracking_number for u in updates] == ["YT0000000001"]  # unknown ones left out
    plan = sim.journey("YT0000000001")["events"]
    due = [e for e in plan if e["due"]]
    assert [e.substatus for e in updates[0].events] == [e["substatus"] for e in due]
    assert len(due) < len(plan) and updates[0].stopped is False
    assert updates[0].estimated_delivery is not None


def test_duplicate_rate_sends_pushes_twice(start_sim, start_receiver):
    sim = start_sim(duplicate_rate=1.0)
    receiver, callback = start_receiver()
    sim.register(callback, {"tracking_number": "ZT0000000001", "courier": "zto",
                            "scenario": "normal"})
    wait_for(lambda: _complete(receiver, sim, "ZT0000000001"), 5, "the journey")
    wait_for(lambda: len(receiver.events("ZT0000000001"))
             == 2 * len(receiver.distinct("ZT0000000001")), 5, "every push twice")
    ids = [p.msg_id for p in receiver.pushes]
    assert len(set(ids)) == len(ids)   # a duplicate comes as a new message


def test_reorder_rate_delivers_events_out_of_order(start_sim, start_receiver):
    sim = start_sim(reorder_rate=0.5)
    receiver, callback = start_receiver()
    numbers = [f"ST{n:010d}" for n in range(6)]
    sim.register(callback, *({"tracking_number": n, "courier": "sto", "scenario": "normal"}
                              for n in numbers))
    for number in numbers:
        wait_for(lambda n=number: _complete(receiver, sim, n), 5, f"{number} to complete")
    late = 0
    for number in numbers:
        events = receiver.events(number)
        assert len(events) == len(set(events))      # reordered, never lost or doubled
        late += sum(1 for a, b in pairwise(events) if b.occurred_at < a.occurred_at)
        assert max(events, key=lambda e: e.occurred_at).status == "delivered"
    assert late > 0


def test_pushes_wait_for_a_receiver_that_is_down(start_sim, start_receiver):
    sim = start_sim()
    port = free_port()
    callback = f"http://127.0.0.1:{port}/hook"       # nobody listens yet
    sim.register(callback, {"tracking_number": "EM0000000001", "courier": "ems",
                            "scenario": "failed_attempt"})

    def over_and_failing() -> bool:
        queues = sim.http.get("/v1/callbacks").json()
        over = all(e["due"] for e in sim.journey("EM0000000001")["events"])
        return over and queues[0]["failures"] >= 3 and queues[0]["pending"] > 0
    wait_for(over_and_failing, 5, "the whole journey to be due, its pushes failing")

    receiver, _ = start_receiver(port=port)
    wait_for(lambda: _complete(receiver, sim, "EM0000000001"), 5, "the pushes after the outage")
    events = receiver.events("EM0000000001")
    assert len(events) == len(set(events))
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    queue = sim.http.get("/v1/callbacks").json()[0]
    assert queue["pending"] == 0 and queue["attempts"] == 0


def test_a_refused_push_is_retried_with_the_same_id(start_sim, start_receiver):
    sim = start_sim()
    receiver, callback = start_receiver(receiver=Receiver(status_code=503))
    sim.register(callback, {"tracking_number": "DP0000000001", "courier": "deppon",
                            "scenario": "normal"})
    wait_for(lambda: len(receiver.refused) >= 3, 5, "refused pushes")
    receiver.status_code = 200
    wait_for(lambda: _complete(receiver, sim, "DP0000000001"), 5, "delivery after refusals")
    assert receiver.pushes[0].msg_id == receiver.refused[0]
    assert len(set(receiver.refused)) == 1   # one message, retried, until accepted


def test_registration_is_idempotent_and_moves_the_callback(start_sim, start_receiver):
    sim = start_sim()
    dead = f"http://127.0.0.1:{free_port()}/hook"   # pushes pile up for this one
    item = {"tracking_number": "SF1400000009", "courier": "sf", "scenario": "delay"}
    sim.register(dead, item)
    plan = sim.journey("SF1400000009")
    assert sim.register(dead, {**item, "scenario": "lost"})["accepted"] == ["SF1400000009"]
    again = sim.journey("SF1400000009")
    assert (again["registered_at"], again["scenario"]) == (plan["registered_at"], "delay")

    receiver, callback = start_receiver()
    sim.register(callback, item)                  # the same number, a new callback URL
    assert sim.journey("SF1400000009")["callback_url"] == callback
    wait_for(lambda: _complete(receiver, sim, "SF1400000009"), 5, "the moved pushes")
    sim.configure(speed=3600)                     # speed is fixed per parcel at registration
    assert sim.journey("SF1400000009")["speed"] == 1_000_000


def test_register_rejects_bad_items_and_requests(start_sim):
    sim = start_sim()
    answer = sim.register("http://127.0.0.1:9/hook",
                          {"tracking_number": "OK0000000001"},
                          {"tracking_number": "BAD0000000001", "scenario": "teleported"})
    assert answer["accepted"] == ["OK0000000001"]
    assert "unknown scenario" in answer["rejected"]["BAD0000000001"]
    assert sim.http.post("/v1/register", json={"callback_url": "ftp://x", "items": []}
                         ).status_code == 422
    assert sim.http.get("/v1/journeys/NOPE").status_code == 404


def test_the_api_needs_the_secret(start_sim):
    sim = start_sim()
    with httpx.Client(base_url=sim.url) as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        assert anonymous.post("/v1/track", json={"numbers": []}).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert anonymous.post("/v1/register", headers=wrong,
                              json={"callback_url": "http://x", "items": []}).status_code == 401
        right = {"Authorization": f"Bearer {SECRET}"}
        assert anonymous.get("/v1/config", headers=right).status_code == 200


def test_config_changes_knobs_and_can_fail_polls(start_sim):
    sim = start_sim()
    assert sim.configure(lost_rate=0.3, fail_polls="429")["lost_rate"] == 0.3
    refused = sim.http.post("/v1/track", json={"numbers": []})
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    sim.configure(fail_polls="503")
    assert sim.http.post("/v1/track", json={"numbers": []}).status_code == 503
    config = sim.configure(fail_polls=None)
    assert config["fail_polls"] is None and config["lost_rate"] == 0.3
    assert sim.http.post("/v1/track", json={"numbers": []}).json() == {"updates": []}
    assert sim.http.post("/v1/config", json={"delay_rate": 0.9, "locker_rate": 0.9}
                         ).status_code == 422
    assert sim.http.post("/v1/config", json={"speeed": 2}).status_code == 422


def test_many_parcels_are_batched_per_receiver(start_sim, start_receiver):
    sim = start_sim()
    receiver, callback = start_receiver()
    numbers = [f"YD{n:010d}" for n in range(1200)]
    for chunk in (numbers[:1000], numbers[1000:]):
        assert len(sim.register(callback, *({"tracking_number": n, "courier": "yunda"}
                                            for n in chunk))["accepted"]) == len(chunk)
    plans = {n: len(sim.journey(n)["events"]) for n in numbers[::100]}

    def all_arrived() -> bool:
        with receiver.lock:
            got = {u.tracking_number for p in receiver.pushes for u in p.updates if u.stopped}
        return got >= set(numbers)
    wait_for(all_arrived, 10, "every journey to end")
    assert all(len(receiver.distinct(n)) == count for n, count in plans.items())
    assert all(len(p.updates) <= 1000 for p in receiver.pushes)
    events = sum(len(u.events) for p in receiver.pushes for u in p.updates)
    assert len(receiver.pushes) < events / 20    # batched, not one push per event

"""Events that are ready together travel in one message, and each is still handled exactly once:
one bad event in a batch holds back none of the others."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import redis
from uskalla_devstack.pytest_plugin import wait_until
from uskalla_events import new_envelope
from uskalla_events.batching import Combiner
from uskalla_events.celery_app import EVENT_TASK, EVENTS_TASK
from uskalla_events.consumer import send_events
from uskalla_events.contracts import MemberErased
from uskalla_events.outbox import MAX_BATCH, runs

from .conftest import Pair, joined
from .test_backbone import consumer_running


def queued(pair: Pair, queue: str) -> list[tuple[str, list[str]]]:
    """The messages waiting in a queue, oldest first: (task name, the events' names)."""
    client = redis.Redis.from_url(pair.publisher.celery.conf.broker_url)
    try:
        raw = client.lrange(queue, 0, -1)
    finally:
        client.close()
    messages = []
    for item in reversed(raw):  # kombu pushes on the left and pops on the right
        message = json.loads(item)
        args, _, _ = json.loads(base64.b64decode(message["body"]))
        envelopes = args[0] if isinstance(args[0], list) else [args[0]]
        messages.append((message["headers"]["task"], [e["data"]["name"] for e in envelopes]))
    return messages


def test_the_events_of_one_transaction_go_in_one_message_and_each_is_handled(pair: Pair) -> None:
    with pair.publisher.db.transaction() as session:
        for name in ("Aada", "Bea", "Cecilia"):
            pair.publisher.outbox.add(session, joined(name))
    assert queued(pair, "experiments.events") == [(EVENTS_TASK, ["Aada", "Bea", "Cecilia"])]
    assert pair.publisher.outbox.pending_count() == 0
    with consumer_running(pair):
        wait_until(lambda: pair.effect_count() == 3, message="the three handled")
    assert sorted(name for _, name in pair.effects()) == ["Aada", "Bea", "Cecilia"]
    with pair.publisher.db.transaction() as session:  # and a lone event goes as it always has
        pair.publisher.outbox.add(session, joined("Doris"))
    assert queued(pair, "experiments.events") == [(EVENT_TASK, ["Doris"])]


def test_commits_made_while_a_publish_is_in_flight_follow_it_together(pair: Pair) -> None:
    sent: list[list[str]] = []
    first_in_flight, release = threading.Event(), threading.Event()
    publish = pair.publisher.outbox.publish

    def slow_publish(envelopes: list[dict[str, Any]]) -> None:
        sent.append([e["data"]["name"] for e in envelopes])
        if len(sent) == 1:
            first_in_flight.set()
            assert release.wait(10)
        publish(envelopes)

    def commit(name: str) -> None:
        with pair.publisher.db.transaction() as session:
            pair.publisher.outbox.add(session, joined(name))

    pair.publisher.outbox.publish = slow_publish
    try:
        first = threading.Thread(target=commit, args=("Eka",))
        first.start()
        assert first_in_flight.wait(10)
        others = [threading.Thread(target=commit, args=(n,)) for n in ("Toka", "Kolmas", "Neljäs")]
        for thread in others:
            thread.start()
        for thread in others:
            thread.join(10)  # they return at once: the send in flight takes theirs along
            assert not thread.is_alive()
        assert sent == [["Eka"]]
        release.set()
        first.join(10)
        assert pair.publisher.outbox.pending_count() == 0  # waits for the sends, then counts
    finally:
        pair.publisher.outbox.publish = publish
    assert len(sent) == 2 and sorted(sent[1]) == ["Kolmas", "Neljäs", "Toka"]
    with consumer_running(pair):
        wait_until(lambda: pair.effect_count() == 4, message="all four handled")


def test_one_bad_event_in_a_batch_holds_back_none_of_the_others(pair: Pair) -> None:
    pair.behaviour.refuse = {"Paha"}  # fails for good: a dead letter, after one attempt
    pair.behaviour.stumble = {"Kompastuja"}  # fails once: retried alone, then handled
    with pair.publisher.db.transaction() as session:
        for name in ("Aino", "Paha", "Kompastuja", "Eeva"):
            pair.publisher.outbox.add(session, joined(name))
    with consumer_running(pair):
        wait_until(lambda: pair.effect_count() == 3, message="the three good ones handled")
        wait_until(pair.consumer.consumer.list_dead_letters, message="the bad one dead-lettered")
    assert sorted(name for _, name in pair.effects()) == ["Aino", "Eeva", "Kompastuja"]
    [dead] = pair.consumer.consumer.list_dead_letters()
    assert dead["envelope"]["data"]["name"] == "Paha" and dead["attempts"] == 1
    # Together the batch got as far as the bad one; then each went alone. The one that failed
    # briefly came back alone, once: its retry went to this consumer's queue only.
    assert pair.behaviour.calls.count(_id(pair, "Paha")) == 2
    assert pair.behaviour.calls.count(_id(pair, "Kompastuja")) == 2
    assert queued(pair, "notifications.events") == [
        (EVENTS_TASK, ["Aino", "Paha", "Kompastuja", "Eeva"])
    ]


def _id(pair: Pair, name: str) -> str:
    with pair.publisher.db.transaction() as session:
        from sqlalchemy import select

        from .conftest import TABLES

        rows = session.execute(select(TABLES.outbox.c.id, TABLES.outbox.c.envelope)).all()
    return next(str(r.id) for r in rows if r.envelope["data"]["name"] == name)


def test_a_batch_delivered_twice_and_an_event_twice_in_a_batch_are_handled_once(
    pair: Pair,
) -> None:
    pair.publisher.declare()
    a, b = (new_envelope(joined(n)).to_dict() for n in ("Ilja", "Jade"))
    send_events(pair.publisher.celery, [a, b, a])
    send_events(pair.publisher.celery, [a, b, a])
    with consumer_running(pair):
        wait_until(lambda: _queue_empty(pair), message="both messages consumed")
        wait_until(lambda: pair.effect_count() == 2, message="the two handled")
    assert sorted(pair.behaviour.calls) == sorted([a["id"], b["id"]])
    assert pair.effect_count() == 2


def _queue_empty(pair: Pair) -> bool:
    return queued(pair, "experiments.events") == []


def test_the_relay_sends_runs_of_one_type_together_in_their_order(pair: Pair) -> None:
    def broker_away(envelopes: list[dict[str, Any]]) -> None:
        raise redis.exceptions.ConnectionError("the broker is away")

    erased = MemberErased(member_id=joined().member_id)
    publish = pair.publisher.outbox.publish
    pair.publisher.outbox.publish = broker_away
    try:  # every after-commit publish fails: the rows wait for the relay
        for batch in (["A", "B", "C"], [], ["D"]):
            with pair.publisher.db.transaction() as session:
                for name in batch:
                    pair.publisher.outbox.add(session, joined(name))
                if not batch:
                    pair.publisher.outbox.add(session, erased)
        assert pair.publisher.outbox.pending_count() == 5
        sent: list[tuple[str, int]] = []
        pair.publisher.outbox.publish = lambda envelopes: sent.append(
            (envelopes[0]["type"], len(envelopes))
        )
        assert pair.publisher.outbox.publish_pending() == 5
    finally:
        pair.publisher.outbox.publish = publish
    assert sent == [
        ("members.member.joined.v1", 3),
        ("members.member.erased.v1", 1),
        ("members.member.joined.v1", 1),
    ]
    assert pair.publisher.outbox.pending_count() == 0


def test_when_the_broker_is_away_the_rest_of_a_batch_is_left_to_the_relay(pair: Pair) -> None:
    tries: list[int] = []

    def broker_away(envelopes: list[dict[str, Any]]) -> None:
        tries.append(len(envelopes))
        raise redis.exceptions.ConnectionError("the broker is away")

    erased = MemberErased(member_id=joined().member_id)
    publish = pair.publisher.outbox.publish
    pair.publisher.outbox.publish = broker_away
    try:
        with pair.publisher.db.transaction() as session:
            pair.publisher.outbox.add(session, joined("Aada"))
            pair.publisher.outbox.add(session, erased)
            pair.publisher.outbox.add(session, joined("Bea"))
        assert tries == [1]  # publish has retried already: no second wait for the next run
        assert pair.publisher.outbox.pending_count() == 3
    finally:
        pair.publisher.outbox.publish = publish
    assert pair.publisher.outbox.publish_pending() == 3


def test_runs_keep_order_and_size() -> None:
    items = ["a"] * (MAX_BATCH + 2) + ["b", "a"]
    assert [(r[0], len(r)) for r in runs(items, str)] == [
        ("a", MAX_BATCH),
        ("a", 2),
        ("b", 1),
        ("a", 1),
    ]


def test_a_combiner_sends_a_lone_item_at_once_and_gathers_what_waits() -> None:
    sent: list[list[int]] = []
    in_flight, release = threading.Event(), threading.Event()

    def send(items: list[int]) -> None:
        sent.append(items)
        if items == [1]:
            in_flight.set()
            assert release.wait(10)
        if items == [9]:
            raise ConnectionError("the broker is away")  # logged; the combiner lives on

    combiner: Combiner[int] = Combiner(send, name="test-combiner", gather=0.01)
    combiner.add([0])
    assert sent == [[0]]  # in the caller's thread, before add() returned
    caller = threading.Thread(target=combiner.add, args=([1],))
    caller.start()
    assert in_flight.wait(10)
    combiner.add([2, 3])
    combiner.add([4])  # both return at once: the send in flight takes them along
    assert sent == [[0], [1]]
    release.set()
    caller.join(10)
    combiner.flush()
    assert sent == [[0], [1], [2, 3, 4]]
    combiner.add([9])
    combiner.add([10])
    assert sent[-2:] == [[9], [10]]

"""Parallel registrations against a real running server never exceed a gathering's capacity."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from members.adapters.models import Gathering, Member, Registration
from members.service_layer import services_of
from sqlalchemy import func, select
from uskalla_kit import Runtime
from werkzeug.serving import make_server

Auth = Callable[[Member], dict[str, str]]


@pytest.fixture
def server(runtime: Runtime) -> Iterator[str]:
    """The members app served by werkzeug's threaded server on a free local port."""
    http = make_server("127.0.0.1", 0, runtime.create_app(), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=10)


def test_thirty_parallel_registrations_for_ten_places(
    server: str,
    runtime: Runtime,
    add_gathering: Callable[..., Gathering],
    add_member: Callable[..., Member],
    auth: Auth,
) -> None:
    g = add_gathering(capacity=10)
    members = [add_member() for _ in range(30)]
    start = threading.Barrier(30)

    def register(member: Member) -> tuple[int, str]:
        start.wait(timeout=30)  # all at once
        answer = requests.post(
            f"{server}/api/v1/gatherings/{g.id}/registrations",
            headers=auth(member),
            timeout=60,
        )
        return answer.status_code, answer.json()["status"]

    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(register, members))

    assert Counter(results) == {(201, "registered"): 10, (201, "waitlisted"): 20}
    with runtime.db.transaction() as session:
        counts = dict(
            session.execute(
                select(Registration.status, func.count())
                .where(Registration.gathering_id == g.id)
                .group_by(Registration.status)
            ).all()
        )
    assert counts == {"registered": 10, "waitlisted": 20}
    details = requests.get(f"{server}/api/v1/gatherings/{g.id}", timeout=10).json()
    assert (details["registered"], details["waitlisted"]) == (10, 20)


def test_parallel_cancellations_promote_exactly_as_many(
    server: str,
    runtime: Runtime,
    add_gathering: Callable[..., Gathering],
    add_member: Callable[..., Member],
    auth: Auth,
) -> None:
    g = add_gathering(capacity=5)
    members = [add_member() for _ in range(12)]
    for m in members:
        requests.post(
            f"{server}/api/v1/gatherings/{g.id}/registrations", headers=auth(m), timeout=30
        )
    leaving = members[:4]  # four of the five registered leave at the same time
    with ThreadPoolExecutor(4) as pool:
        codes = list(
            pool.map(
                lambda m: (
                    requests.delete(
                        f"{server}/api/v1/gatherings/{g.id}/registrations/me",
                        headers=auth(m),
                        timeout=30,
                    ).status_code
                ),
                leaving,
            )
        )
    assert codes == [200] * 4
    with runtime.db.transaction() as session:
        registered = session.scalars(
            select(Registration.member_id)
            .where(Registration.gathering_id == g.id, Registration.status == "registered")
            .order_by(Registration.seq)
        ).all()
    # The one who stayed plus the first four of the waitlist, in the order they came.
    assert registered == [m.id for m in members[4:9]]


def test_parallel_joins_for_one_address_all_answer_202(server: str, runtime: Runtime) -> None:
    start = threading.Barrier(8)

    def join(_: int) -> int:
        start.wait(timeout=30)
        return requests.post(
            f"{server}/api/v1/members",
            json={"email": "twice@example.fi", "name": "Kaksi", "consent": True},
            timeout=60,
        ).status_code

    def act(_: int) -> int:
        # Eight relays each take one of the requests (SKIP LOCKED) and act on it at once.
        start.wait(timeout=30)
        with runtime.db.transaction() as session:
            return services_of(runtime).intake.process(session, limit=1)

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(join, range(8))) == [202] * 8
        assert list(pool.map(act, range(8))) == [1] * 8
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Member)) == 1

"""Every public path reaches its service; headers are cleaned both ways; request ids travel."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from flask.testing import FlaskClient
from gateway.routes import ROUTES, service_for
from stub_service import StubService

# Fixed: test ids must be the same in every xdist worker.
ID = "6f1c2b9e-3d4a-4f5b-8c7d-2e1f0a9b8c7d"
#: Every path of API.md, with the service that owns it.
API_PATHS = [
    ("POST", "/api/v1/members", "members"),
    ("POST", "/api/v1/members/confirm", "members"),
    ("POST", "/api/v1/auth/sign-in", "members"),
    ("POST", "/api/v1/auth/token", "members"),
    ("GET", "/api/v1/members/me", "members"),
    ("PATCH", "/api/v1/members/me", "members"),
    ("DELETE", "/api/v1/members/me", "members"),
    ("GET", "/api/v1/members", "members"),
    ("PATCH", f"/api/v1/members/{ID}", "members"),
    ("POST", "/api/v1/unsubscribe", "members"),
    ("GET", "/api/v1/municipalities", "members"),
    ("GET", "/api/v1/gatherings", "members"),
    ("POST", "/api/v1/gatherings", "members"),
    ("GET", f"/api/v1/gatherings/{ID}", "members"),
    ("PATCH", f"/api/v1/gatherings/{ID}", "members"),
    ("POST", f"/api/v1/gatherings/{ID}/publish", "members"),
    ("POST", f"/api/v1/gatherings/{ID}/registrations", "members"),
    ("DELETE", f"/api/v1/gatherings/{ID}/registrations/me", "members"),
    ("GET", f"/api/v1/gatherings/{ID}/registrations", "members"),
    ("GET", f"/api/v1/gatherings/{ID}/calendar.ics", "members"),
    ("POST", f"/api/v1/gatherings/{ID}/cancel", "members"),
    ("GET", "/api/v1/gatherings/calendar.ics", "members"),
    ("GET", "/api/v1/experiments", "experiments"),
    ("POST", "/api/v1/experiments", "experiments"),
    ("GET", f"/api/v1/experiments/{ID}", "experiments"),
    ("PATCH", f"/api/v1/experiments/{ID}", "experiments"),
    ("POST", f"/api/v1/experiments/{ID}/publish", "experiments"),
    ("POST", f"/api/v1/experiments/{ID}/stage", "experiments"),
    ("PUT", f"/api/v1/experiments/{ID}/evaluation", "experiments"),
    ("GET", f"/api/v1/experiments/{ID}/comments", "experiments"),
    ("POST", f"/api/v1/experiments/{ID}/comments", "experiments"),
    ("PATCH", f"/api/v1/comments/{ID}", "experiments"),
    ("DELETE", f"/api/v1/comments/{ID}", "experiments"),
    ("POST", f"/api/v1/comments/{ID}/reports", "experiments"),
    ("POST", f"/api/v1/comments/{ID}/hide", "experiments"),
    ("POST", f"/api/v1/comments/{ID}/restore", "experiments"),
    ("GET", "/api/v1/moderation/comments", "experiments"),
    ("GET", "/api/v1/themes", "experiments"),
    ("GET", "/api/v1/experiments/stats", "experiments"),
    ("GET", "/api/v1/experiments/feed.atom", "experiments"),
    ("GET", "/api/v1/experiments.csv", "experiments"),
    ("GET", "/api/v1/newsletters", "notifications"),
    ("POST", "/api/v1/newsletters", "notifications"),
    ("GET", f"/api/v1/newsletters/{ID}", "notifications"),
    ("PATCH", f"/api/v1/newsletters/{ID}", "notifications"),
    ("POST", f"/api/v1/newsletters/{ID}/test", "notifications"),
    ("POST", f"/api/v1/newsletters/{ID}/send", "notifications"),
    ("POST", f"/api/v1/newsletters/{ID}/cancel", "notifications"),
    ("GET", "/api/v1/deliveries", "notifications"),
    ("POST", f"/api/v1/experiments/{ID}/followers", "experiments"),
    ("DELETE", f"/api/v1/experiments/{ID}/followers/me", "experiments"),
    ("GET", "/api/v1/members/me/follows", "experiments"),
]


@pytest.mark.parametrize(("method", "path", "service"), API_PATHS)
def test_every_api_path_reaches_its_service(
    client: FlaskClient, services: dict[str, StubService], method: str, path: str, service: str
) -> None:
    answer = client.open(path, method=method, json={"x": 1} if method != "GET" else None)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.json["service"] == service
    assert answer.json["method"] == method
    assert answer.json["path"] == path
    assert service_for(path) == service


def test_the_routing_table_has_no_shadowed_prefix() -> None:
    prefixes = [prefix for prefix, _ in ROUTES]
    assert len(prefixes) == len(set(prefixes))
    assert service_for("/api/v1/membersx") is None
    assert service_for("/api/v1/experimentsfoo") is None


def test_the_longest_matching_prefix_wins_in_whole_segments() -> None:
    """`/api/v1/members/me/follows` lies under `/api/v1/members` but is the experiments'."""
    assert service_for("/api/v1/members/me/follows") == "experiments"
    assert service_for("/api/v1/members/me/follows/x") == "experiments"
    assert service_for("/api/v1/members/me/followsx") == "members"
    assert service_for("/api/v1/members/me/follow") == "members"
    assert service_for("/api/v1/members/me") == "members"
    assert service_for("/api/v1/members/me/interests") == "members"
    assert service_for("/api/v1/members/me/registrations") == "members"
    # Whatever order the table is written in.
    for prefix, service in ROUTES:
        assert service_for(prefix) == service


def test_an_unknown_api_path_is_a_404_problem(client: FlaskClient) -> None:
    answer = client.get("/api/v1/nothing-here")
    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"
    assert answer.json["status"] == 404


def test_query_and_body_are_passed_on(client: FlaskClient) -> None:
    answer = client.post("/api/v1/experiments?q=kirjasto&page=2", json={"title": "Kokeilu"})
    assert answer.json["path"] == "/api/v1/experiments?q=kirjasto&page=2"
    assert answer.json["body"] == '{"title": "Kokeilu"}'
    assert answer.json["headers"]["Content-Type"] == "application/json"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_methods_and_bodies_go_out_as_given_and_nothing_is_added(
    client: FlaskClient, method: str
) -> None:
    answer = client.open("/api/v1/experiments", method=method, data=b"raw \x00 bytes")
    assert answer.json["method"] == method
    assert answer.json["body"] == "raw \x00 bytes"
    sent = {k.lower() for k in answer.json["headers"]}
    assert {"content-type", "accept", "expect"}.isdisjoint(sent)  # none of curl's own
    assert "content-length" in sent


def test_a_bodyless_post_and_delete_and_a_head_are_forwarded(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    assert client.post("/api/v1/experiments").json["body"] == ""
    assert client.delete("/api/v1/experiments").json["method"] == "DELETE"
    head = client.head("/api/v1/themes")
    assert head.status_code == 200 and head.data == b""
    assert services["experiments"].seen[-1].method == "HEAD"
    # The kept-alive connection is still in step after a HEAD (no body was expected).
    assert client.get("/api/v1/themes").json["method"] == "GET"


def test_any_path_goes_out_percent_encoded_as_the_client_sent_it(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    # Found by schemathesis: ids of any characters, control characters and non-UTF-8 too.
    sent = "/api/v1/experiments/%C3%80%F3%A5%9B%AE%09%01%25%20x?q=%C3%A4+b&c=%25"
    answer = client.get(sent)
    assert answer.status_code == 200
    assert services["experiments"].seen[-1].path == sent
    assert client.get("/api/v1/experiments/ä ö").json["path"] == (
        "/api/v1/experiments/%C3%A4%20%C3%B6"
    )


def test_an_answer_after_informational_ones_is_read_as_the_answer() -> None:
    from gateway.proxy import _split

    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-A: 1\r\nX-A: 2\r\n\r\n"
        b"HTTP/1.1 in the body\r\n\r\n"
    )
    headers, body = _split(raw)
    assert headers.get("content-type") == "application/json"
    assert headers.getlist("X-A") == ["1", "2"] and "Link" not in headers
    assert body == b"HTTP/1.1 in the body\r\n\r\n"
    no_body_headers, no_body = _split(b"HTTP/1.1 204 No Content\r\nX-B: 3\r\n\r\n")
    assert no_body_headers.get("X-B") == "3" and no_body == b""


def test_a_body_goes_again_on_a_new_connection_when_the_kept_one_was_closed(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    # Found by schemathesis under load: a PUT answered 502 when its kept-alive connection had
    # just been closed, because the body could not be read a second time.
    assert client.get("/api/v1/themes").status_code == 200  # a kept-alive connection
    services["experiments"].close_reused = True
    answer = client.put("/api/v1/experiments/x/evaluation", data=b'{"outcome": "succeeded"}')
    assert answer.status_code == 200
    assert answer.json["body"] == '{"outcome": "succeeded"}'
    assert [s.method for s in services["experiments"].seen[-1:]] == ["PUT"]


def test_connections_to_a_service_are_kept_alive(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    for _ in range(3):
        assert client.get("/api/v1/themes").status_code == 200
    ports = {seen.peer_port for seen in services["experiments"].seen[-3:]}
    assert len(ports) == 1


def test_calls_go_over_as_few_connections_as_the_load_needs(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    # One at a time from different threads (as a light load arrives): one warm connection.
    for _ in range(4):
        caller = threading.Thread(target=lambda: client.get("/api/v1/themes"))
        caller.start()
        caller.join()
    assert len({seen.peer_port for seen in services["experiments"].seen[-4:]}) == 1
    # At the same time: a connection each, taken again once they are free.
    services["experiments"].delay = 0.2
    for _ in range(2):
        callers = [threading.Thread(target=lambda: client.get("/api/v1/themes")) for _ in "abc"]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
    ports = [seen.peer_port for seen in services["experiments"].seen[-6:]]
    assert len(set(ports[:3])) == 3 and set(ports[3:]) == set(ports[:3])


def test_a_proxy_in_the_environment_is_not_used_for_services(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    assert client.get("/api/v1/themes").json["service"] == "experiments"


def test_hop_by_hop_and_private_headers_are_not_forwarded(client: FlaskClient) -> None:
    answer = client.get(
        "/api/v1/themes",
        headers={
            "Connection": "keep-alive, X-Drop-Me",
            "X-Drop-Me": "secret",
            "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "Basic abc",
            "TE": "trailers",
            "Upgrade": "websocket",
            "X-Internal-Token": "forged",
            "Cookie": "uskalla_session=nope; other=1",
            "X-Forwarded-For": "6.6.6.6",
            "X-Kept": "yes",
        },
    )
    sent = {k.lower(): v for k, v in answer.json["headers"].items()}
    for name in ("x-drop-me", "proxy-authorization", "te", "upgrade", "x-internal-token", "cookie"):
        assert name not in sent, name
    assert sent["x-kept"] == "yes"
    assert sent["x-forwarded-for"] == "127.0.0.1"  # ours, not the client's claim
    # ...and the service's hop-by-hop answer headers do not reach the client.
    assert "X-Secret" not in answer.headers
    assert "Keep-Alive" not in answer.headers


def test_request_id_is_generated_passed_on_and_returned(client: FlaskClient) -> None:
    answer = client.get("/api/v1/themes")
    rid = answer.headers["X-Request-ID"]
    assert uuid.UUID(rid)
    assert answer.json["headers"]["X-Request-ID"] == rid

    mine = client.get("/api/v1/themes", headers={"X-Request-ID": "client-id-42"})
    assert mine.headers["X-Request-ID"] == "client-id-42"
    assert mine.json["headers"]["X-Request-ID"] == "client-id-42"

    insane = client.get("/api/v1/themes", headers={"X-Request-ID": "<script>" + "x" * 200})
    assert insane.headers["X-Request-ID"] != "<script>" + "x" * 200


def test_service_status_and_problem_bodies_are_relayed(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    services["members"].answers[("POST", "/api/v1/members")] = (
        422,
        {"status": 422, "title": "Validation failed", "errors": {"email": ["Not valid."]}},
        {"Content-Type": "application/problem+json"},
    )
    answer = client.post("/api/v1/members", json={"email": "x"})
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    assert answer.json["errors"] == {"email": ["Not valid."]}


def test_a_forked_worker_opens_connections_of_its_own(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    # gunicorn forks its workers from the process that built the app: a connection opened
    # before the fork must not be shared by two processes.
    assert client.get("/api/v1/themes").status_code == 200
    parent_port = services["experiments"].seen[-1].peer_port
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            code = 0 if client.get("/api/v1/themes").status_code == 200 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert services["experiments"].seen[-1].peer_port != parent_port  # the child's own
    assert client.get("/api/v1/themes").status_code == 200
    assert services["experiments"].seen[-1].peer_port == parent_port  # the parent's, still


#: Targets whose path is not in normal form: each could name one path to the gateway and
#: another to a service (libcurl, or the service's own server, would resolve them).
UNCLEAN = [
    "/api/v1/members/../../../metrics",
    "/api/v1/members/%2e%2e/%2e%2e/%2e%2e/metrics",
    "/api/v1/members/%2E%2E/%2e./.%2E/metrics",
    "/api/v1/experiments/..%2f..%2f..%2fmetrics",
    "/api/v1/experiments/%2F..%2Fmetrics",
    "/api/v1/experiments/./themes",
    "/api/v1/experiments/%2e",
    "/api/v1/experiments/x/..",
    "/api/v1//experiments",
    "/api/v1/experiments%5c..%5cmetrics",
    "/api/v1/experiments%5C..%5Cmetrics",
    "/api/v1/experiments\\..\\metrics",
    "/sv//evil.example",
]


@pytest.mark.parametrize("target", UNCLEAN)
def test_a_path_not_in_normal_form_is_refused_before_routing(
    client: FlaskClient, services: dict[str, StubService], target: str
) -> None:
    # The test client would parse the target; the environ holds it as a server would.
    path = unquote(target)
    answer = client.get(
        "/", environ_overrides={"RAW_URI": target, "REQUEST_URI": target, "PATH_INFO": path}
    )
    assert answer.status_code == 400, target
    if target.startswith("/api/"):
        assert answer.mimetype == "application/problem+json"
    assert not [seen for stub in services.values() for seen in stub.seen if seen.path != "/readyz"]


def test_clean_paths_with_dots_and_encodings_still_pass(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    for target in (
        "/api/v1/experiments/feed.atom",
        "/api/v1/experiments.csv",
        "/api/v1/experiments/...",
        "/api/v1/experiments/%252e%252e",  # "%2e%2e" as text: one decoding is no dot segment
        "/api/v1/experiments?q=../../x//y",  # the query is no path
    ):
        assert client.get(target).status_code == 200, target
    assert services["experiments"].seen[-2].path == "/api/v1/experiments/%252e%252e"


def test_libcurl_sends_the_path_as_given(services: dict[str, StubService]) -> None:
    """PATH_AS_IS: libcurl would otherwise resolve dot segments itself, before sending."""
    from gateway.proxy import Upstreams

    upstreams = Upstreams({"members": services["members"].url}, 0.5, 0.5)
    upstreams.request("members", "GET", "/api/v1/members/../../metrics")
    assert services["members"].seen[-1].path == "/api/v1/members/../../metrics"


@pytest.mark.parametrize(
    ("location", "relayed"),
    [
        ("http://members:8000/api/v1/members/me?x=1#top", "/api/v1/members/me?x=1#top"),
        ("http://127.0.0.1:8001/internal/v1/x", "/internal/v1/x"),
        ("https://evil.example//elsewhere", "/elsewhere"),
        ("//evil.example/x", "/x"),
        ("/\\evil.example/x", "/evil.example/x"),
        ("/api/v1/experiments/1", "/api/v1/experiments/1"),
        ("http://127.0.0.1:8080/api/v1/themes", "http://127.0.0.1:8080/api/v1/themes"),
    ],
)
def test_a_redirect_never_names_an_internal_host(
    client: FlaskClient, services: dict[str, StubService], location: str, relayed: str
) -> None:
    """Decision: a Location outside the public address becomes the path it names on this site
    (the services' paths are the public ones), rather than a 502."""
    services["members"].answers[("GET", "/api/v1/members/me")] = (
        302,
        b"",
        {"Location": location},
    )
    answer = client.get("/api/v1/members/me")
    assert answer.status_code == 302
    assert answer.headers["Location"] == relayed


def test_no_metrics_on_the_public_port(
    make_settings: Callable[..., Any], services: dict[str, StubService]
) -> None:
    from gateway import create_app

    client = create_app(make_settings(metrics_port=9464)).test_client()
    public = client.get("/metrics")
    assert public.status_code == 404
    assert public.mimetype == "application/problem+json"
    assert client.get("/api/v1/themes").status_code == 200
    metrics = client.get("/metrics", base_url="http://127.0.0.1:9464")
    assert metrics.status_code == 200
    assert b"http_requests_total" in metrics.data
    # The metrics listener serves nothing else: no way round the public port's checks.
    assert client.get("/api/v1/themes", base_url="http://127.0.0.1:9464").status_code == 404
    assert client.get("/healthz", base_url="http://127.0.0.1:9464").status_code == 404
    assert create_app(make_settings()).test_client().get("/metrics").status_code == 404


def test_a_running_gateway_serves_metrics_only_on_its_metrics_port(
    services: dict[str, StubService], jwt_keys: tuple[Path, Path], redis_url: str
) -> None:
    """gunicorn with two listeners: which one a connection came in on is not a client's say
    (a Host header naming the metrics port changes nothing)."""
    from uskalla_devstack.pytest_plugin import wait_until
    from uskalla_devstack.servers import free_port

    public, metrics = free_port(), free_port()
    env = {
        **os.environ,
        "USKALLA_ENV": "test",
        "GATEWAY_PORT": str(public),
        "METRICS_PORT": str(metrics),
        "REDIS_URL": redis_url,
        "JWT_PUBLIC_KEY_FILE": str(jwt_keys[1]),
        **{f"{name.upper()}_URL": stub.url for name, stub in services.items()},
    }
    gateway = Path(sys.executable).parent / "gateway"
    process = subprocess.Popen(
        [str(gateway), "api", "--host", "127.0.0.1", "--workers", "1", "--threads", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{public}"

        def up() -> bool:
            try:
                return requests.get(f"{base}/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_until(up, timeout=30, message="the gateway")
        assert requests.get(f"{base}/metrics", timeout=5).status_code == 404
        spoofed = requests.get(
            f"{base}/metrics", headers={"Host": f"127.0.0.1:{metrics}"}, timeout=5
        )
        assert spoofed.status_code == 404
        scraped = requests.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5)
        assert scraped.status_code == 200 and b"http_requests_total" in scraped.content
    finally:
        process.terminate()
        process.wait(timeout=30)

"""Gateway overhead: GET /api/v1/experiments through the gateway, through nginx, and straight
to the service.

Starts the experiments API and the gateway as real processes with the same server settings
(gunicorn gthread, WEB_WORKERS x WEB_THREADS), on a fresh migrated database of the benchmark's
own PostgreSQL with published experiments, and beside them Debian's nginx (`/usr/sbin/nginx`,
`apt-get install -y nginx-light`; BENCH_NGINX names another binary) as a real process from a
config generated in the benchmark's temporary directory: as many worker processes as the
gateway has (WEB_WORKERS), `/api/v1/experiments` proxied over HTTP/1.1 with kept-alive
upstream connections (`keepalive`), no access log, the request id, `X-Forwarded-*` and the
stripped `Cookie` / `X-Internal-Token` set as the gateway sets them, and (rate limits on) its
own `limit_req` at the same rate as the gateway's API limit. That is the other road for the
plain API path: an existing proxy carrying it, the Flask gateway keeping pages, composed
answers and the edge rules that need it (docs/benchmarks.md, "Which road"). Where nginx is
not installed the benchmark says so and its figures are NaN ("not met"), never a failure.

It loads the three targets from one client with several threads, each keeping its own
connection, for a fixed number of requests, alternating rounds so all see the same machine.
Prints requests per second, p50 and p99 latency of each, and the ratios to direct; then the
same with one client at a time, where the p50 difference is the cost of the extra hop itself
(under load it is mostly queueing). Target: each proxy keeps at least 0.85 of direct
throughput and adds under 2 ms at p50.

Throughput is a server's capacity: the most requests per second it serves, at whatever
number of concurrent clients gets there. A fixed number of clients measures latency instead
(Little's law: clients / latency), and the extra hop keeps fewer of them waiting at the
service at once. So the load runs at several client counts (BENCH_CLIENT_LEVELS), each
printed, and the throughput ratio compares the highest rate each target reached.

All of it twice, in two CPU layouts (on a machine with at least 2 cores):
- "split", a deployment's shape: the service and its database on cpu 0, the gateway, nginx
  and the benchmark's client on cpu 1; the proxy's work is not taken from the service's CPU,
  as it is not when they run in their own pods;
- "shared": every process free to run anywhere, all competing for the same cores, where the
  throughput ratio is close to the ratio of CPU spent per request with and without the hop.

Beside each figure, the CPU time each process spent per request (the benchmark's own client
threads, the service, the gateway, nginx; gunicorn's and nginx's masters and workers
included; PostgreSQL and Redis not), which is steadier than throughput on a shared machine
and shows where a proxy's cost is.

Rate limits are ON by default, as in production (BENCH_RATE_LIMITS=on): the gateway checks its
API limit (flask-limiter, moving window in Redis: BENCH_API_RATE_LIMIT, high enough not to
refuse) on every request, and answers its RateLimit-* headers; BENCH_RATE_LIMITS=off measures
without (as the other benchmarks run). The closing RESULT lines: `gateway_shared_throughput_ratio`
and `gateway_split_throughput_ratio` (>= 0.85), `gateway_added_p50_ms` (one client, shared
layout; `gateway_split_added_p50_ms` beside it; < 2), `gateway_cpu_ms_per_request` (the
gateway's own CPU per proxied request under load, shared layout; informational <= 1.0), and
the same six for nginx (`nginx_...`).

    .venv/bin/python bench/bench_gateway.py   # TEST_REDIS_URL=redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import requests
import urllib3
from common import percentile, process_tree, result, tree_cpu
from limits import parse as parse_limit
from uskalla_devstack.keys import ensure_dev_keys
from uskalla_devstack.servers import EmbeddedPostgres, ServerSet, create_database, free_port

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1000"))  # per target, round and level
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))  # interleaved, to share out noise
SEQUENTIAL = int(os.environ.get("BENCH_SEQUENTIAL", "300"))  # per target and round, 1 client
LEVELS = [int(n) for n in os.environ.get("BENCH_CLIENT_LEVELS", "8,16,32").split(",")]
WORKERS = os.environ.get("BENCH_WEB_WORKERS", "2")
THREADS = os.environ.get("BENCH_WEB_THREADS", "8")
SEED = int(os.environ.get("BENCH_EXPERIMENTS", "40"))
RATE_LIMITS = os.environ.get("BENCH_RATE_LIMITS", "on")  # as in production
API_RATE_LIMIT = os.environ.get("BENCH_API_RATE_LIMIT", "10000000/minute")
NGINX = Path(os.environ.get("BENCH_NGINX", "/usr/sbin/nginx"))
PATH = "/api/v1/experiments?per_page=20"
BIN = Path(sys.executable).parent
#: The proxies measured against the direct calls, in the order of each round.
PROXIES = ("gateway", "nginx")


def redis_url(work: Path) -> tuple[str, ServerSet]:
    found = ServerSet(work / "servers")
    return found.redis(), found


class OwnPostgres:
    """The benchmark's own PostgreSQL server, so that it can be placed on CPUs as well."""

    def __init__(self, work: Path) -> None:
        self.server = EmbeddedPostgres(work / "pg")
        self.url = self.server.start()

    def place(self, cpus: set[int] | None) -> None:
        """The postmaster and every backend on `cpus` (new backends inherit it)."""
        allowed = cpus or set(range(os.cpu_count() or 1))
        for proc in process_tree(self.server.pid):
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(proc.pid, allowed)

    def close(self) -> None:
        self.server.stop()


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    sink = log.open("wb")
    return subprocess.Popen(
        argv, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_ready(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def nginx_rate(limit: str) -> str:
    """A flask-limiter limit ("10000000/minute") as nginx's `limit_req_zone` rate (r/s)."""
    item = parse_limit(limit)
    return f"{max(1, math.ceil(item.amount / item.get_expiry()))}r/s"


def nginx_config(prefix: Path, port: int, service_port: int) -> Path:
    """nginx's config for the plain API path, as compose would run it in front of a service.

    What it does on `/api/v1/experiments` is what a production nginx would: the request id
    (`$request_id`, sent on and answered), `X-Forwarded-*` from the peer, the client's `Cookie`
    and `X-Internal-Token` never forwarded, HTTP/1.1 with kept-alive upstream connections
    (`Connection` cleared), and with rate limits on a per-client `limit_req` (in nginx's
    shared memory, so per nginx instance, where the gateway's limit is one for all replicas
    in Redis) at the gateway's API rate.
    """
    prefix.mkdir(parents=True, exist_ok=True)
    limited = RATE_LIMITS != "off"
    zone = (
        f"    limit_req_zone $binary_remote_addr zone=api:10m rate={nginx_rate(API_RATE_LIMIT)};\n"
        "    limit_req_status 429;\n"
        if limited
        else ""
    )
    limit = "            limit_req zone=api burst=1000 nodelay;\n" if limited else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""worker_processes {WORKERS};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{zone}    upstream experiments {{
        server 127.0.0.1:{service_port};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location = /nginx-healthz {{
            return 200 "ok\\n";
        }}
        location /api/v1/experiments {{
{limit}            proxy_pass http://experiments;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Request-ID $request_id;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header Cookie "";
            proxy_set_header X-Internal-Token "";
            add_header X-Request-ID $request_id always;
        }}
    }}
}}
"""
    )
    return conf


def nginx_argv(conf: Path, prefix: Path) -> list[str]:
    """nginx in the foreground (master and workers), from `conf`, logging under `prefix`."""
    return [
        str(NGINX),
        "-e",
        str(prefix / "error.log"),
        "-c",
        str(conf),
        "-p",
        str(prefix),
        "-g",
        "daemon off;",
    ]


def seed(base: str, private_key: str) -> int:
    """Published experiments, made through the service's own API as their owner would."""
    now = datetime.now(UTC)
    token = jwt.encode(
        {
            "sub": str(uuid.uuid4()),
            "role": "coordinator",
            "iss": "uskalla-members",
            "aud": "uskalla",
            "iat": now,
            "exp": now + timedelta(minutes=30),
        },
        private_key,
        algorithm="EdDSA",
    )
    headers = {"Authorization": f"Bearer {token}"}
    made = 0
    with requests.Session() as http:
        for i in range(SEED):
            created = http.post(
                f"{base}/api/v1/experiments",
                json={
                    "title": f"Kirjaston itsepalvelukokeilu {i}",
                    "summary": "Kirjasto auki iltaisin ilman henkilökuntaa.",
                    "kind": "experiment",
                    "scale": "small" if i % 2 else "large",
                    "themes": ["digital-municipality"],
                    "municipality_codes": ["049"],
                    "organisation": "Espoon kaupunki",
                },
                headers=headers,
                timeout=10,
            )
            if created.status_code != 201:
                print(f"seeding: {created.status_code} {created.text[:200]}")
                break
            published = http.post(
                f"{base}/api/v1/experiments/{created.json()['id']}/publish",
                headers=headers,
                timeout=10,
            )
            made += published.status_code == 200
    return made


def load(base: str, count: int, clients: int) -> tuple[float, list[float]]:
    """`count` GETs from `clients` threads, each on its own kept-alive connection."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = count // clients
    start_line = threading.Barrier(clients + 1)

    def client() -> None:
        host, port = base.removeprefix("http://").split(":")
        pool = urllib3.HTTPConnectionPool(host, int(port), maxsize=1)
        mine: list[float] = []
        start_line.wait()
        for _ in range(per_client):
            started = time.perf_counter()
            answer = pool.request("GET", PATH)
            mine.append(time.perf_counter() - started)
            if answer.status != 200:
                raise RuntimeError(f"{base}: {answer.status} {answer.data[:200]!r}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies


class Round:
    """Requests and seconds of a target's rounds, with the CPU each process spent on them."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.seconds = 0.0
        self.latencies: list[float] = []
        self.cpu = dict.fromkeys(["client", *pids], 0.0)

    def run(self, base: str, count: int, clients: int) -> None:
        before = self._cpu()
        seconds, latencies = load(base, count, clients)
        after = self._cpu()
        self.seconds += seconds
        self.latencies += latencies
        for name in self.cpu:
            self.cpu[name] += after[name] - before[name]

    def _cpu(self) -> dict[str, float]:
        times = os.times()
        return {"client": times.user + times.system} | {
            name: tree_cpu(pid) for name, pid in self.pids.items()
        }


@dataclass
class Verdict:
    """A layout's figures per proxy: throughput ratio of the highest rates, added p50 with
    one client (ms), and the proxy's own CPU per proxied request under load (ms)."""

    ratio: dict[str, float] = field(default_factory=dict)
    added: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)


#: Where each process may run. "split" is a deployment's shape on this 2-core machine: the
#: service and its database on one core, the proxies (and the load's client) on the other;
#: "shared" lets client, proxies, service and database all compete for both cores,
#: so there a proxy's CPU is taken from the service and the ratio follows CPU per request.
LAYOUTS: dict[str, dict[str, set[int] | None]] = {
    "split": {
        "experiments": {0},
        "database": {0},
        "gateway": {1},
        "nginx": {1},
        "client": {1},
    },
    "shared": {
        "experiments": None,
        "database": None,
        "gateway": None,
        "nginx": None,
        "client": None,
    },
}


def pinned(argv: list[str], cpus: set[int] | None) -> list[str]:
    """`argv` run on `cpus` (taskset): every process and thread it starts stays there."""
    if not cpus:
        return argv
    return ["taskset", "--cpu-list", ",".join(map(str, sorted(cpus))), *argv]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    postgres = OwnPostgres(work)
    rd, found = redis_url(work)
    private, public = ensure_dev_keys(work / "keys")
    database = create_database(postgres.url, "bench_gateway_experiments", drop=True)
    service_port, gateway_port, nginx_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "USKALLA_ENV": "dev",
        "EXPERIMENTS_DATABASE_URL": database,
        "REDIS_URL": rd,
        "JWT_PUBLIC_KEY_FILE": str(public),
        "INTERNAL_API_TOKEN": "bench-internal-token",
        "RATE_LIMITS": RATE_LIMITS,
        "API_RATE_LIMIT": API_RATE_LIMIT,
        "LOG_LEVEL": "WARNING",
        "WEB_WORKERS": WORKERS,
        "WEB_THREADS": THREADS,
        "EXPERIMENTS_URL": f"http://127.0.0.1:{service_port}",
        "MEMBERS_URL": "http://127.0.0.1:9",
        "NOTIFICATIONS_URL": "http://127.0.0.1:9",
    }
    subprocess.run([str(BIN / "experiments"), "migrate"], env=env, check=True, capture_output=True)
    bases = {
        "direct": f"http://127.0.0.1:{service_port}",
        "gateway": f"http://127.0.0.1:{gateway_port}",
        "nginx": f"http://127.0.0.1:{nginx_port}",
    }
    with_nginx = NGINX.is_file() and os.access(NGINX, os.X_OK)
    if not with_nginx:
        bases.pop("nginx")
        print(
            f"nginx: {NGINX} is not installed (apt-get install -y nginx-light); "
            "its figures are skipped (NaN, not met)"
        )
    layouts = LAYOUTS if (os.cpu_count() or 1) >= 2 else {"shared": LAYOUTS["shared"]}
    verdicts: dict[str, Verdict] = {}
    try:
        for number, (layout, cpus) in enumerate(layouts.items()):
            postgres.place(cpus["database"])
            processes = {
                "experiments": start(
                    pinned(
                        [
                            str(BIN / "experiments"),
                            "api",
                            "--host=127.0.0.1",
                            f"--port={service_port}",
                        ],
                        cpus["experiments"],
                    ),
                    env,
                    work / f"experiments-{layout}.log",
                ),
                "gateway": start(
                    pinned(
                        [str(BIN / "gateway"), "api", "--host=127.0.0.1", f"--port={gateway_port}"],
                        cpus["gateway"],
                    ),
                    env,
                    work / f"gateway-{layout}.log",
                ),
            }
            if with_nginx:
                prefix = work / f"nginx-{layout}"
                conf = nginx_config(prefix, nginx_port, service_port)
                processes["nginx"] = start(
                    pinned(nginx_argv(conf, prefix), cpus["nginx"]), env, work / "nginx.log"
                )
            try:
                wait_ready(bases["direct"] + "/readyz")
                wait_ready(bases["gateway"] + "/healthz")
                if with_nginx:
                    wait_ready(bases["nginx"] + "/nginx-healthz")
                if number == 0:
                    made = seed(bases["direct"], private.read_text())
                    items = requests.get(bases["direct"] + PATH, timeout=10).json().get("total")
                    print(
                        f"{made} experiments published ({items} listed); targets "
                        f"{', '.join(bases)}; client threads {', '.join(map(str, LEVELS))}; "
                        f"{REQUESTS} requests x {ROUNDS} rounds per target and client count; "
                        f"servers: {WORKERS} workers x {THREADS} threads each, nginx "
                        f"{WORKERS} worker processes; rate limits {RATE_LIMITS} "
                        f"(API limit {API_RATE_LIMIT})"
                    )
                    if with_nginx:
                        version = subprocess.run(
                            [str(NGINX), "-v"], capture_output=True, text=True, check=False
                        )
                        print(f"nginx: {NGINX}, {version.stderr.strip()}")
                print(f"== CPU layout {layout}: {describe(cpus)}; {loadavg()}")
                pids = {name: process.pid for name, process in processes.items()}
                verdicts[layout] = measure(bases, pids, cpus["client"])
            finally:
                for process in processes.values():
                    process.terminate()
                for process in processes.values():
                    process.wait(20)
                wait_closed(service_port, gateway_port, nginx_port)
    finally:
        found.close()
        postgres.close()
        shutil.rmtree(work, ignore_errors=True)
    summary(verdicts)


def summary(verdicts: dict[str, Verdict]) -> None:
    print("== summary (targets: throughput ratio >= 0.85; added p50, one client, < 2 ms)")
    for layout, verdict in verdicts.items():
        for proxy in verdict.ratio:
            ratio, added = verdict.ratio[proxy], verdict.added[proxy]
            print(
                f"{layout:>6} {proxy:>7}: throughput ratio {ratio:.2f} "
                f"{'OK' if ratio >= 0.85 else 'BELOW'}   added p50 {added:.2f} ms "
                f"{'OK' if added < 2 else 'ABOVE'}   own CPU {verdict.cpu[proxy]:.2f} ms/request"
            )

    def figure(layout: str, kind: str, proxy: str) -> float:
        verdict = verdicts.get(layout)
        if verdict is None:
            return math.nan
        value: float = getattr(verdict, kind).get(proxy, math.nan)
        return value

    for proxy in PROXIES:
        result(
            f"{proxy}_shared_throughput_ratio", figure("shared", "ratio", proxy), "ratio", ">=0.85"
        )
        result(
            f"{proxy}_split_throughput_ratio", figure("split", "ratio", proxy), "ratio", ">=0.85"
        )
        result(f"{proxy}_added_p50_ms", figure("shared", "added", proxy), "ms", "<2")
        result(f"{proxy}_split_added_p50_ms", figure("split", "added", proxy), "ms", "<2")
        result(f"{proxy}_cpu_ms_per_request", figure("shared", "cpu", proxy), "ms", "<=1.0")


def describe(cpus: dict[str, set[int] | None]) -> str:
    return ", ".join(
        f"{name} on {'cpu ' + ','.join(map(str, sorted(c))) if c else 'any cpu'}"
        for name, c in cpus.items()
    )


def wait_closed(*ports: int, timeout: float = 20) -> None:
    """Until nothing listens on `ports` any more (the next layout binds them again)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for port in ports:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return
        time.sleep(0.1)


def measure(bases: dict[str, str], pids: dict[str, int], client_cpus: set[int] | None) -> Verdict:
    """Every target at each client count, then one client at a time: for each proxy the
    throughput ratio of the highest rates, the added p50 with one client and its own CPU per
    request under load."""
    # The client threads are started from this thread and inherit where it may run.
    os.sched_setaffinity(0, client_cpus or set(range(os.cpu_count() or 1)))
    for base in bases.values():  # warm them all: connections, pools, caches
        load(base, max(LEVELS) * 25, max(LEVELS))
    highest = dict.fromkeys(bases, 0.0)
    own_cpu = dict.fromkeys(bases, 0.0)
    proxied = dict.fromkeys(bases, 0)
    for clients in LEVELS:
        results = {name: Round(pids) for name in bases}
        for _ in range(ROUNDS):
            for name, base in bases.items():
                results[name].run(base, max(REQUESTS, clients * 50), clients)
        figures = report(f"{clients} clients", results)
        for name, (rps, _, _) in figures.items():
            highest[name] = max(highest[name], rps)
        for name, rounds in results.items():
            own_cpu[name] += rounds.cpu.get(name, 0.0)
            proxied[name] += len(rounds.latencies)
    verdict = Verdict()
    for proxy in (p for p in PROXIES if p in bases):
        verdict.ratio[proxy] = highest[proxy] / highest["direct"]
        verdict.cpu[proxy] = own_cpu[proxy] / proxied[proxy] * 1000
    print(
        f"throughput (the highest of {len(LEVELS)} client counts): "
        + ", ".join(f"{name} {rps:.0f} req/s" for name, rps in highest.items())
        + "; ratios "
        + ", ".join(f"{proxy} {ratio:.2f}" for proxy, ratio in verdict.ratio.items())
        + " (target >= 0.85)"
    )
    print(
        "own CPU per proxied request under load: "
        + ", ".join(f"{proxy} {cpu:.2f} ms" for proxy, cpu in verdict.cpu.items())
    )
    # Latency without queueing: one client, one request at a time, so the difference
    # at p50 is what the extra hop costs rather than how long requests wait in line.
    quiet = {name: Round(pids) for name in bases}
    for _ in range(ROUNDS):
        for name, base in bases.items():
            quiet[name].run(base, SEQUENTIAL, 1)
    figures = report("one client at a time", quiet)
    for proxy in verdict.ratio:
        verdict.added[proxy] = figures[proxy][1] - figures["direct"][1]
    print(
        "added p50 latency, one client: "
        + ", ".join(f"{proxy} {added:.2f} ms" for proxy, added in verdict.added.items())
        + " (target < 2 ms)"
    )
    print(loadavg())
    return verdict


def loadavg() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def report(title: str, results: dict[str, Round]) -> dict[str, tuple[float, float, float]]:
    """Print the targets' figures; {target: (req/s, p50 ms, p99 ms)}."""
    print(f"-- {title}")
    figures = {}
    for name, rounds in results.items():
        latencies = rounds.latencies
        rps = len(latencies) / rounds.seconds
        p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
        figures[name] = (rps, p50, p99)
        print(
            f"{name:>8}: {rps:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
            f"mean {statistics.fmean(latencies) * 1000:6.2f} ms"
        )
    for name, rounds in results.items():
        per_request = {k: v / len(rounds.latencies) * 1000 for k, v in rounds.cpu.items()}
        spent = "   ".join(f"{k} {v:5.2f}" for k, v in per_request.items())
        print(f"{name:>8}: CPU ms per request: {spent}   all {sum(per_request.values()):5.2f}")
    for proxy in (p for p in PROXIES if p in figures):
        rate = figures[proxy][0] / figures["direct"][0]
        print(
            f"{proxy}/direct: {rate:.2f} of the rate, "
            f"{figures[proxy][1] - figures['direct'][1]:+.2f} ms at p50"
        )
    return figures


if __name__ == "__main__":
    main()

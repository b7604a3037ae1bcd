"""Gateway overhead: GET /api/v1/experiments through the gateway and straight to the service.

Starts the experiments API and the gateway as real processes with the same server settings
(gunicorn gthread, WEB_WORKERS x WEB_THREADS), on a fresh migrated database of the benchmark's
own PostgreSQL with published experiments, then loads both from one client with several
threads, each keeping its own connection, for a fixed number of requests, alternating rounds
so both see the same machine. Prints requests per second, p50 and p99 latency of each, and the
ratios; then the same with one client at a time, where the p50 difference is the cost of the
extra hop itself (under load it is mostly queueing). Target: the gateway keeps at least 0.85
of direct throughput and adds under 2 ms at p50.

Throughput is a server's capacity: the most requests per second it serves, at whatever
number of concurrent clients gets there. A fixed number of clients measures latency instead
(Little's law: clients / latency), and the gateway's extra hop keeps fewer of them waiting at
the service at once. So the load runs at several client counts (BENCH_CLIENT_LEVELS), each
printed, and the throughput ratio compares the highest rate each target reached.

All of it twice, in two CPU layouts (on a machine with at least 2 cores):
- "split", a deployment's shape: the service and its database on cpu 0, the gateway and the
  benchmark's client on cpu 1; the gateway's work is not taken from the service's CPU, as it
  is not when they run in their own pods;
- "shared": every process free to run anywhere, all competing for the same cores, where the
  throughput ratio is close to the ratio of CPU spent per request with and without the hop.

Beside each figure, the CPU time each process spent per request (the benchmark's own client
threads, the service, the gateway; gunicorn masters and workers included; PostgreSQL not),
which is steadier than throughput on a shared machine and shows where the gateway's cost is.
Rate limits are off as for every benchmark (DESIGN.md); BENCH_RATE_LIMITS=on measures the
gateway with its API limit checked in Redis on every request (BENCH_API_RATE_LIMIT, high
enough not to refuse).

    .venv/bin/python bench/bench_gateway.py   # TEST_REDIS_URL=redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import contextlib
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import requests
import urllib3
from common import percentile, process_tree, tree_cpu
from uskalla_devstack.keys import ensure_dev_keys
from uskalla_devstack.servers import EmbeddedPostgres, ServerSet, create_database, free_port

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1000"))  # per target, round and level
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))  # interleaved, to share out noise
SEQUENTIAL = int(os.environ.get("BENCH_SEQUENTIAL", "300"))  # per target and round, 1 client
LEVELS = [int(n) for n in os.environ.get("BENCH_CLIENT_LEVELS", "8,16,32").split(",")]
WORKERS = os.environ.get("BENCH_WEB_WORKERS", "2")
THREADS = os.environ.get("BENCH_WEB_THREADS", "8")
SEED = int(os.environ.get("BENCH_EXPERIMENTS", "40"))
RATE_LIMITS = os.environ.get("BENCH_RATE_LIMITS", "off")
API_RATE_LIMIT = os.environ.get("BENCH_API_RATE_LIMIT", "10000000/minute")
PATH = "/api/v1/experiments?per_page=20"
BIN = Path(sys.executable).parent


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


#: Where each process may run. "split" is a deployment's shape on this 2-core machine: the
#: service and its database on one core, the gateway (and the load's client) on the other;
#: "shared" lets client, gateway, service and database all compete for both cores,
#: so there the gateway's CPU is taken from the service and the ratio follows CPU per request.
LAYOUTS: dict[str, dict[str, set[int] | None]] = {
    "split": {"experiments": {0}, "database": {0}, "gateway": {1}, "client": {1}},
    "shared": {"experiments": None, "database": None, "gateway": None, "client": None},
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
    service_port, gateway_port = free_port(), free_port()
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
    direct = f"http://127.0.0.1:{service_port}"
    gateway = f"http://127.0.0.1:{gateway_port}"
    layouts = LAYOUTS if (os.cpu_count() or 1) >= 2 else {"shared": LAYOUTS["shared"]}
    verdicts: dict[str, tuple[float, float]] = {}
    try:
        for number, (layout, cpus) in enumerate(layouts.items()):
            postgres.place(cpus["database"])
            processes = [
                start(
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
                start(
                    pinned(
                        [str(BIN / "gateway"), "api", "--host=127.0.0.1", f"--port={gateway_port}"],
                        cpus["gateway"],
                    ),
                    env,
                    work / f"gateway-{layout}.log",
                ),
            ]
            try:
                wait_ready(direct + "/readyz")
                wait_ready(gateway + "/healthz")
                if number == 0:
                    made = seed(direct, private.read_text())
                    items = requests.get(direct + PATH, timeout=10).json().get("total")
                    print(
                        f"{made} experiments published ({items} listed); client threads "
                        f"{', '.join(map(str, LEVELS))}; {REQUESTS} requests x {ROUNDS} rounds "
                        f"per target and client count; servers: "
                        f"{WORKERS} workers x {THREADS} threads each; rate limits {RATE_LIMITS}"
                    )
                print(f"== CPU layout {layout}: {describe(cpus)}; {loadavg()}")
                pids = {"experiments": processes[0].pid, "gateway": processes[1].pid}
                verdicts[layout] = measure(direct, gateway, pids, cpus["client"])
            finally:
                for process in processes:
                    process.terminate()
                for process in processes:
                    process.wait(20)
                wait_closed(service_port, gateway_port)
    finally:
        found.close()
        postgres.close()
        shutil.rmtree(work, ignore_errors=True)
    print("== summary (targets: throughput ratio >= 0.85; added p50, one client, < 2 ms)")
    for layout, (ratio, added) in verdicts.items():
        print(
            f"{layout:>6}: throughput ratio {ratio:.2f} {'OK' if ratio >= 0.85 else 'BELOW'}   "
            f"added p50 {added:.2f} ms {'OK' if added < 2 else 'ABOVE'}"
        )


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


def measure(
    direct: str, gateway: str, pids: dict[str, int], client_cpus: set[int] | None
) -> tuple[float, float]:
    """Both targets at each client count, then one client at a time; (throughput ratio of the
    highest rates, added p50 with one client)."""
    # The client threads are started from this thread and inherit where it may run.
    os.sched_setaffinity(0, client_cpus or set(range(os.cpu_count() or 1)))
    load(direct, max(LEVELS) * 25, max(LEVELS))  # warm both: connections, pools, caches
    load(gateway, max(LEVELS) * 25, max(LEVELS))
    targets = (("direct", direct), ("gateway", gateway))
    highest = dict.fromkeys(["direct", "gateway"], 0.0)
    for clients in LEVELS:
        results = {name: Round(pids) for name, _ in targets}
        for _ in range(ROUNDS):
            for name, base in targets:
                results[name].run(base, max(REQUESTS, clients * 50), clients)
        figures = report(f"{clients} clients", results)
        for name, (rps, _, _) in figures.items():
            highest[name] = max(highest[name], rps)
    ratio = highest["gateway"] / highest["direct"]
    print(
        f"throughput (the highest of {len(LEVELS)} client counts): direct "
        f"{highest['direct']:.0f} req/s, gateway {highest['gateway']:.0f} req/s; ratio "
        f"{ratio:.2f} (target >= 0.85)  {'OK' if ratio >= 0.85 else 'BELOW TARGET'}"
    )
    # Latency without queueing: one client, one request at a time, so the difference
    # at p50 is what the extra hop costs rather than how long requests wait in line.
    quiet = {name: Round(pids) for name, _ in targets}
    for _ in range(ROUNDS):
        for name, base in targets:
            quiet[name].run(base, SEQUENTIAL, 1)
    figures = report("one client at a time", quiet)
    added = figures["gateway"][1] - figures["direct"][1]
    print(
        f"added p50 latency, one client: {added:.2f} ms (target < 2 ms)  "
        f"{'OK' if added < 2 else 'ABOVE TARGET'}"
    )
    print(loadavg())
    return ratio, added


def loadavg() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def report(title: str, results: dict[str, Round]) -> dict[str, tuple[float, float, float]]:
    """Print a target pair's figures; {target: (req/s, p50 ms, p99 ms)}."""
    print(f"-- {title}")
    figures = {}
    for name, result in results.items():
        latencies = result.latencies
        rps = len(latencies) / result.seconds
        p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
        figures[name] = (rps, p50, p99)
        print(
            f"{name:>8}: {rps:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
            f"mean {statistics.fmean(latencies) * 1000:6.2f} ms"
        )
    for name, result in results.items():
        per_request = {k: v / len(result.latencies) * 1000 for k, v in result.cpu.items()}
        spent = "   ".join(f"{k} {v:5.2f}" for k, v in per_request.items())
        print(f"{name:>8}: CPU ms per request: {spent}   all {sum(per_request.values()):5.2f}")
    rate = figures["gateway"][0] / figures["direct"][0]
    print(
        f"gateway/direct: {rate:.2f} of the rate, "
        f"{figures['gateway'][1] - figures['direct'][1]:+.2f} ms at p50"
    )
    return figures


if __name__ == "__main__":
    main()

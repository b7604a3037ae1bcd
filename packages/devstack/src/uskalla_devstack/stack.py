"""The whole system as local processes: each service's API, worker and relay, and the gateway.

`make dev` and the end-to-end tests both use it; a test can kill and restart any process.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import requests

from uskalla_devstack.servers import create_database, free_port

SERVICES = ("members", "experiments", "notifications")
ROLES = ("api", "worker", "relay")
#: Notifications' bounce receiver (SMTP), the one process only one service has.
BOUNCES = "notifications-bounces"
#: Every child started here that may still run: killed when this interpreter exits, so that a
#: test run stopped half-way (a timeout, Ctrl-C) leaves no service consuming from its Redis.
_RUNNING: set[Process] = set()


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_RUNNING):
        process.send_signal(signal.SIGKILL)


@dataclass
class StackConfig:
    """Where the stack's servers are and how it is laid out."""

    postgres_url: str  # a server URL; each service gets its own database on it
    redis_url: str
    smtp_host: str
    smtp_port: int
    var_dir: Path
    gateway_port: int = 8080
    #: Where notifications' bounce receiver listens (0: a free port).
    bounce_port: int = 0
    service_ports: dict[str, int] = field(default_factory=dict)
    database_prefix: str = "uskalla_"
    database_urls: dict[str, str] = field(default_factory=dict)  # given ones win
    fresh_databases: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    echo: bool = True

    def port(self, service: str) -> int:
        if service not in self.service_ports:
            self.service_ports[service] = free_port()
        return self.service_ports[service]


class Process:
    """One supervised child process whose output is prefixed with its name."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log: Path, echo: bool
    ) -> None:
        self.name, self.argv, self.env, self.log, self.echo = name, argv, env, log, echo
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _RUNNING.add(self)
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()

    def _pump(self, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        with stream, self.log.open("ab") as sink:
            for line in stream:
                sink.write(line)
                sink.flush()
                if self.echo:
                    sys.stdout.write(f"{self.name:>22} | {line.decode(errors='replace')}")
                    sys.stdout.flush()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig: int) -> None:
        """Signal the whole process group (gunicorn's and celery's children too)."""
        if self.alive():
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float = 15.0) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        _RUNNING.discard(self)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self.send_signal(sig)
        self.wait()

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def restart(self) -> None:
        self.kill()
        self.start()


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, Process] = {}
        self.metrics_ports: dict[str, int] = {}
        self.env: dict[str, str] = {}

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.config.gateway_port}"

    def service_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.config.port(service)}"

    def prepare(self) -> None:
        """Databases, keys and environment; then every schema migrated."""
        from uskalla_devstack.keys import ensure_dev_keys

        c = self.config
        run_dir = c.var_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        private, public = ensure_dev_keys(c.var_dir / "keys")
        env = {**os.environ, "USKALLA_ENV": "dev", "PYTHONUNBUFFERED": "1"}
        env.update(
            {
                "REDIS_URL": c.redis_url,
                "JWT_PRIVATE_KEY_FILE": str(private),
                "JWT_PUBLIC_KEY_FILE": str(public),
                "INTERNAL_API_TOKEN": env.get("INTERNAL_API_TOKEN", "dev-internal-token"),
                "SMTP_HOST": c.smtp_host,
                "SMTP_PORT": str(c.smtp_port),
                "MAIL_FROM": env.get("MAIL_FROM", "MeUskaltajat <noreply@uskalla.localhost>"),
                "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", f"http://127.0.0.1:{c.gateway_port}"),
                "GATEWAY_PORT": str(c.gateway_port),
                "BOUNCE_DOMAIN": env.get("BOUNCE_DOMAIN", "bounces.uskalla.localhost"),
                "BOUNCE_SMTP_HOST": "127.0.0.1",
                "BOUNCE_SMTP_PORT": str(c.bounce_port or free_port()),
            }
        )
        for service in SERVICES:
            key = f"{service.upper()}_DATABASE_URL"
            url = c.database_urls.get(service) or create_database(
                c.postgres_url, f"{c.database_prefix}{service}", drop=c.fresh_databases
            )
            env[key] = url
            env[f"{service.upper()}_URL"] = self.service_url(service)
        env.update(c.extra_env)
        self.env = env
        with ThreadPoolExecutor(len(SERVICES)) as pool:
            list(pool.map(self._migrate, SERVICES))

    def _migrate(self, service: str) -> None:
        result = subprocess.run(
            [_script(service), "migrate"],
            env=self.env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        if result.returncode:
            raise RuntimeError(
                f"{service} migrate failed:\n{result.stdout.decode()}{result.stderr.decode()}"
            )

    def _add(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        """A process with its own free `METRICS_PORT` (kept across restarts)."""
        log = self.config.var_dir / "log" / f"{name}.log"
        port = self.metrics_ports.setdefault(name, free_port())
        env = {**(env or self.env), "METRICS_PORT": str(port)}
        self.processes[name] = Process(name, argv, env, log, self.config.echo)

    def metrics_url(self, name: str) -> str:
        """Where the process `name` (say `members-relay`) serves its Prometheus metrics."""
        return f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"

    def start(self) -> None:
        if not self.env:
            self.prepare()
        run_dir = self.config.var_dir / "run"
        for service in SERVICES:
            script = _script(service)
            self._add(
                f"{service}-api",
                [script, "api", "--host", "127.0.0.1", "--port", str(self.config.port(service))],
            )
            self._add(
                f"{service}-worker",
                [script, "worker"],
                {**self.env, "WORKER_HEARTBEAT_FILE": str(run_dir / f"{service}-worker.hb")},
            )
            self._add(
                f"{service}-relay",
                [script, "relay"],
                {**self.env, "RELAY_HEARTBEAT_FILE": str(run_dir / f"{service}-relay.hb")},
            )
        self._add(BOUNCES, [_script("notifications"), "bounces"])
        self._add(
            "gateway",
            [
                _script("gateway"),
                "api",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.config.gateway_port),
            ],
        )
        for process in self.processes.values():
            process.start()
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        urls = [self.service_url(s) + "/readyz" for s in SERVICES] + [self.gateway_url + "/readyz"]
        for url in urls:
            while True:
                try:
                    if requests.get(url, timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{url} not ready after {timeout}s; see {self.config.var_dir}/log"
                    )
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM to every process at once, then wait for each to finish its shutdown."""
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            process.wait()

    def __iter__(self) -> Iterator[Process]:
        return iter(self.processes.values())


def _script(name: str) -> str:
    """A console script of this environment (the services are separate programs)."""
    return str(Path(sys.executable).parent / name)

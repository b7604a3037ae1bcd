"""The processes a service runs: its HTTP API (gunicorn), its Celery worker and its relay."""

from __future__ import annotations

import json
import logging
import socket
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

from celery import Celery, bootsteps
from celery.signals import setup_logging, task_postrun
from flask import Flask
from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from prometheus_client import Counter

from uskalla_kit.problems import PROBLEM_JSON, Problem, problem_document

log = logging.getLogger(__name__)
TASKS = Counter("uskalla_tasks", "Celery tasks run, by name and final state", ["task", "state"])
#: gunicorn's heartbeat files belong in memory (the root filesystem may be read-only).
SHM = "/dev/shm"  # noqa: S108


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def write_problem(sock: socket.socket, status: int, reason: str, message: str) -> None:
    """gunicorn's answer to a request it could not parse (or an app that failed outside its
    error handlers), as the RFC 9457 problem document every other error is, not HTML. The
    title is the status's own phrase (gunicorn calls its 501 "Bad Request")."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = reason
    body = json.dumps(problem_document(Problem(status, title, message or None))).encode()
    head = (
        f"HTTP/1.1 {status} {title}\r\nConnection: close\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


def serve_api(
    app: Flask, host: str, port: int, workers: int, threads: int, *, also_port: int | None = None
) -> None:
    """Serve a WSGI app with gunicorn's threaded workers; SIGTERM drains gracefully.

    `also_port`: a second listener on the same host (say, for metrics only; the app tells the
    two apart by the request's `SERVER_PORT`)."""
    # The workers call gunicorn.util.write_error for every error they answer themselves
    # (bad framing, a request line or headers too long): the one place to make those problems.
    gunicorn_util.write_error = write_problem
    _Gunicorn(
        app,
        {
            "bind": [f"{host}:{p}" for p in (port, also_port) if p],
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "graceful_timeout": 20,
            "timeout": 60,
            "keepalive": 30,
            "accesslog": None,
            "control_socket_disable": True,
            "limit_request_line": 8190,  # the apps answer 414 as a problem from 8000 on
            "worker_tmp_dir": SHM if Path(SHM).is_dir() else None,
        },
    ).run()


def heartbeat_step(path: str, every: float = 10.0) -> type[bootsteps.StartStopStep]:
    """A worker bootstep that touches `path` from the consumer's timer: a liveness signal
    that stops when the worker's event loop stops (not `celery inspect ping`)."""

    class Heartbeat(bootsteps.StartStopStep):  # type: ignore[misc]
        requires = {"celery.worker.components:Timer"}

        def start(self, worker: Any) -> None:
            Path(path).touch()
            worker.timer.call_repeatedly(every, lambda: Path(path).touch(), priority=10)

    return Heartbeat


def run_worker(celery: Celery, queues: list[str], concurrency: int, heartbeat: str | None) -> None:
    @setup_logging.connect(weak=False)  # type: ignore[untyped-decorator]
    def _keep_our_logging(**_: Any) -> None:  # our JSON logging stays in charge
        pass

    @task_postrun.connect(weak=False)  # type: ignore[untyped-decorator]
    def _count(task: Any = None, state: str | None = None, **_: Any) -> None:
        TASKS.labels(getattr(task, "name", "unknown"), state or "UNKNOWN").inc()

    if heartbeat:
        celery.steps["worker"].add(heartbeat_step(heartbeat))
    celery.worker_main(
        [
            "worker",
            "--queues",
            ",".join(queues),
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            f"{celery.main}@%h",
            "--loglevel",
            logging.getLevelName(logging.getLogger().level),
        ]
    )


def wait_for(check: Any, what: str, timeout: float = 60.0) -> None:
    """Retry `check()` until it stops raising (a dependency coming up), or give up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise
            log.info("waiting for %s: %s", what, exc)
            time.sleep(1)


__all__ = ["run_worker", "serve_api", "wait_for"]

"""Footprint of `make dev`: seconds until the gateway is ready, and the whole stack's memory.

Starts the stack the way `make dev` does (`uv run --frozen --all-packages uskalla-dev`, after
`make install`; `--no-sync` here so that a benchmark never changes the environment), on a fresh
`--var` directory and with no database, Redis or SMTP URL in its environment, so that it starts
its embedded PostgreSQL and Redis and its mail sink as on a developer's machine. Times from the
launch until the gateway's `/readyz` answers 200, lets the stack settle (BENCH_SETTLE_SECONDS,
default 10: the workers' and relays' first sweeps), then sums the proportional set size (PSS,
`/proc/<pid>/smaps_rollup`: shared pages divided among the processes sharing them, so the sum
is what the stack really holds) over every process it started: the launcher's whole process
tree and the embedded PostgreSQL's (pgserver's postmaster detaches from it), every backend
included. Prints each process and the total, then stops the stack with SIGTERM as Ctrl-C would
and kills, by pid, whatever is still running after BENCH_STOP_SECONDS.

The service ports of `make dev` are fixed (8001 to 8003): when something already listens there
the benchmark measures nothing and says so (its RESULT lines `nan ... not met`). The others
(gateway, Redis, SMTP, mail page) are free ports.

    .venv/bin/python bench/bench_footprint.py   # BENCH_SETTLE_SECONDS=10 BENCH_READY_TIMEOUT=120
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests
from common import machine, process_tree, result
from uskalla_devstack.servers import free_port

ROOT = Path(__file__).parents[1]
SETTLE = float(os.environ.get("BENCH_SETTLE_SECONDS", "10"))
READY_TIMEOUT = float(os.environ.get("BENCH_READY_TIMEOUT", "120"))
STOP_SECONDS = float(os.environ.get("BENCH_STOP_SECONDS", "30"))
SERVICE_PORTS = (8001, 8002, 8003)  # uskalla_devstack.run's, not settable
#: What `make dev` would otherwise take from the environment instead of starting it.
POINTED_ELSEWHERE = ("REDIS_URL", "SMTP_HOST", "SMTP_PORT")
MIB = 2**20


@dataclass(frozen=True)
class Footprint:
    pid: int
    role: str
    pss: int  # bytes
    rss: int  # bytes


def launcher(var: Path) -> list[str]:
    """The command `make dev` runs (its RUN), or the console script when uv is missing."""
    uv = shutil.which("uv")
    command = [uv] if uv else [sys.executable, "-m", "uv"]
    probe = subprocess.run([*command, "--version"], capture_output=True, check=False)
    if probe.returncode != 0:
        return [str(Path(sys.executable).parent / "uskalla-dev"), "--var", str(var)]
    run = ["run", "--frozen", "--all-packages", "--no-sync", "uskalla-dev"]
    return [*command, *run, "--var", str(var)]


def environment() -> tuple[dict[str, str], int]:
    """This environment without anything pointing at servers, and free ports; the gateway's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("_DATABASE_URL") and key not in POINTED_ELSEWHERE
    }
    gateway = free_port()
    env |= {
        "GATEWAY_PORT": str(gateway),
        "DEV_REDIS_PORT": str(free_port()),
        "DEV_SMTP_PORT": str(free_port()),
        "DEV_MAIL_PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
    }
    return env, gateway


def busy(ports: tuple[int, ...]) -> list[int]:
    listening = {
        c.laddr.port for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN
    }
    return [port for port in ports if port in listening]


def wait_ready(url: str, launched: psutil.Popen, began: float) -> float:
    """Seconds from the launch until `url` answers 200."""
    while True:
        with suppress(requests.RequestException):
            if requests.get(url, timeout=1).status_code == 200:
                return time.monotonic() - began
        if launched.poll() is not None:
            raise RuntimeError(f"uskalla-dev exited ({launched.returncode}) before it was ready")
        if time.monotonic() - began > READY_TIMEOUT:
            raise TimeoutError(f"{url} not ready after {READY_TIMEOUT:.0f} s")
        time.sleep(0.05)


def stack_processes(root: int, var: Path) -> list[psutil.Process]:
    """The launcher's tree and the embedded PostgreSQL's (its postmaster and backends)."""
    found = {p.pid: p for p in process_tree(root)}
    postmaster = var / "pg" / "postmaster.pid"
    if postmaster.exists():
        pid = int(postmaster.read_text().split("\n", 1)[0])
        found |= {p.pid: p for p in process_tree(pid)}
    return list(found.values())


def role(proc: psutil.Process, var: Path) -> str:
    """A short name: the program and what it runs (`members worker`, `postgres: checkpointer`)."""
    with suppress(psutil.Error):
        argv = proc.cmdline()
        name = proc.name()
        if name in ("postgres", "postmaster") or (argv and argv[0].startswith("postgres")):
            return " ".join(argv)[:48] if argv and argv[0].startswith("postgres:") else "postgres"
        if "redis-server" in name:
            return "redis-server"
        programs = [Path(a).name for a in argv if not a.startswith("-")]
        for i, program in enumerate(programs):
            if program in ("members", "experiments", "notifications", "gateway") and i + 1 < len(
                programs
            ):
                return f"{program} {programs[i + 1]}"
            if program in ("uskalla-dev", "uv"):
                return program if program == "uskalla-dev" else "uv run"
        return " ".join(programs)[:48].replace(str(var), "<var>")
    return "(gone)"


def footprint(proc: psutil.Process, var: Path) -> Footprint | None:
    """PSS and RSS from /proc/<pid>/smaps_rollup (None once the process is gone)."""
    try:
        fields = {}
        for line in Path(f"/proc/{proc.pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, value, *_ = line.split()
            fields[key.rstrip(":")] = int(value) * 1024
        return Footprint(proc.pid, role(proc, var), fields["Pss"], fields["Rss"])
    except (OSError, KeyError, ValueError):
        return None


def stop(launched: psutil.Popen, everything: list[psutil.Process]) -> list[int]:
    """SIGTERM as Ctrl-C would; then SIGKILL, by pid, to any process of the stack still there."""
    with suppress(psutil.Error):
        launched.send_signal(signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        launched.wait(STOP_SECONDS)
    _, alive = psutil.wait_procs(everything, timeout=5)
    for proc in alive:
        with suppress(psutil.Error):
            proc.kill()
    return [p.pid for p in alive]


def main() -> int:
    print(f"footprint of `make dev`: {machine()}", flush=True)
    taken = busy(SERVICE_PORTS)
    if taken:  # not measured, said so in the RESULT lines; `make bench` goes on
        print(f"ports {taken} are in use (`make dev` running?): the stack cannot start here")
        result("footprint_dev_ready_s", math.nan, "s", "<30")
        result("footprint_dev_pss_total_mib", math.nan, "MiB", "<=1024")
        return 0
    work = Path(tempfile.mkdtemp(prefix="uskalla-bench-footprint-"))
    var = work / "var"
    env, gateway = environment()
    command = launcher(var)
    print("$ " + " ".join(Path(command[0]).name if i == 0 else a for i, a in enumerate(command)))
    log = (work / "uskalla-dev.log").open("wb")
    began = time.monotonic()
    launched = psutil.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    everything: list[psutil.Process] = []
    try:
        ready = wait_ready(f"http://127.0.0.1:{gateway}/readyz", launched, began)
        print(f"gateway ready {ready:.1f} s after the launch; settling {SETTLE:.0f} s", flush=True)
        time.sleep(SETTLE)
        everything = stack_processes(launched.pid, var)
        measured = [f for f in (footprint(p, var) for p in everything) if f is not None]
    except BaseException:
        print((work / "uskalla-dev.log").read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        everything = everything or stack_processes(launched.pid, var)
        left = stop(launched, everything)
        log.close()
        if left:
            print(f"killed what did not stop within {STOP_SECONDS:.0f} s: pids {left}")
        shutil.rmtree(work, ignore_errors=True)
    measured.sort(key=lambda f: (f.role, f.pid))
    print(f"\n{'process':<50} {'pid':>8} {'PSS MiB':>8} {'RSS MiB':>8}")
    for f in measured:
        print(f"{f.role:<50} {f.pid:>8} {f.pss / MIB:>8.1f} {f.rss / MIB:>8.1f}")
    total, rss = sum(f.pss for f in measured), sum(f.rss for f in measured)
    print(f"{'all ' + str(len(measured)) + ' processes':<50} {'':>8} {total / MIB:>8.1f}"
          f" {rss / MIB:>8.1f}  (RSS counts shared pages once per process)")  # fmt: skip
    by_kind: dict[str, int] = {}
    for f in measured:
        kind = "PostgreSQL" if f.role.startswith("postgres") else f.role.split(" ")[0]
        by_kind[kind] = by_kind.get(kind, 0) + f.pss
    print("by program: " + ", ".join(f"{k} {v / MIB:.0f}" for k, v in sorted(by_kind.items())))
    result("footprint_dev_ready_s", ready, "s", "<30")
    result("footprint_dev_pss_total_mib", total / MIB, "MiB", "<=1024")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Container health check shared by every Uskalla image: looks at what PID 1 runs.

- `<svc> api` / `gateway api`: GET /healthz on the local port (liveness, no dependencies).
- `<svc> worker` / `<svc> relay`: the heartbeat file was touched recently.
- `uskalla-mailsink`: GET /healthz on the HTTP port.
- `notifications bounces`: the SMTP port (BOUNCE_SMTP_PORT) greets with 220.
- anything else (a one-shot such as `migrate`): healthy while it runs.

Usage: healthcheck.py [api|worker|relay|bounces|mailsink|auto] [--max-age SECONDS]
(default auto, from /proc/1/cmdline; the heartbeat age limit defaults to HEARTBEAT_MAX_AGE or 60)
"""

import os
import socket
import sys
import time
import urllib.request
from pathlib import Path


def _argv_of_pid1() -> list[str]:
    try:
        raw = Path("/proc/1/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _option(argv: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def _http_ok(port: str) -> int:
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {url}: {exc}")
        return 1


def _smtp_ok(port: str) -> int:
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=3) as sock:
            greeting = sock.recv(512)
            sock.sendall(b"QUIT\r\n")
    except OSError as exc:
        print(f"unhealthy: SMTP on port {port}: {exc}")
        return 1
    return 0 if greeting.startswith(b"220") else 1


def _fresh(path: str, max_age: float) -> int:
    try:
        age = time.time() - Path(path).stat().st_mtime
    except OSError:
        print(f"unhealthy: no heartbeat file {path}")
        return 1
    if age > max_age:
        print(f"unhealthy: heartbeat {path} is {age:.0f} s old (max {max_age:.0f})")
        return 1
    return 0


def main() -> int:
    argv = _argv_of_pid1()
    args = sys.argv[1:]
    max_age = float(_option(args, "--max-age", os.environ.get("HEARTBEAT_MAX_AGE", "60")))
    mode = args[0] if args and not args[0].startswith("--") else "auto"
    if mode == "auto":
        words = {os.path.basename(a) for a in argv}
        for candidate in ("api", "worker", "relay", "bounces"):
            if candidate in words:
                mode = candidate
                break
        else:
            mode = "mailsink" if any("mailsink" in a for a in argv) else "oneshot"
    if mode == "api":
        return _http_ok(_option(argv, "--port", os.environ.get("PORT", "8000")))
    if mode == "worker":
        return _fresh(os.environ.get("WORKER_HEARTBEAT_FILE", "/tmp/worker-heartbeat"), max_age)  # noqa: S108
    if mode == "relay":
        return _fresh(os.environ.get("RELAY_HEARTBEAT_FILE", "/tmp/relay-heartbeat"), max_age)  # noqa: S108
    if mode == "bounces":
        return _smtp_ok(os.environ.get("BOUNCE_SMTP_PORT", "2526"))
    if mode == "mailsink":
        return _http_ok(_option(argv, "--http-port", "8025"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A run that ends without stopping its processes (a timeout, Ctrl-C) leaves none running."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = """
import sys
from pathlib import Path
from uskalla_devstack.stack import Process

p = Process("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"], {}, Path(sys.argv[1]), False)
p.start()
print(p.pid, flush=True)
raise SystemExit(3)  # ends without p.stop()
"""


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


def test_children_die_with_the_interpreter_that_started_them(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "log")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)

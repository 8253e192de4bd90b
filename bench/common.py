"""Small helpers shared by the benchmarks: timing, medians, a private state home."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
TB = [str(Path(PY).parent / "termbridge")] if (Path(PY).parent / "termbridge").exists() else [PY, "-m", "termbridge"]


def median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run(argv, env=None, **kw):
    return subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, **kw)


def private_env() -> tuple[Path, dict]:
    d = Path(tempfile.mkdtemp(prefix="tb-bench-", dir="/tmp"))
    env = dict(os.environ, TERMBRIDGE_HOME=str(d / "home"), TERMBRIDGE_CONFIG=str(d / "none.yaml"))
    for k in ("TMUX", "TMUX_PANE", "KITTY_LISTEN_ON", "TERMBRIDGE_KITTY_SOCKET"):
        env.pop(k, None)
    env["TMUX_TMPDIR"] = str(d)  # resolution also lists this user's tmux servers: keep benches off the real ones
    return d, env


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {sys.version.split()[0]}"

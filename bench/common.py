"""Small helpers shared by the benchmarks: timing, medians, a private state home."""

from __future__ import annotations

import json
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


# ---------------------------------------------------------------- the CLI, as a bench drives it
def tb(*args: str) -> subprocess.CompletedProcess:
    """`termbridge ARGS` in this process's environment, its output captured."""
    return subprocess.run([*TB, *args], capture_output=True, text=True)


def tbj(*args: str) -> dict:
    """`termbridge ARGS --json`, parsed; the bench stops on an error."""
    p = tb(*args, "--json")
    if p.returncode != 0:
        raise SystemExit(f"termbridge {' '.join(args)}: {p.stderr}")
    return json.loads(p.stdout)


def wait(fn, seconds: float = 60.0, step: float = 0.01):
    """FN's first truthy value within SECONDS; the bench stops when none came."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    raise SystemExit(f"timed out waiting for {getattr(fn, '__name__', fn)}")


def status_row(name: str) -> dict | None:
    """NAME's row of `status --json` (None when it has none)."""
    return next((s for s in tbj("status")["sessions"] if s["name"] == name), None)


# ---------------------------------------------------------------- CPU from /proc
HZ = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int, children: bool = True) -> int:
    """utime+stime (and the reaped children's, CHILDREN) of PID; 0 once it is gone."""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(f[11]) + int(f[12]) + ((int(f[13]) + int(f[14])) if children else 0)


def cpu_window(pids_fn, other: int, seconds: float) -> tuple[float, float]:
    """(% of one core of the processes PIDS_FN names, with their reaped children; OTHER's own %)
    over SECONDS (OTHER: the terminal server or kitty, whose extra work counts too)."""
    pids = pids_fn()
    t0, s0, w0 = sum(cpu_ticks(p) for p in pids), cpu_ticks(other, False), time.monotonic()
    time.sleep(seconds)
    pids2 = pids_fn()
    if set(pids2) != set(pids):
        print(f"   (the waiting processes changed during the window: {len(pids)} -> {len(pids2)})")
    t1, s1, w1 = sum(cpu_ticks(p) for p in pids), cpu_ticks(other, False), time.monotonic()
    return (t1 - t0) / HZ / (w1 - w0) * 100, (s1 - s0) / HZ / (w1 - w0) * 100
